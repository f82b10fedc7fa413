"""Waiting-list offers: a freed place is offered to the first person waiting and held for them until a deadline.

The held place stays counted in `meeting.confirmed_count` (the seat counter, whose CHECK refuses any value above
the capacity) while the offer runs: a new registration never takes it, and confirmed people plus running offers
never exceed the capacity. Every step takes the meeting's row lock first (`_locked`, as registration.py does), so
an acceptance, a decline, a cancellation and the expiry pass on one meeting are served one at a time.

The deadline: `PVD_WAITLIST_OFFER_HOURS` (24 by default) after the offer, but never more than half the time left
before the meeting starts (a place freed two days before is held one day; six hours before, three hours).
An offer ends in one of four ways (vocabulary.OFFER_OUTCOMES): accepted (the person is confirmed and gets their
ticket), declined (their registration is cancelled), expired (the background pass takes them off the waiting list
and tells them by e-mail), withdrawn (the direction cancelled it). Declined, expired or withdrawn, the place goes
to the next person waiting, who gets a new offer, or back to the free places when nobody waits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvd_survey import links
from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.meetings.common import _give_back, _locked, deadline_text
from pvd_survey.meetings.messages import (
    _send_cancellation_mail,
    _send_offer_expired_mail,
    _send_status_mail,
)
from pvd_survey.models import Meeting, Registration


def offer_deadline(starts_at: datetime, now: datetime, hours: int) -> datetime:
    """Until when an offer made now holds the place: `hours` later, at most half the time left before the start."""
    # The shorter duration first, then one addition: `now + timedelta(hours=hours)` alone overflows for a huge setting.
    return now + min(timedelta(hours=hours), (starts_at - now) / 2)


def _fit_offers_to_start(session: Session, meeting: Meeting, now: datetime) -> None:
    """The meeting moved: no running offer may hold its place past half the time now left before the new start.

    A deadline only ever gets shorter (a meeting moved later does not lengthen an offer already made). The meeting
    must be locked; a meeting moved into the past ends its offers now (the expiry pass passes them on).
    """
    latest = now + max(meeting.starts_at - now, timedelta(0)) / 2
    running = session.scalars(
        select(Registration).where(
            Registration.meeting_id == meeting.id,
            Registration.status == "offered",
            Registration.offer_expires_at > latest,
        )
    ).all()
    for registration in running:
        registration.offer_expires_at = latest
    session.flush()


def _offer_next(session: Session, meeting: Meeting, settings: Settings, now: datetime) -> Registration | None:
    """Offer a held place to the first person waiting (None if nobody waits or the meeting started).

    The meeting must be locked and the place still counted in its seat counter.
    """
    if now >= meeting.starts_at:
        return None
    first = session.scalar(
        select(Registration)
        .where(Registration.meeting_id == meeting.id, Registration.status == "waiting")
        .order_by(Registration.arrival)
        .limit(1)
    )
    if first is None:
        return None
    # A fresh private link: the answer links of the offer e-mail carry it (the old one was in the waiting e-mail).
    token = links.new_token()
    first.status = "offered"
    first.offered_at = now
    first.offer_expires_at = offer_deadline(meeting.starts_at, now, settings.waitlist_offer_hours)
    first.offer_outcome = None
    first.token_hash = links.token_hash(token)
    session.flush()
    _send_status_mail(session, meeting, first, token, settings, now)
    return first


def _pass_on(session: Session, meeting: Meeting, settings: Settings, now: datetime) -> Registration | None:
    """A held place came free: offer it to the next person waiting, else give it back to the free places."""
    offered = _offer_next(session, meeting, settings, now)
    if offered is None:
        _give_back(session, meeting.id)
    return offered


def _check_running(registration: Registration, now: datetime) -> None:
    """Refuse an answer to an offer that no longer runs, with the French reason."""
    if registration.status == "offered" and registration.offer_expires_at is not None:
        if now < registration.offer_expires_at:
            return
        raise DomainError("offer_expired", deadline=deadline_text(registration.offer_expires_at))
    if registration.offer_outcome == "expired" and registration.offer_expires_at is not None:
        raise DomainError("offer_expired", deadline=deadline_text(registration.offer_expires_at))
    raise DomainError("offer_closed")


def _by_token_locked(session: Session, token: str | None) -> tuple[Meeting, Registration]:
    """The registration of a private link and its meeting, locked, the registration read again under the lock."""
    registration = links.find_by_token(session, Registration, (token or "").strip())
    if registration is None:
        raise DomainError("invalid_registration_link")
    meeting = _locked(session, registration.meeting_id)
    session.refresh(registration)
    return meeting, registration


def accept_offer(session: Session, token: str | None, settings: Settings, now: datetime | None = None) -> bool:
    """Accept the place offered, through the private link: confirmed, ticket e-mailed. False if accepted before."""
    now = now or utcnow()
    meeting, registration = _by_token_locked(session, token)
    if registration.status == "confirmed" and registration.offer_outcome == "accepted":
        return False  # a second click on « J'accepte »: nothing more to do
    _check_running(registration, now)
    if now >= meeting.starts_at:  # a deadline is always before the start; this guards older or moved offers
        raise DomainError("offer_meeting_started")
    registration.status = "confirmed"
    registration.confirmed_at = now
    registration.offer_outcome = "accepted"
    session.flush()
    # The place was counted since the offer: the counter stays as it is.
    _send_status_mail(session, meeting, registration, (token or "").strip(), settings, now, promoted=True)
    return True


def decline_offer(session: Session, token: str | None, settings: Settings, now: datetime | None = None) -> bool:
    """Decline the place offered (« Je ne peux plus venir »): registration cancelled, the place goes on.

    Returns whether the place went to someone else waiting.
    """
    now = now or utcnow()
    meeting, registration = _by_token_locked(session, token)
    _check_running(registration, now)
    _end_offer(registration, "declined", now, cancelled_by="participant")
    passed = _pass_on(session, meeting, settings, now)
    _send_cancellation_mail(session, registration, settings)
    return passed is not None


def _end_offer(registration: Registration, outcome: str, now: datetime, cancelled_by: str | None) -> None:
    registration.status = "cancelled"
    registration.cancelled_at = now
    registration.cancelled_by = cancelled_by
    registration.offer_outcome = outcome


def expire_offers(
    session: Session, settings: Settings, now: datetime | None = None, meeting_id: int | None = None
) -> int:
    """Pass on every offer past its deadline (the background work runs it; `meeting_id`: only that meeting's);
    returns how many expired.

    The person is taken off the waiting list and told by e-mail; the place is offered to the next person waiting.
    Meetings are locked in the order of their ids: two servers running the pass at once never deadlock.
    """
    now = now or utcnow()
    due = session.execute(
        select(Registration.id, Registration.meeting_id)
        .where(
            Registration.status == "offered",
            Registration.offer_expires_at <= now,
            *([Registration.meeting_id == meeting_id] if meeting_id is not None else []),
        )
        .order_by(Registration.meeting_id, Registration.arrival)
    ).all()
    expired = 0
    for registration_id, meeting_id in due:
        meeting = _locked(session, meeting_id)
        registration = session.get_one(Registration, registration_id, populate_existing=True)
        if registration.status != "offered" or registration.offer_expires_at is None:
            continue  # answered a moment ago
        if registration.offer_expires_at > now:
            continue
        _end_offer(registration, "expired", now, cancelled_by=None)
        session.flush()
        passed = _pass_on(session, meeting, settings, now)
        _send_offer_expired_mail(session, meeting, registration, settings, passed is not None, now)
        expired += 1
    return expired
