"""The meetings themselves: listing, reading, and the direction's creation and edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvd_survey import links, territory
from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError, InvalidAnswers
from pvd_survey.meetings.common import (
    MAX_TEXT,
    MeetingForm,
    MeetingInfo,
    _info,
    _listing,
    _locked,
    get_meeting,
)
from pvd_survey.meetings.messages import _send_status_mail
from pvd_survey.meetings.offers import _fit_offers_to_start
from pvd_survey.meetings.registration import (
    _position,
    _promote_waiting,
)
from pvd_survey.models import Meeting, Registration
from pvd_survey.vocabulary import ATTENDEE_ROLES, MEETING_KINDS


def parse_meeting_id(raw: str | None) -> int:
    """A meeting id from a URL parameter, or unknown_meeting."""
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 12:
        raise DomainError("unknown_meeting")
    return int(text)


def list_upcoming(
    session: Session, region: str | None = None, now: datetime | None = None, limit: int | None = None
) -> list[MeetingInfo]:
    """Meetings not yet over, soonest first, optionally in one region (national ones always shown)."""
    now = now or utcnow()
    query = _listing().where(Meeting.ends_at > now).order_by(Meeting.starts_at, Meeting.id)
    if region:
        if region not in territory.REGIONS:
            raise DomainError("unknown_filter", name="région", value=region)
        query = query.where((Meeting.region == region) | Meeting.region.is_(None))
    if limit:
        query = query.limit(limit)
    return [_info(row) for row in session.execute(query)]


def meeting_in(raw: str | None, listed: list[MeetingInfo]) -> MeetingInfo | None:
    """The listed meeting a URL parameter names; None without one; unknown_meeting if it names none."""
    if not raw:
        return None
    wanted = parse_meeting_id(raw)
    for meeting in listed:
        if meeting.id == wanted:
            return meeting
    raise DomainError("unknown_meeting")


def order_for_check_in(listed: list[MeetingInfo], now: datetime | None = None) -> list[MeetingInfo]:
    """Meetings for the check-in page: the one under way (or the nearest) first, finished ones last."""
    now = now or utcnow()
    return sorted(listed, key=lambda m: (m.ends_at < now, abs((m.starts_at - now).total_seconds())))


def list_all(session: Session) -> list[MeetingInfo]:
    """Every meeting, upcoming first then past (most recent first), for the direction."""
    now = utcnow()
    rows = session.execute(_listing()).all()
    upcoming = sorted((row for row in rows if row.ends_at > now), key=lambda row: row.starts_at)
    past = sorted((row for row in rows if row.ends_at <= now), key=lambda row: row.starts_at, reverse=True)
    return [_info(row) for row in upcoming + past]


# ---------------------------------------------------------------------------- the direction's edits


def validate_meeting(form: MeetingForm) -> None:
    """Check a meeting form; every problem at once, per field (InvalidAnswers)."""
    errors: dict[str, DomainError] = {}
    if not form.title.strip():
        errors["title"] = DomainError("field_required", field="title")
    if form.kind not in MEETING_KINDS:
        errors["kind"] = DomainError("unknown_code", field="kind", value=form.kind)
    if form.region is not None and form.region not in territory.REGIONS:
        errors["region"] = DomainError("unknown_code", field="region", value=form.region)
    for name, limit in MAX_TEXT.items():
        value = getattr(form, name, None)
        if isinstance(value, str) and len(value) > limit:
            errors[name] = DomainError("text_too_long", field=name, maximum=limit)
    if form.online_url and not form.online_url.startswith(("https://", "http://")):
        errors["online_url"] = DomainError("bad_url", field="online_url")
    if not form.online_url and not (form.city.strip() or form.venue.strip()):
        errors["city"] = DomainError("place_required", field="city")
    if form.ends_at <= form.starts_at:
        errors["ends_at"] = DomainError("ends_before_start", field="ends_at")
    if not isinstance(form.capacity, int) or form.capacity < 1 or form.capacity > 100_000:
        errors["capacity"] = DomainError("bad_capacity", field="capacity")
    if form.registration_closes_at > form.starts_at:
        errors["registration_closes_at"] = DomainError("deadline_after_start", field="registration_closes_at")
    if form.registration_opens_at >= form.registration_closes_at:
        errors["registration_opens_at"] = DomainError("opens_after_deadline", field="registration_opens_at")
    unknown = [code for code in form.audiences if code not in ATTENDEE_ROLES]
    if not form.audiences or unknown:
        errors["audiences"] = DomainError("audiences_required", field="audiences")
    if errors:
        raise InvalidAnswers(errors)


def _form_values(form: MeetingForm) -> dict[str, object]:
    return {
        "title": form.title.strip(),
        "kind": form.kind,
        "region": form.region,
        "city": form.city.strip(),
        "venue": form.venue.strip(),
        "online_url": (form.online_url or "").strip() or None,
        "starts_at": form.starts_at,
        "ends_at": form.ends_at,
        "capacity": form.capacity,
        "registration_opens_at": form.registration_opens_at,
        "registration_closes_at": form.registration_closes_at,
        "audiences": "|".join(code for code in ATTENDEE_ROLES if code in form.audiences),
        "description": form.description.strip(),
    }


def create_meeting(session: Session, form: MeetingForm) -> int:
    """Create a meeting; returns its id."""
    validate_meeting(form)
    meeting = Meeting(**_form_values(form), confirmed_count=0, arrivals=0, last_seat_arrival=0, updated_at=utcnow())
    session.add(meeting)
    session.flush()
    return meeting.id


@dataclass(frozen=True)
class MeetingUpdate:
    """What an edit set off: people promoted by a larger capacity, people told of a new time or place."""

    promoted: list[str]
    notified: int


CHANGES_TO_ANNOUNCE = ("starts_at", "ends_at", "city", "venue", "online_url")


def update_meeting(session: Session, meeting_id: int, form: MeetingForm, settings: Settings) -> MeetingUpdate:
    """Edit a meeting; a larger capacity promotes the waiting list, a new time or place is e-mailed to everyone."""
    validate_meeting(form)
    meeting = _locked(session, meeting_id)
    if form.capacity < meeting.confirmed_count:
        counts = get_meeting(session, meeting_id)  # the seat counter, split into confirmed people and offers
        raise InvalidAnswers(
            {
                "capacity": DomainError(
                    "capacity_below_confirmed",
                    field="capacity",
                    capacity=form.capacity,
                    taken=meeting.confirmed_count,
                    confirmed=counts.confirmed,
                    offered=counts.offered,
                )
            }
        )
    values = _form_values(form)
    changed = any(getattr(meeting, name) != values[name] for name in CHANGES_TO_ANNOUNCE)
    for name, value in values.items():
        setattr(meeting, name, value)
    now = utcnow()
    meeting.updated_at = now
    if changed:
        meeting.revision += 1
    session.flush()
    _fit_offers_to_start(session, meeting, now)  # moved earlier: no offer may run past half the time left
    promoted = _promote_waiting(session, meeting, settings, now)
    notified = _announce_change(session, meeting, settings, now, skip={r.id for r in promoted}) if changed else 0
    return MeetingUpdate([registration.email or "" for registration in promoted], notified)


def _announce_change(session: Session, meeting: Meeting, settings: Settings, now: datetime, skip: set[int]) -> int:
    """Tell everyone confirmed, offered a place or waiting of the new time or place (confirmed people get the .ics)."""
    people = session.scalars(
        select(Registration)
        .where(
            Registration.meeting_id == meeting.id,
            Registration.status.in_(("confirmed", "offered", "waiting")),
            Registration.email.is_not(None),
        )
        .order_by(Registration.arrival)
    ).all()
    told = 0
    for registration in people:
        if registration.id in skip:  # just promoted: their e-mail already has the new details
            continue
        token = links.new_token()
        registration.token_hash = links.token_hash(token)
        _send_status_mail(
            session, meeting, registration, token, settings, now, _position(session, registration), changed=True
        )
        told += 1
    return told
