"""Recruitment: the recruiter's review pipeline and its export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvd_survey import exports, mail
from pvd_survey.accounts import UserInfo
from pvd_survey.clock import paris_from_utc, utcnow
from pvd_survey.errors import DomainError
from pvd_survey.models import ApplicationFile, JobApplication, JobPosting
from pvd_survey.recruitment.applications import safe_display_name
from pvd_survey.recruitment.common import (
    _REJECTION_SENTENCES,
    PIPELINE_STATUSES,
    _clean_text,
    _one_line,
    _require_recruiter,
)
from pvd_survey.recruitment.postings import _organisation_name, _own_posting
from pvd_survey.vocabulary import (
    APPLICATION_STATUS_LABELS,
    APPLICATION_STATUSES,
    REJECTION_REASON_LABELS,
    REJECTION_REASONS,
)

APPLICATION_PARAMETER = "candidature"  # the pipeline's address names the application shown: ?candidature=<id>
REJECTION_DETAIL_MIN = 15  # characters of the detail a refusal « Autre » must give


@dataclass(frozen=True)
class CandidateMail:
    """An e-mail to a candidate exactly as it will be written to the outbox: shown to the recruiter first."""

    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class ApplicationRow:
    """An application in the recruiter's pipeline."""

    id: int
    posting_id: int
    reference: str
    full_name: str | None
    email: str | None
    phone: str | None
    status: str
    rejection_reason: str | None
    created_at: datetime
    updated_at: datetime
    notes: str | None
    cover_letter_text: str | None
    consent_contact: bool
    files: dict[str, str] = field(default_factory=dict)  # kind -> display name

    @property
    def status_label(self) -> str:
        """French name of the status."""
        return APPLICATION_STATUS_LABELS[self.status]


_ROW_COLUMNS = (
    JobApplication.id,
    JobApplication.posting_id,
    JobApplication.reference,
    JobApplication.full_name,
    JobApplication.email,
    JobApplication.phone,
    JobApplication.status,
    JobApplication.rejection_reason,
    JobApplication.created_at,
    JobApplication.updated_at,
    JobApplication.notes,
    JobApplication.cover_letter_text,
    JobApplication.consent_contact,
)


