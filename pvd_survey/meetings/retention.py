"""Personal data in registrations: anonymisation after a year, access requests, erasure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pvd_survey.accounts import normalise_email
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.meetings.common import (
    RETENTION,
    ROLE_LABELS,
    STATUS_LABELS,
    _give_back,
    _locked,
)
from pvd_survey.meetings.registration import _cancel
from pvd_survey.models import Meeting, Registration

# ---------------------------------------------------------------------------- personal data


def expired_registrations(session: Session, now: datetime) -> list[tuple[int, str]]:
    """Registrations to anonymise: their meeting ended more than a year ago (privacy.PURGE_STEPS)."""
    rows = session.execute(
        select(Registration.id, Registration.reference, Meeting.title, Meeting.ends_at)
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .where(Registration.anonymised_at.is_(None), Meeting.ends_at < now - RETENTION)
        .order_by(Meeting.ends_at, Registration.id)
    ).all()
    return [
        (row.id, f"inscription {row.reference} à « {row.title} » du {paris_time(row.ends_at, '%d/%m/%Y')}")
        for row in rows
    ]


def anonymise(session: Session, ids: list[int]) -> None:
    """Erase names, e-mails, organisations, needs and links; keep profile, department and presence (figures)."""
    for start in range(0, len(ids), 500):
        session.execute(
            update(Registration)
            .where(Registration.id.in_(ids[start : start + 500]))
            .values(
                email=None,
                full_name="",
                organisation="",
                needs="",
                token_hash=None,
                ticket_hash=None,
                anonymised_at=utcnow(),
            )
        )


def personal_data(session: Session, email: str) -> list[dict[str, object]]:
    """Everything held about one e-mail address in meeting registrations (access request)."""
    address = normalise_email(email)
    rows = session.execute(
        select(Registration, Meeting)
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .where(Registration.email == address)
        .order_by(Registration.created_at)
    ).all()
    return [
        {
            "rencontre": meeting.title,
            "date": paris_time(meeting.starts_at),
            "reference": registration.reference,
            "statut": STATUS_LABELS[registration.status],
            "nom": registration.full_name,
            "e-mail": registration.email,
            "profil": ROLE_LABELS[registration.attendee_role],
            "organisation": registration.organisation,
            "departement": registration.department or "",
            "besoins": registration.needs,
            "consentement_le": paris_time(registration.consented_at),
            "inscrit_le": paris_time(registration.created_at),
            "annule_le": paris_time(registration.cancelled_at),
            "present": registration.checked_in_at is not None,
        }
        for registration, meeting in rows
    ]


def erase(session: Session, email: str, settings: Settings, now: datetime | None = None) -> int:
    """Erase one e-mail's registrations: active ones are cancelled first (freeing places), then anonymised."""
    now = now or utcnow()
    address = normalise_email(email)
    # In the order of their meetings' ids: the meetings are locked in the order the expiry pass locks them, so an
    # erasure and the pass (or two erasures) running at once never deadlock.
    registrations = list(
        session.scalars(
            select(Registration).where(Registration.email == address).order_by(Registration.meeting_id, Registration.id)
        )
    )
    for registration in registrations:
        # Under the meeting's lock, the registration read again: the expiry pass, an answer to an offer or a
        # cancellation may have changed it since the query above (a held place is given back once, not twice).
        meeting = _locked(session, registration.meeting_id)
        session.refresh(registration)
        if registration.status == "cancelled":
            continue
        if now < meeting.starts_at:
            _cancel(session, registration, "direction", settings, now)
        elif registration.status in ("waiting", "offered"):
            held = registration.status == "offered"  # its held place goes back to the counter
            registration.status = "cancelled"
            registration.cancelled_at = now
            registration.cancelled_by = "direction"
            if held:  # the outcome only once the status is no longer 'offered' (CHECK ck_registration_offer_running)
                registration.offer_outcome = "withdrawn"
            session.flush()
            if held:
                _give_back(session, meeting.id)
    session.flush()
    anonymise(session, [registration.id for registration in registrations])
    return len(registrations)
