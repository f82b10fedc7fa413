"""Recruitment: recruiter account requests, their approval and bulk creation."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvd_survey import accounts, links, mail, notifications, territory
from pvd_survey.accounts import PASSWORD_LINK_DAYS, UserInfo, issue_password_link, normalise_email
from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError, FieldChecks, ImportRejected, RowError
from pvd_survey.models import Organisation, RecruiterRequest, User
from pvd_survey.recruitment.common import (
    _clean_text,
    _one_line,
    _page_link,
    _require_direction,
)
from pvd_survey.vocabulary import ORGANISATION_KINDS


@dataclass(frozen=True)
class RecruiterRequestInfo:
    """A recruiter account request as the direction sees it."""

    id: int
    email: str
    display_name: str
    organisation_name: str
    organisation_kind: str
    department: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None


def request_recruiter_account(
    session: Session,
    settings: Settings,
    *,
    email: str,
    display_name: str,
    organisation_name: str,
    organisation_kind: str,
    department: str,
    now: datetime | None = None,
) -> str:
    """Record a request and e-mail a confirmation link; returns the token (for tests: it is only e-mailed)."""
    now = now or utcnow()
    checks = FieldChecks()  # every field's problem at once
    display_name = _one_line(display_name, 200)
    with checks:
        if not display_name:
            raise DomainError("display_name_required", field="display_name")
    with checks:
        email = normalise_email(email)
    organisation_name = _one_line(organisation_name, 200)
    with checks:
        if not organisation_name:
            raise DomainError("organisation_name_required", field="organisation_name")
    with checks:
        if organisation_kind not in ORGANISATION_KINDS:
            raise DomainError(
                "unknown_organisation_kind", field="kind", kind=organisation_kind, choices=", ".join(ORGANISATION_KINDS)
            )
    code = territory.normalise_department(department or "")
    with checks:
        if not department:
            raise DomainError("department_required", field="department")
        if code is None:
            raise DomainError("unknown_department", field="department", department=department)
    checks.raise_errors()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError("email_taken", field="email", email=email)
    open_request = session.scalar(
        select(RecruiterRequest.id).where(
            RecruiterRequest.email == email, RecruiterRequest.status.in_(("unconfirmed", "pending"))
        )
    )
    if open_request is not None:
        raise DomainError("recruiter_request_exists", field="email")
    token = links.new_token()
    session.add(
        RecruiterRequest(
            email=email,
            display_name=display_name,
            organisation_name=organisation_name,
            organisation_kind=organisation_kind,
            department=code,
            token_hash=links.token_hash(token),
            status="unconfirmed",
            created_at=now,
        )
    )
    session.flush()
    link = _page_link(settings, "recruiter_signup", token)
    mail.enqueue(
        session,
        recipient=email,
        subject="Confirmez votre demande de compte recruteur Petites villes de demain",
        body=(
            f"Bonjour {display_name},\n\nPour confirmer votre adresse et transmettre votre demande de compte "
            f"recruteur ({organisation_name}) à la direction du programme, ouvrez ce lien :\n{link}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="recruiter_request_confirm",
        link=link,
    )
    return token


def confirm_recruiter_request(
    session: Session, token: str | None, settings: Settings, now: datetime | None = None
) -> str:
    """Confirm the e-mail of a request (idempotent); returns its status. The direction is told it waits."""
    request = links.find_by_token(session, RecruiterRequest, token, lock=True)
    if request is None:
        raise DomainError("invalid_request_link")
    if request.status == "unconfirmed":
        request.status = "pending"
        request.confirmed_at = now or utcnow()
        session.flush()
        notifications.recruiter_request_waiting(session, settings, request.id, request.confirmed_at)
    return request.status


def list_recruiter_requests(session: Session, actor: UserInfo | None) -> list[RecruiterRequestInfo]:
    """Confirmed requests waiting for a decision, oldest first."""
    _require_direction(actor)
    rows = session.scalars(
        select(RecruiterRequest).where(RecruiterRequest.status == "pending").order_by(RecruiterRequest.created_at)
    )
    return [
        RecruiterRequestInfo(
            r.id,
            r.email,
            r.display_name,
            r.organisation_name,
            r.organisation_kind,
            r.department,
            r.status,
            r.created_at,
            r.confirmed_at,
        )
        for r in rows
    ]


def _organisation_for(session: Session, name: str, kind: str, department: str) -> int:
    existing = session.scalar(
        select(Organisation.id).where(
            func.lower(Organisation.name) == name.lower(), Organisation.department == department
        )
    )
    if existing is not None:
        return existing
    return accounts.create_organisation(session, name, kind, department).id


def _welcome_recruiter(session: Session, user: UserInfo, settings: Settings, now: datetime) -> None:
    link = issue_password_link(session, user.id, settings, now)
    mail.enqueue(
        session,
        recipient=user.email,
        subject="Votre compte recruteur Petites villes de demain",
        body=(
            f"Bonjour {user.display_name},\n\nVotre compte recruteur ({user.organisation_name}) est ouvert. "
            f"Choisissez votre mot de passe avec ce lien, valable {PASSWORD_LINK_DAYS} jours et une seule fois :\n"
            f"{link}\n\nVous pourrez ensuite publier vos offres de chef de projet et suivre les candidatures.\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="recruiter_welcome",
        link=link,
    )


def _pending_request(session: Session, actor: UserInfo | None, request_id: int) -> RecruiterRequest:
    _require_direction(actor)
    request = session.get(RecruiterRequest, request_id, with_for_update=True)
    if request is None or request.status != "pending":
        raise DomainError("unknown_recruiter_request")
    return request


def approve_recruiter_request(
    session: Session, actor: UserInfo | None, request_id: int, settings: Settings, now: datetime | None = None
) -> UserInfo:
    """Create the recruiter account (and its organisation if new), then e-mail a link to choose a password."""
    now = now or utcnow()
    request = _pending_request(session, actor, request_id)
    organisation_id = _organisation_for(
        session, request.organisation_name, request.organisation_kind, request.department
    )
    user = accounts.create_user(
        session,
        email=request.email,
        display_name=request.display_name,
        role="recruteur",
        settings=settings,
        organisation_id=organisation_id,
        notify=False,
    )
    request.status, request.decided_at = "approved", now
    _welcome_recruiter(session, user, settings, now)
    session.flush()
    return user


def refuse_recruiter_request(
    session: Session, actor: UserInfo | None, request_id: int, reason: str, now: datetime | None = None
) -> None:
    """Refuse a request; the person is told why."""
    request = _pending_request(session, actor, request_id)
    reason = _clean_text(reason, 2000)
    if not reason:
        raise DomainError("refusal_reason_required", field="reason")
    request.status, request.decided_at, request.refusal_reason = "refused", now or utcnow(), reason
    mail.enqueue(
        session,
        recipient=request.email,
        subject="Votre demande de compte recruteur Petites villes de demain",
        body=(
            f"Bonjour {request.display_name},\n\nLa direction du programme n'a pas pu donner suite à votre demande "
            f"de compte recruteur ({request.organisation_name}) :\n{reason}\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="recruiter_refused",
    )
    session.flush()


BULK_COLUMNS = ("email", "nom", "organisation", "type", "departement")


def bulk_create_recruiters(
    session: Session, actor: UserInfo | None, text: str, settings: Settings, now: datetime | None = None
) -> list[str]:
    """Create recruiter accounts from a CSV (all rows or none); returns the e-mails created."""
    now = now or utcnow()
    _require_direction(actor)
    text = (text or "").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=";" if ";" in text.split("\n", 1)[0] else ",")
    header = [cell.strip().lower() for cell in next(reader, [])]
    if not header:
        raise ImportRejected([RowError(1, "row_empty_file")])
    if tuple(header) != BULK_COLUMNS:
        raise ImportRejected(
            [RowError(1, "row_bad_header", {"expected": ",".join(BULK_COLUMNS), "found": ",".join(header)})]
        )
    rows: list[tuple[str, str, str, str, str]] = []
    errors: list[RowError] = []
    taken = set(session.scalars(select(User.email)))
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) != len(BULK_COLUMNS):
            errors.append(RowError(line, "row_column_count", {"found": len(cells), "expected": len(BULK_COLUMNS)}))
            continue
        raw_email, name, organisation, kind, department = cells
        try:
            email = normalise_email(raw_email)
        except DomainError:
            errors.append(RowError(line, "row_invalid_email", {"value": raw_email}, "email"))
            continue
        code = territory.normalise_department(department)
        problems: list[RowError] = []
        if email in taken:
            problems.append(RowError(line, "row_email_taken", {"email": email}, "email"))
        if email in seen:
            problems.append(RowError(line, "row_email_repeated", {"email": email}, "email"))
        if not _one_line(name, 200):
            problems.append(RowError(line, "row_value_required", column="nom"))
        if not _one_line(organisation, 200):
            problems.append(RowError(line, "row_value_required", column="organisation"))
        if kind not in ORGANISATION_KINDS:
            choices = ", ".join(ORGANISATION_KINDS)
            problems.append(RowError(line, "row_unknown_choice", {"value": kind, "choices": choices}, "type"))
        if code is None:
            problems.append(RowError(line, "row_unknown_department", {"value": department}, "departement"))
        seen.add(email)
        if problems or code is None:  # an unknown department (code None) is one of the problems
            errors.extend(problems)
        else:
            rows.append((email, _one_line(name, 200), _one_line(organisation, 200), kind, code))
    if errors:
        raise ImportRejected(errors)
    if not rows:
        raise ImportRejected([RowError(2, "row_no_rows")])
    created = []
    for email, name, organisation, kind, code in rows:
        organisation_id = _organisation_for(session, organisation, kind, code)
        user = accounts.create_user(
            session,
            email=email,
            display_name=name,
            role="recruteur",
            settings=settings,
            organisation_id=organisation_id,
            notify=False,
        )
        _welcome_recruiter(session, user, settings, now)
        created.append(email)
    return created