def list_applications(
    session: Session,
    actor: UserInfo | None,
    posting_id: int,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ApplicationRow]:
    """A posting's applications, oldest first, optionally one status and one page (own organisation only)."""
    posting = _own_posting(session, actor, posting_id)
    # Plain rows rather than ORM objects: a popular posting's pipeline stays fast with thousands of applications.
    conditions = [JobApplication.posting_id == posting.id]
    if status:
        conditions.append(JobApplication.status == status)
    query = select(*_ROW_COLUMNS).where(*conditions).order_by(JobApplication.created_at, JobApplication.id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = session.execute(query).all()
    files: dict[int, dict[str, str]] = {}
    if rows:
        ids = [row[0] for row in rows]
        for start in range(0, len(ids), 900):
            for application_id, kind, name in session.execute(
                select(ApplicationFile.application_id, ApplicationFile.kind, ApplicationFile.display_name).where(
                    ApplicationFile.application_id.in_(ids[start : start + 900])
                )
            ):
                files.setdefault(application_id, {})[kind] = name
    return [ApplicationRow(**row._mapping, files=files.get(row[0], {})) for row in rows]


def _own_application(session: Session, actor: UserInfo | None, application_id: int, lock: bool = False):
    organisation_id = _require_recruiter(actor)
    row = session.execute(
        select(JobApplication, JobPosting)
        .join(JobPosting, JobPosting.id == JobApplication.posting_id)
        .where(JobApplication.id == application_id, JobPosting.organisation_id == organisation_id)
    ).first()
    if row is None:
        raise DomainError("unknown_application")
    if lock:
        session.get(JobApplication, application_id, with_for_update=True)
    return row


def get_application(session: Session, actor: UserInfo | None, application_id: int) -> ApplicationRow:
    """One application of the recruiter's organisation (any other id answers "unknown_application")."""
    organisation_id = _require_recruiter(actor)
    row = session.execute(
        select(*_ROW_COLUMNS)
        .join(JobPosting, JobPosting.id == JobApplication.posting_id)
        .where(JobApplication.id == application_id, JobPosting.organisation_id == organisation_id)
    ).first()
    if row is None:
        raise DomainError("unknown_application")
    files = session.execute(
        select(ApplicationFile.kind, ApplicationFile.display_name).where(ApplicationFile.application_id == row[0])
    ).all()
    return ApplicationRow(**row._mapping, files={kind: name for kind, name in files})


def application_file(
    session: Session, actor: UserInfo | None, application_id: int, kind: str = "cv"
) -> tuple[str, bytes]:
    """(display name, bytes) of an application's PDF, for the recruiter of that posting only."""
    application, _ = _own_application(session, actor, application_id)
    stored = session.scalar(
        select(ApplicationFile).where(ApplicationFile.application_id == application.id, ApplicationFile.kind == kind)
    )
    if stored is None:
        raise DomainError("unknown_file")
    # A name stored before the PDF-only rule is served under that rule too.
    return safe_display_name(stored.display_name), stored.content


def rejection_message(reason: str, posting_title: str, organisation_name: str, other: str = "") -> str:
    """The message proposed to the recruiter for a refusal (editable before it is sent)."""
    sentence = _REJECTION_SENTENCES.get(reason, "").format(other=_one_line(other, 500))
    return (
        f"Bonjour,\n\nNous vous remercions de votre candidature au poste « {posting_title} » "
        f"({organisation_name}).\n{sentence}\nNous ne pouvons donc pas y donner une suite favorable.\n\n"
        f"Nous vous souhaitons une pleine réussite dans vos recherches.\n\n{organisation_name}"
    )


def _check_move(application: JobApplication, status: str) -> None:
    if status not in PIPELINE_STATUSES:
        raise DomainError("unknown_application_status", value=status)
    if application.status == "retiree":
        raise DomainError("application_withdrawn")


def _status_mail(
    session: Session,
    application: JobApplication,
    posting: JobPosting,
    status: str,
    reason: str | None,
    detail: str,
    message: str | None,
) -> CandidateMail | None:
    """The e-mail a move sends the candidate, None when it sends none (only a refusal does)."""
    if status != "non_retenue":
        return None
    if reason not in REJECTION_REASONS:
        raise DomainError("rejection_reason_required", field="reason")
    detail = _one_line(detail, 500)
    if reason == "autre" and len(detail) < REJECTION_DETAIL_MIN:
        raise DomainError("rejection_detail_too_short", field="detail", minimum=REJECTION_DETAIL_MIN)
    if message is None:
        message = rejection_message(reason, posting.title, _organisation_name(session, posting.organisation_id), detail)
    text = _clean_text(message, 5000)
    if not text:
        raise DomainError("rejection_message_required", field="message")
    if application.email is None:  # only a withdrawn application has none, refused above
        raise DomainError("application_withdrawn")
    return CandidateMail(application.email, f"Votre candidature {application.reference} : {posting.title}", text)


def candidate_mail(
    session: Session,
    actor: UserInfo | None,
    application_id: int,
    status: str,
    *,
    reason: str | None = None,
    detail: str = "",
    message: str | None = None,
) -> CandidateMail | None:
    """The e-mail this move would send the candidate (None: it sends none), after every check of the move.

    Nothing is written: the recruiter reads it, then move_application(..., confirmed=it) sends exactly this.
    """
    application, posting = _own_application(session, actor, application_id)
    _check_move(application, status)
    return _status_mail(session, application, posting, status, reason, detail, message)


def move_application(
    session: Session,
    actor: UserInfo | None,
    application_id: int,
    status: str,
    *,
    reason: str | None = None,
    detail: str = "",
    message: str | None = None,
    confirmed: CandidateMail | None = None,
    now: datetime | None = None,
) -> None:
    """Move an application in the pipeline.

    'non_retenue' needs a reason (« Autre »: a detail of REJECTION_DETAIL_MIN characters at least) and e-mails the
    candidate `message` (by default the one proposed for the reason). Such a move needs `confirmed`, the e-mail
    candidate_mail() gave and the recruiter confirmed: it is refused unless the e-mail is still exactly that one.
    """
    now = now or utcnow()
    application, posting = _own_application(session, actor, application_id, lock=True)
    _check_move(application, status)
    outgoing = _status_mail(session, application, posting, status, reason, detail, message)
    if outgoing is not None:
        if confirmed is None:
            raise DomainError("candidate_message_unconfirmed")
        if confirmed != outgoing:
            raise DomainError("candidate_message_changed")
        mail.enqueue(
            session,
            recipient=outgoing.recipient,
            subject=outgoing.subject,
            body=outgoing.body,
            kind="application_rejected",
        )
        application.rejection_reason = reason
        application.last_contact_at = now
    else:
        application.rejection_reason = None
    application.status = status
    application.updated_at = now
    session.flush()


def set_notes(session: Session, actor: UserInfo | None, application_id: int, notes: str) -> None:
    """Notes on an application, seen by the recruiter's organisation only."""
    application, _ = _own_application(session, actor, application_id, lock=True)
    application.notes = _clean_text(notes, 5000) or None
    session.flush()


EXPORT_COLUMNS = (
    "Référence",
    "Nom",
    "E-mail",
    "Téléphone",
    "Statut",
    "Motif de refus",
    "Reçue le",
    "CV",
    "Lettre (fichier)",
    "Lettre (texte)",
    "Notes",
    "Accepte d'être contacté·e",
)


def _phone_for_people(phone: str | None) -> str:
    """A stored phone (E.164, "+33612345678") written as people read it ("+33 6 12 34 56 78")."""
    if not phone:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone, "FR"), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return phone


def export_applications(session: Session, actor: UserInfo | None, posting_id: int, fmt: str) -> bytes:
    """A posting's applications in one of exports.FORMATS (the app's one writer: no cell can be a formula)."""
    posting = _own_posting(session, actor, posting_id)
    if fmt not in exports.FORMATS:
        raise DomainError("unknown_export_format", value=fmt)
    rows = [
        (
            a.reference,
            a.full_name,
            a.email,
            _phone_for_people(a.phone),  # text: its "+" gets the writer's invisible guard, never a formula
            a.status_label,
            REJECTION_REASON_LABELS.get(a.rejection_reason or "", ""),
            paris_from_utc(a.created_at),  # a real date cell in XLSX, jj/mm/aaaa hh:mm in the CSV
            a.files.get("cv", ""),
            a.files.get("letter", ""),
            a.cover_letter_text,
            a.notes,
            a.consent_contact,  # oui / non in every format
        )
        for a in list_applications(session, actor, posting.id)
    ]
    return exports.table(fmt, EXPORT_COLUMNS, rows, sheet_title=posting.title)


def pipeline_counts(session: Session, actor: UserInfo | None, posting_id: int) -> dict[str, int]:
    """Applications of a posting per status (the pipeline's header)."""
    posting = _own_posting(session, actor, posting_id)
    rows = session.execute(
        select(JobApplication.status, func.count())
        .where(JobApplication.posting_id == posting.id)
        .group_by(JobApplication.status)
    ).all()
    counts = dict.fromkeys(APPLICATION_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts
