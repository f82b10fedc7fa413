"""Check-in on the day: finding a confirmed person and marking them present."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pvd_survey.clock import utcnow
from pvd_survey.errors import DomainError
from pvd_survey.meetings.common import (
    AttendeeInfo,
    _fold,
)
from pvd_survey.meetings.documents import roster
from pvd_survey.models import Registration

# ---------------------------------------------------------------------------- check-in


def search_attendees(session: Session, meeting_id: int, query: str) -> list[AttendeeInfo]:
    """Confirmed people whose name and organisation hold every word typed (accents ignored), or by reference."""
    words = _fold(query).split()
    compact = "".join(words)
    people = roster(session, meeting_id).confirmed
    return [
        person
        for person in people
        if all(word in _fold(f"{person.full_name} {person.organisation}") for word in words)
        or (len(compact) >= 4 and compact in _fold(person.reference))
    ]


def set_present(
    session: Session, meeting_id: int, registration_id: int, present: bool, now: datetime | None = None
) -> None:
    """Mark a confirmed person present (or undo a mistaken check-in)."""
    registration = session.get(Registration, registration_id)
    if registration is None or registration.meeting_id != meeting_id:
        raise DomainError("unknown_registration")
    if registration.status != "confirmed":
        raise DomainError("not_confirmed")
    registration.checked_in_at = (now or utcnow()) if present else None
