"""Recruitment: applications with PDF uploads and the candidate's private link."""

from __future__ import annotations

import io
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvd_survey import links, mail, notifications
from pvd_survey.accounts import normalise_email
from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError, FieldChecks
from pvd_survey.models import ApplicationFile, JobApplication, JobPosting
from pvd_survey.recruitment.board import get_public_posting
from pvd_survey.recruitment.common import (
    _SAFE_NAME,
    PDF_MAX_BYTES,
    _clean_text,
    _one_line,
    _page_link,
)
from pvd_survey.recruitment.postings import _organisation_name
from pvd_survey.vocabulary import APPLICATION_STATUS_LABELS


@dataclass(frozen=True)
class Upload:
    """An uploaded file as received (name given by the browser, bytes)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class ApplicationInput:
    """The application form."""

    full_name: str
    email: str
    phone: str = ""
    cv: Upload | None = None
    letter: Upload | None = None
    letter_text: str = ""
    consent_privacy: bool = False
    consent_contact: bool = False


@dataclass(frozen=True)
class ApplicationReceipt:
    """What the candidate is shown (and the token, which only goes into the e-mail)."""

    reference: str
    posting_title: str
    email: str
    token: str


def safe_display_name(name: str) -> str:
    """The name a PDF upload is stored and downloaded under: harmless text, one dot, `.pdf`, 100 characters at most."""
    base = unicodedata.normalize("NFC", name or "")
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")  # controls, bidi overrides...
    stem = _SAFE_NAME.sub("_", base).strip(" ")
    if stem.lower().endswith(".pdf"):
        stem = stem[:-4]
    # Every other dot goes: no `cv.exe.pdf` or `a.html.pdf` that a program or a person could read as another type.
    stem = stem.strip(" .").replace(".", "_")[:96].rstrip(" ")
    return f"{stem or 'document'}.pdf"


def check_pdf(upload: Upload | None, field: str) -> Upload:
    """Refuse anything that is not a real PDF of at most 5 MB with a plain file name."""
    if upload is None:
        raise DomainError("file_required", field=field)
    name = upload.name or ""
    if "/" in name or "\\" in name or ".." in name or "\x00" in name:
        raise DomainError("file_bad_name", field=field)
    data = upload.data or b""
    if not data:
        raise DomainError("file_empty", field=field)
    if len(data) > PDF_MAX_BYTES:
        raise DomainError("file_too_large", field=field, maximum="5 Mo")
    if not data.startswith(b"%PDF-"):
        raise DomainError("file_not_pdf", field=field)
    from pypdf import PdfReader  # (here: imported by the first application, not by every server start)

    try:
        pages = len(PdfReader(io.BytesIO(data), strict=False).pages)
    except Exception:  # pypdf raises many kinds of errors on broken files
        pages = 0
    if pages < 1:
        raise DomainError("file_broken_pdf", field=field)
    return Upload(safe_display_name(name), data)


def normalise_phone(raw: str | None) -> str | None:
    """A French or international phone number in E.164 form (None when empty)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        raise DomainError("invalid_phone", field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise DomainError("invalid_phone", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class _ApplicantValues(TypedDict):
    """The validated columns of a new application that come from the form."""

    full_name: str
    email: str
    phone: str | None
    cover_letter_text: str | None
    consent_contact: bool


def _validate_application(data: ApplicationInput) -> tuple[_ApplicantValues, Upload, Upload | None]:
    """Every field checked, every problem reported at once (FieldChecks)."""
    checks = FieldChecks()
    full_name = _one_line(data.full_name, 200)
    with checks:
        if not full_name:
            raise DomainError("applicant_name_required", field="full_name")
    with checks:
        email = normalise_email(data.email)
    with checks:
        phone = normalise_phone(data.phone)
    with checks:
        cv = check_pdf(data.cv, "cv")
    with checks:
        letter = check_pdf(data.letter, "letter") if data.letter is not None else None
    with checks:
        if not data.consent_privacy:
            raise DomainError("consent_required", field="consent_privacy")
    checks.raise_errors()
    values: _ApplicantValues = {
        "full_name": full_name,
        "email": email,
        "phone": phone,
        "cover_letter_text": _clean_text(data.letter_text, 10_000) or None,
        "consent_contact": bool(data.consent_contact),
    }
    return values, cv, letter


def _store_file(session: Session, application_id: int, kind: str, upload: Upload) -> None:
    session.execute(
        delete(ApplicationFile).where(ApplicationFile.application_id == application_id, ApplicationFile.kind == kind)
    )
    session.add(
        ApplicationFile(
            application_id=application_id,
            kind=kind,
            storage_name=str(uuid.uuid4()),
            display_name=upload.name,
            size=len(upload.data),
            content=upload.data,
        )
    )


def _new_reference() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "PVD-" + "".join(secrets.choice(alphabet) for _ in range(8))


def _send_application_link(
    session: Session, settings: Settings, email: str, name: str, title: str, reference: str, token: str, again: bool
) -> None:
    link = _page_link(settings, "application", token)
    mail.enqueue(
        session,
        recipient=email,
        subject=f"Votre candidature {reference} : {title}",
        body=(
            f"Bonjour {name},\n\n"
            + (
                "Vous avez demandé un nouveau lien pour votre candidature"
                if again
                else "Nous avons bien reçu votre candidature"
            )
            + f" au poste « {title} » (référence {reference}).\n\n"
            f"Votre lien personnel, pour suivre votre candidature, la compléter ou la retirer "
            f"(ne le transmettez pas) :\n{link}\n\n"
            "Vos données ne sont vues que par l'employeur de ce poste. Elles sont supprimées trois mois après la "
            "clôture du poste, sauf si vous avez accepté d'être contacté·e pour d'autres postes (deux ans).\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="application_received" if not again else "application_link",
        link=link,
    )


def apply(
    session: Session, posting_id: int, data: ApplicationInput, settings: Settings, now: datetime | None = None
) -> ApplicationReceipt:
    """Store an application and its PDFs, and e-mail the candidate a private link. Nothing is stored on error."""
    now = now or utcnow()
    values, cv, letter = _validate_application(data)
    posting = get_public_posting(session, posting_id, now)
    # The posting row's share lock: a close (FOR UPDATE, or the deadline's UPDATE) waits for the applications
    # being stored, which its e-mail then reaches, and an application arriving during a close waits for it and
    # sees the status it committed. Applications to one posting share the lock: they do not wait for each other.
    status = session.scalar(select(JobPosting.status).where(JobPosting.id == posting.id).with_for_update(read=True))
    if status != "published":
        raise DomainError("posting_not_public")
    email = values["email"]
    existing = session.scalar(
        select(JobApplication.id).where(JobApplication.posting_id == posting.id, JobApplication.email == email)
    )
    if existing is not None:
        raise DomainError("already_applied", field="email")
    token = links.new_token()
    application = JobApplication(
        posting_id=posting.id,
        reference=_new_reference(),
        token_hash=links.token_hash(token),
        status="recue",
        created_at=now,
        updated_at=now,
        last_contact_at=now,
        **values,
    )
    try:
        # UNIQUE(posting_id, email) settles two simultaneous submissions: one is stored, the other refused.
        with session.begin_nested():
            session.add(application)
            session.flush()
    except IntegrityError:
        raise DomainError("already_applied", field="email") from None
    _store_file(session, application.id, "cv", cv)
    if letter is not None:
        _store_file(session, application.id, "letter", letter)
    session.flush()
    _send_application_link(
        session, settings, email, values["full_name"], posting.title, application.reference, token, False
    )
    notifications.application_received(session, settings, posting.id, application.reference, now)
    return ApplicationReceipt(application.reference, posting.title, email, token)


def resend_application_link(session: Session, posting_id: int, email: str, settings: Settings) -> None:
    """E-mail a new private link for an existing application (the old link stops working).

    The link only goes to the address of the application, so typing someone's e-mail reveals
    nothing and changes nothing for them but a fresh link in their own mailbox.
    """
    email = normalise_email(email)
    application = session.scalar(
        select(JobApplication).where(JobApplication.posting_id == posting_id, JobApplication.email == email)
    )
    if application is None:
        return
    token = links.new_token()
    application.token_hash = links.token_hash(token)
    title = session.scalar(select(JobPosting.title).where(JobPosting.id == posting_id)) or ""
    _send_application_link(
        session, settings, email, application.full_name or "", title, application.reference, token, True
    )
    session.flush()


@dataclass(frozen=True)
class CandidateView:
    """What the candidate sees through the private link."""

    reference: str
    posting_title: str
    organisation_name: str
    posting_status: str
    status: str
    created_at: datetime
    updated_at: datetime
    full_name: str | None
    email: str | None
    phone: str | None
    files: list[tuple[str, str]]  # (kind, display name)

    @property
    def status_label(self) -> str:
        """French name of the status."""
        return APPLICATION_STATUS_LABELS[self.status]

    @property
    def withdrawn(self) -> bool:
        """True once the candidate withdrew (the personal data is gone)."""
        return self.status == "retiree"


def _by_token(session: Session, token: str | None, lock: bool = False) -> JobApplication:
    application = links.find_by_token(session, JobApplication, token, lock=lock)
    if application is None:
        raise DomainError("invalid_application_link")
    return application


def candidate_view(session: Session, token: str | None) -> CandidateView:
    """The application behind a private link."""
    application = _by_token(session, token)
    posting = session.get_one(JobPosting, application.posting_id)
    files = session.execute(
        select(ApplicationFile.kind, ApplicationFile.display_name)
        .where(ApplicationFile.application_id == application.id)
        .order_by(ApplicationFile.kind)
    ).all()
    return CandidateView(
        application.reference,
        posting.title,
        _organisation_name(session, posting.organisation_id),
        posting.status,
        application.status,
        application.created_at,
        application.updated_at,
        application.full_name,
        application.email,
        application.phone,
        [(kind, name) for kind, name in files],
    )


def update_by_token(
    session: Session,
    token: str | None,
    phone: str | None = None,
    cv: Upload | None = None,
    letter: Upload | None = None,
    now: datetime | None = None,
) -> None:
    """The candidate completes the application: new phone number, CV or cover letter (every field's problem at
    once)."""
    now = now or utcnow()
    checks = FieldChecks()
    new_phone = new_cv = new_letter = None
    with checks:
        new_phone = normalise_phone(phone) if phone is not None else None
    with checks:
        new_cv = check_pdf(cv, "cv") if cv is not None else None
    with checks:
        new_letter = check_pdf(letter, "letter") if letter is not None else None
    checks.raise_errors()
    application = _by_token(session, token, lock=True)
    if application.status == "retiree":
        raise DomainError("application_withdrawn")
    # Open to changes as to applications: published and before its deadline (the close after the deadline comes
    # later, with the background work's next pass); share-locked as `apply` does, against a close under way.
    get_public_posting(session, application.posting_id, now)
    status = session.scalar(
        select(JobPosting.status).where(JobPosting.id == application.posting_id).with_for_update(read=True)
    )
    if status != "published":
        raise DomainError("posting_not_public")
    if phone is not None:
        application.phone = new_phone
    if new_cv is not None:
        _store_file(session, application.id, "cv", new_cv)
    if new_letter is not None:
        _store_file(session, application.id, "letter", new_letter)
    application.updated_at = application.last_contact_at = now
    session.flush()


def _erase_application(session: Session, application: JobApplication, now: datetime) -> None:
    session.execute(delete(ApplicationFile).where(ApplicationFile.application_id == application.id))
    application.email = None
    application.full_name = None
    application.phone = None
    application.cover_letter_text = None
    application.notes = None
    application.consent_contact = False
    application.status = "retiree"
    application.updated_at = now


def withdraw(session: Session, token: str | None, now: datetime | None = None) -> None:
    """The candidate withdraws: name, e-mail, phone, notes and files are deleted at once."""
    application = _by_token(session, token, lock=True)
    if application.status == "retiree":
        raise DomainError("application_withdrawn")
    _erase_application(session, application, now or utcnow())
    session.flush()
