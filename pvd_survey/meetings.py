"""Regional meetings: limited places, waiting list, cancellation, reminders, check-in and figures.

The capacity guarantee. Every registration attempt, cancellation and capacity change of a meeting
starts by taking that meeting's row lock (`_arrive`, `_locked`): PostgreSQL holds it until commit,
and on SQLite every write transaction is BEGIN IMMEDIATE (see db.py), so the attempts on one
meeting are serialised without any "database is locked" error reaching a person. A place is taken
only while `confirmed_count < capacity`, and a CHECK constraint on the table refuses any state
above capacity even if a future code path forgot the rule. Arrival numbers come from the same
locked row, so the waiting list is in the order the attempts were served.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fpdf import FPDF
from icalendar import Calendar, Event
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from pvd_survey import access, disclosure, mail, territory
from pvd_survey.accounts import normalise_email
from pvd_survey.config import Settings
from pvd_survey.db import dialect_insert
from pvd_survey.errors import DomainError
from pvd_survey.models import ATTENDEE_ROLES, MEETING_KINDS, Meeting, Registration, paris_time, utcnow
from pvd_survey.survey_questions import InvalidAnswers

KIND_LABELS = {
    "rencontre_regionale": "Rencontre régionale",
    "atelier": "Atelier",
    "webinaire": "Webinaire",
    "autre": "Autre",
}
ROLE_LABELS = {"chef_de_projet": "Chef de projet", "elu": "Élu ou élue", "partenaire": "Partenaire", "autre": "Autre"}
STATUS_LABELS = {"confirmed": "Confirmée", "waiting": "Liste d'attente", "cancelled": "Annulée"}
assert set(KIND_LABELS) == set(MEETING_KINDS) and set(ROLE_LABELS) == set(ATTENDEE_ROLES)

REGISTRATION_PAGE_PATH = access.PAGES_BY_KEY["registration"].url_path
MEETING_PAGE_PATH = access.PAGES_BY_KEY["meetings"].url_path
TOKEN_PARAMETER = "jeton"
MEETING_PARAMETER = "rencontre"
RETENTION = timedelta(days=365)
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at check-in
_FONTS = Path(__file__).resolve().parent / "fonts"
MAX_TEXT = {"title": 200, "city": 120, "venue": 300, "online_url": 500, "full_name": 200, "organisation": 200}


# ---------------------------------------------------------------------------- plain data for pages


@dataclass(frozen=True)
class MeetingForm:
    """What the direction types to create or edit a meeting (times in naive UTC)."""

    title: str
    kind: str
    region: str | None
    city: str
    venue: str
    online_url: str | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    registration_opens_at: datetime
    registration_closes_at: datetime
    audiences: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class MeetingInfo:
    """A meeting as pages show it, with its live counts."""

    id: int
    title: str
    kind: str
    region: str | None
    city: str
    venue: str
    online_url: str | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    confirmed: int
    waiting: int
    registration_opens_at: datetime
    registration_closes_at: datetime
    audiences: tuple[str, ...]
    description: str

    @property
    def places_left(self) -> int:
        """Free places right now."""
        return self.capacity - self.confirmed

    def registration_state(self, now: datetime) -> str:
        """'not_open', 'open' or 'closed' at this moment."""
        if now < self.registration_opens_at:
            return "not_open"
        if now >= self.registration_closes_at or now >= self.starts_at:
            return "closed"
        return "open"

    @property
    def region_label(self) -> str:
        """Region name, or 'National' for a meeting open to every region."""
        return territory.REGIONS.get(self.region or "", "National")

    @property
    def place_label(self) -> str:
        """Where it happens, in one line."""
        parts = [part for part in (self.venue, self.city) if part]
        if self.online_url:
            parts.append("en ligne")
        return ", ".join(parts)

    def form(self) -> MeetingForm:
        """The meeting as an editable form."""
        return MeetingForm(
            self.title,
            self.kind,
            self.region,
            self.city,
            self.venue,
            self.online_url,
            self.starts_at,
            self.ends_at,
            self.capacity,
            self.registration_opens_at,
            self.registration_closes_at,
            self.audiences,
            self.description,
        )


@dataclass(frozen=True)
class RegistrationForm:
    """What a person types to register."""

    full_name: str
    email: str
    attendee_role: str
    organisation: str = ""
    department: str | None = None
    needs: str = ""
    consent: bool = False


@dataclass(frozen=True)
class RegistrationOutcome:
    """The answer shown after a registration attempt."""

    reference: str
    status: str  # confirmed or waiting
    position: int | None  # on the waiting list, 1 = next to be promoted
    already_registered: bool
    email: str


@dataclass(frozen=True)
class AttendeeInfo:
    """One line of a meeting's lists (only the direction sees these)."""

    id: int
    reference: str
    status: str
    position: int | None
    full_name: str
    email: str
    attendee_role: str
    organisation: str
    department: str | None
    needs: str
    registered_at: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None


@dataclass(frozen=True)
class Roster:
    """A meeting's confirmed list, waiting list (in order) and cancellations."""

    meeting: MeetingInfo
    confirmed: list[AttendeeInfo]
    waiting: list[AttendeeInfo]
    cancelled: list[AttendeeInfo]

    @property
    def present(self) -> int:
        """Confirmed people marked present."""
        return sum(1 for person in self.confirmed if person.checked_in_at is not None)


@dataclass(frozen=True)
class PrivateView:
    """What a person sees through their private link."""

    meeting: MeetingInfo
    reference: str
    status: str
    position: int | None
    full_name: str
    email: str
    can_cancel: bool


# ---------------------------------------------------------------------------- tokens, links, reading


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_reference() -> str:
    return "RV-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def private_link(settings: Settings, token: str) -> str:
    """The private link where a person follows and cancels a registration."""
    return f"{settings.base_url}/{REGISTRATION_PAGE_PATH}?{TOKEN_PARAMETER}={token}"


def meeting_link(settings: Settings, meeting_id: int) -> str:
    """The shareable public link of a meeting."""
    return f"{settings.base_url}/{MEETING_PAGE_PATH}?{MEETING_PARAMETER}={meeting_id}"


def _listing():
    """Meeting columns with each one's waiting-list length (one index seek per meeting, no ORM objects)."""
    waiting = (
        select(func.count())
        .where(Registration.meeting_id == Meeting.id, Registration.status == "waiting")
        .correlate(Meeting)
        .scalar_subquery()
        .label("waiting")
    )
    return select(*Meeting.__table__.c, waiting)


def _info(meeting: Meeting, waiting: int) -> MeetingInfo:
    return MeetingInfo(
        meeting.id,
        meeting.title,
        meeting.kind,
        meeting.region,
        meeting.city,
        meeting.venue,
        meeting.online_url,
        meeting.starts_at,
        meeting.ends_at,
        meeting.capacity,
        meeting.confirmed_count,
        waiting,
        meeting.registration_opens_at,
        meeting.registration_closes_at,
        tuple(code for code in meeting.audiences.split("|") if code),
        meeting.description,
    )


def _meeting(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise DomainError("unknown_meeting")
    return meeting


def get_meeting(session: Session, meeting_id: int) -> MeetingInfo:
    """One meeting with its counts (unknown_meeting if it does not exist)."""
    row = session.execute(_listing().where(Meeting.id == meeting_id)).one_or_none()
    if row is None:
        raise DomainError("unknown_meeting")
    return _info(row, row.waiting)


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
    return [_info(row, row.waiting) for row in session.execute(query)]


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
    return [_info(row, row.waiting) for row in upcoming + past]


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


def _locked(session: Session, meeting_id: int) -> Meeting:
    """The meeting, read fresh under its row lock (SELECT … FOR UPDATE; SQLite's BEGIN IMMEDIATE already holds it).

    Cancellations and capacity changes take it; a registration attempt takes the same lock with the
    UPDATE of `_arrive`, so all seat changes of one meeting are served one at a time.
    """
    meeting = session.scalars(
        select(Meeting)
        .where(Meeting.id == meeting_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # not the values the identity map read before the lock
    ).one_or_none()
    if meeting is None:
        raise DomainError("unknown_meeting")
    return meeting


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
        raise InvalidAnswers(
            {
                "capacity": DomainError(
                    "capacity_below_confirmed",
                    field="capacity",
                    capacity=form.capacity,
                    confirmed=meeting.confirmed_count,
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
    promoted = _promote_waiting(session, meeting, settings, now)
    notified = _announce_change(session, meeting, settings, now, skip={r.id for r in promoted}) if changed else 0
    return MeetingUpdate([registration.email or "" for registration in promoted], notified)


def _announce_change(session: Session, meeting: Meeting, settings: Settings, now: datetime, skip: set[int]) -> int:
    """Tell everyone confirmed or waiting of the new time or place (confirmed people get the updated .ics)."""
    people = session.scalars(
        select(Registration)
        .where(
            Registration.meeting_id == meeting.id,
            Registration.status.in_(("confirmed", "waiting")),
            Registration.email.is_not(None),
        )
        .order_by(Registration.arrival)
    ).all()
    told = 0
    for registration in people:
        if registration.id in skip:  # just promoted: their e-mail already has the new details
            continue
        token = secrets.token_urlsafe(32)
        registration.token_hash = _token_hash(token)
        _send_status_mail(
            session, meeting, registration, token, settings, now, _position(session, registration), changed=True
        )
        told += 1
    return told


# ---------------------------------------------------------------------------- registration


def validate_registration(form: RegistrationForm) -> tuple[str, str | None]:
    """Check a registration form; returns (normalised e-mail, department) or raises InvalidAnswers."""
    errors: dict[str, DomainError] = {}
    email = ""
    if not form.full_name.strip():
        errors["full_name"] = DomainError("field_required", field="full_name")
    elif len(form.full_name.strip()) > MAX_TEXT["full_name"]:
        errors["full_name"] = DomainError("text_too_long", field="full_name", maximum=MAX_TEXT["full_name"])
    try:
        email = normalise_email(form.email)
    except DomainError as error:
        errors["email"] = error
    if form.attendee_role not in ATTENDEE_ROLES:
        errors["attendee_role"] = DomainError("field_required", field="attendee_role")
    if len(form.organisation.strip()) > MAX_TEXT["organisation"]:
        errors["organisation"] = DomainError("text_too_long", field="organisation", maximum=MAX_TEXT["organisation"])
    department = None
    if form.department:
        department = territory.normalise_department(form.department)
        if department is None:
            errors["department"] = DomainError("unknown_department", field="department", department=form.department)
    if len(form.needs) > 2000:
        errors["needs"] = DomainError("text_too_long", field="needs", maximum=2000)
    if not form.consent:
        errors["consent"] = DomainError("consent_required", field="consent")
    if errors:
        raise InvalidAnswers(errors)
    return email, department


def _check_open(meeting: Meeting, now: datetime) -> None:
    if now < meeting.registration_opens_at:
        raise DomainError("registration_not_open", opens=paris_time(meeting.registration_opens_at))
    if now >= meeting.registration_closes_at or now >= meeting.starts_at:
        raise DomainError("registration_closed")


def _position(session: Session, registration: Registration) -> int | None:
    if registration.status != "waiting":
        return None
    ahead = session.scalar(
        select(func.count()).where(
            Registration.meeting_id == registration.meeting_id,
            Registration.status == "waiting",
            Registration.arrival < registration.arrival,
        )
    )
    return (ahead or 0) + 1


def _take_seat(session: Session, meeting_id: int) -> bool:
    """One conditional UPDATE: True if a place was free and is now ours (the meeting must be locked)."""
    return (
        session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id, Meeting.confirmed_count < Meeting.capacity)
            .values(confirmed_count=Meeting.confirmed_count + 1)
        ).rowcount
        == 1
    )


def _arrive(session: Session, meeting_id: int) -> tuple[int, bool]:
    """Lock the meeting, number this attempt and take a place if one is free, in one UPDATE.

    Every SET expression reads the row as it was before the UPDATE (SQL semantics, on both
    databases), so `last_seat_arrival` equals our arrival number exactly when we took a place.
    """
    free = Meeting.confirmed_count < Meeting.capacity
    row = session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id)
        .values(
            arrivals=Meeting.arrivals + 1,
            confirmed_count=case((free, Meeting.confirmed_count + 1), else_=Meeting.confirmed_count),
            last_seat_arrival=case((free, Meeting.arrivals + 1), else_=Meeting.last_seat_arrival),
        )
        .returning(Meeting.arrivals, Meeting.last_seat_arrival)
    ).one_or_none()
    if row is None:
        raise DomainError("unknown_meeting")
    return row.arrivals, row.last_seat_arrival == row.arrivals


def _give_back(session: Session, meeting_id: int) -> None:
    session.execute(update(Meeting).where(Meeting.id == meeting_id).values(confirmed_count=Meeting.confirmed_count - 1))


def _resend(
    session: Session, meeting: Meeting, existing: Registration, settings: Settings, now: datetime
) -> RegistrationOutcome:
    """A second attempt with the same e-mail: say so, and send the confirmation again with a fresh link."""
    token = secrets.token_urlsafe(32)
    existing.token_hash = _token_hash(token)
    position = _position(session, existing)
    _send_status_mail(session, meeting, existing, token, settings, now, position, resent=True)
    return RegistrationOutcome(existing.reference, existing.status, position, True, existing.email or "")


def register(
    session: Session, meeting_id: int, form: RegistrationForm, settings: Settings, now: datetime | None = None
) -> RegistrationOutcome:
    """Register a person: a confirmed place if one is free, else the waiting list; one per e-mail."""
    now = now or utcnow()
    email, department = validate_registration(form)
    meeting = _meeting(session, meeting_id)
    _check_open(meeting, now)
    if form.attendee_role not in meeting.audiences.split("|"):
        raise DomainError("audience_not_admitted", role=ROLE_LABELS[form.attendee_role].lower())
    existing = session.scalar(
        select(Registration).where(Registration.meeting_id == meeting_id, Registration.email == email)
    )
    if existing is not None and existing.status != "cancelled":
        return _resend(session, meeting, existing, settings, now)
    # Everything that needs no lock is prepared first: the lock taken below is held until commit,
    # and every other attempt on this meeting waits for it.
    token = secrets.token_urlsafe(32)
    reference = existing.reference if existing is not None else _new_reference()
    calendar = calendar_file(meeting, reference, private_link(settings, token), now)
    values = {
        "meeting_id": meeting_id,
        "email": email,
        "full_name": form.full_name.strip(),
        "attendee_role": form.attendee_role,
        "organisation": form.organisation.strip(),
        "department": department,
        "needs": form.needs.strip(),
        "token_hash": _token_hash(token),
        "consented_at": now,
        "created_at": now,
        "cancelled_at": None,
        "cancelled_by": None,
        "reminded_at": None,
        "checked_in_at": None,
    }

    arrival, seated = _arrive(session, meeting_id)
    if existing is not None:
        # Read again under the lock: the same person may have registered again a moment ago.
        session.refresh(existing)
        if existing.status != "cancelled":
            if seated:
                _give_back(session, meeting_id)
            return _resend(session, meeting, existing, settings, now)
    status = "confirmed" if seated else "waiting"
    values.update(arrival=arrival, status=status, confirmed_at=now if seated else None)
    if existing is not None:  # registering again after a cancellation: back in line, at the end
        for name, value in values.items():
            setattr(existing, name, value)
        session.flush()
        registration = existing
    else:
        table = Registration.__table__
        # Two attempts with one e-mail can both pass the check above; the unique constraint lets one
        # in, and the other gives its place back and is answered as a second attempt.
        inserted = session.execute(
            dialect_insert(session, table)
            .values(reference=reference, **values)
            .on_conflict_do_nothing(index_elements=["meeting_id", "email"])
            .returning(table.c.id)
        ).scalar_one_or_none()
        if inserted is None:
            if seated:
                _give_back(session, meeting_id)
            winner = session.scalar(
                select(Registration).where(Registration.meeting_id == meeting_id, Registration.email == email)
            )
            return _resend(session, meeting, winner, settings, now)
        # The row as inserted, without reading it back while the lock is held.
        registration = Registration(id=inserted, reference=reference, **values)
    position = _position(session, registration)
    _send_status_mail(session, meeting, registration, token, settings, now, position, calendar=calendar)
    return RegistrationOutcome(registration.reference, status, position, False, email)


# ---------------------------------------------------------------------------- cancellation and promotion


def _promote_waiting(session: Session, meeting: Meeting, settings: Settings, now: datetime) -> list[Registration]:
    """Give every free place to the first in line, in order, once each; the meeting must be locked."""
    promoted: list[Registration] = []
    while True:
        first = session.scalar(
            select(Registration)
            .where(Registration.meeting_id == meeting.id, Registration.status == "waiting")
            .order_by(Registration.arrival)
            .limit(1)
        )
        if first is None:
            break
        if not _take_seat(session, meeting.id):
            break
        first.status = "confirmed"
        first.confirmed_at = now
        # A fresh private link: the old one was only ever in the waiting-list e-mail.
        token = secrets.token_urlsafe(32)
        first.token_hash = _token_hash(token)
        session.flush()
        promoted.append(first)
        _send_status_mail(session, meeting, first, token, settings, now, promoted=True)
    session.refresh(meeting)
    return promoted


def _cancel(
    session: Session, registration: Registration, by: str, settings: Settings, now: datetime
) -> list[Registration]:
    meeting = _locked(session, registration.meeting_id)
    session.refresh(registration)
    if registration.status == "cancelled":
        raise DomainError("already_cancelled")
    if now >= meeting.starts_at:
        raise DomainError("meeting_started")
    was_confirmed = registration.status == "confirmed"
    registration.status = "cancelled"
    registration.cancelled_at = now
    registration.cancelled_by = by
    session.flush()
    if not was_confirmed:
        return []
    _give_back(session, meeting.id)
    return _promote_waiting(session, meeting, settings, now)


def _by_token(session: Session, token: str | None) -> Registration:
    text = (token or "").strip()
    registration = (
        session.scalar(select(Registration).where(Registration.token_hash == _token_hash(text))) if text else None
    )
    if registration is None:
        raise DomainError("invalid_registration_link")
    return registration


def open_private_link(session: Session, token: str | None, now: datetime | None = None) -> PrivateView:
    """What the private link shows: the meeting, the status, the position, whether it can be cancelled."""
    now = now or utcnow()
    registration = _by_token(session, token)
    meeting = get_meeting(session, registration.meeting_id)
    return PrivateView(
        meeting,
        registration.reference,
        registration.status,
        _position(session, registration),
        registration.full_name,
        registration.email or "",
        registration.status != "cancelled" and now < meeting.starts_at,
    )


def cancel_by_token(session: Session, token: str | None, settings: Settings, now: datetime | None = None) -> int:
    """Cancel through the private link; returns how many people the freed place promoted (0 or 1)."""
    now = now or utcnow()
    registration = _by_token(session, token)
    promoted = _cancel(session, registration, "participant", settings, now)
    _send_cancellation_mail(session, registration, settings)
    return len(promoted)


def cancel_by_direction(
    session: Session, meeting_id: int, registration_id: int, settings: Settings, now: datetime | None = None
) -> int:
    """Cancel a registration on a person's behalf (they are told); returns how many were promoted."""
    registration = session.get(Registration, registration_id)
    if registration is None or registration.meeting_id != meeting_id:
        raise DomainError("unknown_registration")
    promoted = _cancel(session, registration, "direction", settings, now or utcnow())
    _send_cancellation_mail(session, registration, settings)
    return len(promoted)


# ---------------------------------------------------------------------------- e-mails and calendar


def calendar_file(meeting: Meeting, reference: str, link: str | None, now: datetime) -> bytes:
    """An iCalendar (.ics) file with the meeting as one event (a later SEQUENCE replaces the earlier one)."""
    calendar = Calendar()
    calendar.add("prodid", "-//ANCT//Petites villes de demain//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"rencontre-{meeting.id}-{reference}@petitesvillesdedemain.anct.gouv.fr")
    event.add("dtstamp", now.replace(tzinfo=UTC))
    event.add("sequence", meeting.revision or 0)
    event.add("dtstart", meeting.starts_at.replace(tzinfo=UTC))
    event.add("dtend", meeting.ends_at.replace(tzinfo=UTC))
    event.add("summary", meeting.title)
    place = ", ".join(part for part in (meeting.venue, meeting.city) if part) or (meeting.online_url or "")
    event.add("location", place)
    description = meeting.description
    if meeting.online_url:
        description += f"\n\nEn ligne : {meeting.online_url}"
        event.add("url", meeting.online_url)
    if link:
        description += f"\n\nVotre inscription (référence {reference}) : {link}"
    event.add("description", description.strip())
    calendar.add_component(event)
    return calendar.to_ical()


def _when(meeting: Meeting) -> str:
    start = paris_time(meeting.starts_at, "%d/%m/%Y de %H:%M")
    return f"{start} à {paris_time(meeting.ends_at, '%H:%M')}"


def _where(meeting: Meeting) -> str:
    place = ", ".join(part for part in (meeting.venue, meeting.city) if part)
    if meeting.online_url:
        place = (place + " ou " if place else "") + f"en ligne : {meeting.online_url}"
    return place


def _send_status_mail(
    session: Session,
    meeting: Meeting,
    registration: Registration,
    token: str,
    settings: Settings,
    now: datetime,
    position: int | None = None,
    resent: bool = False,
    promoted: bool = False,
    calendar: bytes | None = None,
    changed: bool = False,
) -> None:
    link = private_link(settings, token)
    details = f"« {meeting.title} »\nLe {_when(meeting)} (heure de Paris)\nLieu : {_where(meeting)}\n"
    attachments = None
    if registration.status == "confirmed":
        subject = (
            "Place libérée : vous êtes inscrit(e) à " if promoted else "Inscription confirmée : "
        ) + meeting.title
        lead = (
            "Une place s'est libérée : vous passez de la liste d'attente à la liste des inscrits."
            if promoted
            else "Votre inscription est confirmée."
        )
        calendar = calendar or calendar_file(meeting, registration.reference, link, now)
        attachments = [("rencontre.ics", "text/calendar", calendar)]
        calendar_note = "Le fichier joint (rencontre.ics) ajoute la rencontre à votre agenda.\n\n"
    else:
        subject = f"Liste d'attente (position {position}) : {meeting.title}"
        lead = (
            f"La rencontre est complète : vous êtes sur la liste d'attente, en position {position}. "
            "Si une place se libère, vous êtes inscrit(e) automatiquement et prévenu(e) par e-mail."
        )
        calendar_note = ""
    if resent:
        lead = "Vous étiez déjà inscrit(e) : voici de nouveau votre confirmation.\n" + lead
    if changed:
        subject = f"Changement d'horaire ou de lieu : {meeting.title}"
        lead = "La date, l'horaire ou le lieu de la rencontre a changé : voici les nouvelles informations.\n" + lead
        if attachments:
            calendar_note = "Le fichier joint (rencontre.ics) met à jour la rencontre dans votre agenda.\n\n"
    kind = "meeting_changed" if changed else "meeting_promoted" if promoted else "meeting_" + registration.status
    mail.enqueue(
        session,
        recipient=registration.email or "",
        subject=subject,
        body=(
            f"Bonjour {registration.full_name},\n\n{lead}\n\n{details}Référence : {registration.reference}\n\n"
            f"{calendar_note}"
            f"Pour suivre ou annuler votre inscription (ce lien est personnel) :\n{link}\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind=kind,
        link=link,
        attachments=attachments,
    )


def _send_cancellation_mail(session: Session, registration: Registration, settings: Settings) -> None:
    meeting = _meeting(session, registration.meeting_id)
    by_direction = registration.cancelled_by == "direction"
    mail.enqueue(
        session,
        recipient=registration.email or "",
        subject=f"Inscription annulée : {meeting.title}",
        body=(
            f"Bonjour {registration.full_name},\n\n"
            + (
                "La direction du programme a annulé votre inscription"
                if by_direction
                else "Votre inscription est annulée"
            )
            + f" à « {meeting.title} » du {_when(meeting)} (référence {registration.reference}).\n\n"
            f"Vous pouvez vous inscrire de nouveau, s'il reste de la place : {meeting_link(settings, meeting.id)}\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="meeting_cancelled",
        link=meeting_link(settings, meeting.id),
    )


def send_due_reminders(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """E-mail a reminder, once, to confirmed people of meetings starting within the reminder delay."""
    now = now or utcnow()
    if settings.meeting_reminder_days <= 0:
        return 0
    horizon = now + timedelta(days=settings.meeting_reminder_days)
    due = session.execute(
        select(Registration.id, Meeting.id)
        .join(Meeting, Meeting.id == Registration.meeting_id)
        .where(
            Registration.status == "confirmed",
            Registration.reminded_at.is_(None),
            Registration.email.is_not(None),
            Meeting.starts_at > now,
            Meeting.starts_at <= horizon,
        )
    ).all()
    sent = 0
    for registration_id, meeting_id in due:
        # Claimed by a conditional UPDATE: two senders never remind the same person twice.
        claimed = session.execute(
            update(Registration)
            .where(Registration.id == registration_id, Registration.reminded_at.is_(None))
            .values(reminded_at=now)
        ).rowcount
        if claimed != 1:
            continue
        registration = session.get(Registration, registration_id)
        meeting = _meeting(session, meeting_id)
        mail.enqueue(
            session,
            recipient=registration.email or "",
            subject=f"Rappel : {meeting.title}, le {paris_time(meeting.starts_at, '%d/%m/%Y')}",
            body=(
                f"Bonjour {registration.full_name},\n\n"
                f"Rappel : vous êtes inscrit(e) à « {meeting.title} ».\n"
                f"Le {_when(meeting)} (heure de Paris)\nLieu : {_where(meeting)}\n"
                f"Référence : {registration.reference}\n\n"
                "Si vous ne pouvez plus venir, annulez avec le lien personnel reçu lors de votre inscription : "
                "votre place ira à la première personne de la liste d'attente.\n\n"
                "L'équipe du programme Petites villes de demain (ANCT)"
            ),
            kind="meeting_reminder",
            link=meeting_link(settings, meeting.id),
        )
        sent += 1
    return sent


# ---------------------------------------------------------------------------- the direction's lists


def _attendee(registration: Registration, position: int | None) -> AttendeeInfo:
    return AttendeeInfo(
        registration.id,
        registration.reference,
        registration.status,
        position,
        registration.full_name,
        registration.email or "",
        registration.attendee_role,
        registration.organisation,
        registration.department,
        registration.needs,
        registration.created_at,
        registration.cancelled_at,
        registration.checked_in_at,
    )


def roster(session: Session, meeting_id: int) -> Roster:
    """A meeting's lists: confirmed (by name), waiting (in order, with positions), cancelled."""
    meeting = get_meeting(session, meeting_id)
    registrations = list(
        session.scalars(
            select(Registration)
            .where(Registration.meeting_id == meeting_id, Registration.anonymised_at.is_(None))
            .order_by(Registration.arrival)
        )
    )
    waiting = [r for r in registrations if r.status == "waiting"]
    return Roster(
        meeting,
        sorted(
            (_attendee(r, None) for r in registrations if r.status == "confirmed"),
            key=lambda a: _fold(a.full_name),
        ),
        [_attendee(r, index) for index, r in enumerate(waiting, start=1)],
        [_attendee(r, None) for r in registrations if r.status == "cancelled"],
    )


EXPORT_COLUMNS = (
    "Référence",
    "Statut",
    "Position d'attente",
    "Nom",
    "E-mail",
    "Profil",
    "Organisation ou commune",
    "Département",
    "Besoins (accessibilité, repas)",
    "Inscrit le",
    "Annulé le",
    "Présent",
)


def export_rows(lists: Roster) -> list[list[object]]:
    """The rows of a meeting's export (confirmed, then waiting in order, then cancelled)."""
    return [
        [
            person.reference,
            STATUS_LABELS[person.status],
            person.position,
            person.full_name,
            person.email,
            ROLE_LABELS[person.attendee_role],
            person.organisation,
            person.department or "",
            person.needs,
            paris_time(person.registered_at),
            paris_time(person.cancelled_at),
            person.checked_in_at is not None if person.status == "confirmed" else None,
        ]
        for person in lists.confirmed + lists.waiting + lists.cancelled
    ]


def sign_in_sheet_pdf(lists: Roster) -> bytes:
    """The printable sign-in sheet ("feuille d'émargement"): one line per confirmed participant."""
    meeting = lists.meeting
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"Feuille d'émargement - {meeting.title}")
    pdf.set_author("Programme Petites villes de demain (ANCT)")
    pdf.add_font("DejaVu", "", str(_FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 7, "Feuille d'émargement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(0, 6, meeting.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    when = f"{paris_time(meeting.starts_at, '%d/%m/%Y, %H:%M')} - {paris_time(meeting.ends_at, '%H:%M')}"
    pdf.multi_cell(0, 5, f"{when}    {meeting.place_label}", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, f"{len(lists.confirmed)} participant(s) confirmé(s)", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    with pdf.table(
        col_widths=(8, 52, 30, 50, 50),
        line_height=9,
        text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT"),
        repeat_headings=1,
    ) as table:
        table.row(["N°", "Nom", "Profil", "Organisation ou commune", "Signature"])
        for number, person in enumerate(lists.confirmed, start=1):
            table.row([str(number), person.full_name, ROLE_LABELS[person.attendee_role], person.organisation, ""])
    return bytes(pdf.output())


# ---------------------------------------------------------------------------- check-in


def _fold(text: str) -> str:
    """Lower-case text without accents, to search 'Hélène' by typing 'helene'."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


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


# ---------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class MeetingFigures:
    """One meeting's line in the direction's figures."""

    meeting: MeetingInfo
    cancellations: int
    present: int

    @property
    def fill_rate(self) -> float:
        """Confirmed places as a percentage of capacity."""
        return round(100 * self.meeting.confirmed / self.meeting.capacity, 1)


@dataclass(frozen=True)
class AttendanceRow:
    """Attendance of one group (a region or a role); None where the group is too small to show."""

    group: str
    confirmed: int | None
    present: int | None

    @property
    def rate(self) -> float | None:
        """Present as a percentage of confirmed."""
        if self.confirmed is None or self.present is None or not self.confirmed:
            return None
        return round(100 * self.present / self.confirmed, 1)


@dataclass(frozen=True)
class DashboardFigures:
    """Everything the dashboard shows about meetings."""

    meetings: list[MeetingFigures]
    by_region: list[AttendanceRow] = field(default_factory=list)
    by_role: list[AttendanceRow] = field(default_factory=list)


def _attendance(
    confirmed: dict[str, disclosure.Tally], present: dict[str, disclosure.Tally], labels: dict[str, str], k: int
) -> list[AttendanceRow]:
    # Groups of fewer than k people are hidden, with secondary suppression so that a hidden group
    # cannot be recovered from the total; a hidden group hides its present count too. Shown counts
    # are perturbed (cell keys, see disclosure.py); a present count under k is hidden on its own.
    published_confirmed = disclosure.publish_table(confirmed, k)
    rows = []
    for key in sorted(confirmed, key=lambda key: labels.get(key, key)):
        shown = published_confirmed[key]
        attended = None if shown is None else disclosure.perturb(present.get(key, disclosure.ZERO), k)
        rows.append(AttendanceRow(labels.get(key, key), shown, attended))
    return rows


def dashboard_figures(session: Session, k: int = disclosure.DEFAULT_K, now: datetime | None = None) -> DashboardFigures:
    """Fill rate, waiting list and cancellations per meeting; attendance of past meetings by region and role."""
    now = now or utcnow()
    meetings = list_all(session)
    rows = session.execute(
        select(
            Registration.meeting_id,
            Registration.status,
            Registration.attendee_role,
            Registration.checked_in_at.is_not(None),
            func.count(),
            func.sum(Registration.record_key),
        ).group_by(
            Registration.meeting_id,
            Registration.status,
            Registration.attendee_role,
            Registration.checked_in_at.is_not(None),
        )
    ).all()
    by_id = {meeting.id: meeting for meeting in meetings}
    cancellations: Counter = Counter()
    present: Counter = Counter()
    region_confirmed: dict[str, disclosure.Tally] = defaultdict(lambda: disclosure.ZERO)
    region_present: dict[str, disclosure.Tally] = defaultdict(lambda: disclosure.ZERO)
    role_confirmed: dict[str, disclosure.Tally] = defaultdict(lambda: disclosure.ZERO)
    role_present: dict[str, disclosure.Tally] = defaultdict(lambda: disclosure.ZERO)
    for meeting_id, status, role, checked_in, count, key_sum in rows:
        tally = disclosure.Tally(count, int(key_sum or 0))
        if status == "cancelled":
            cancellations[meeting_id] += count
            continue
        if status != "confirmed":
            continue
        meeting = by_id[meeting_id]
        if checked_in:
            present[meeting_id] += count
        if meeting.starts_at > now:  # attendance only means something once the meeting has begun
            continue
        region = meeting.region or "national"
        region_confirmed[region] += tally
        role_confirmed[role] += tally
        if checked_in:
            region_present[region] += tally
            role_present[role] += tally
    region_labels = {**territory.REGIONS, "national": "National"}
    return DashboardFigures(
        [MeetingFigures(meeting, cancellations[meeting.id], present[meeting.id]) for meeting in meetings],
        _attendance(region_confirmed, region_present, region_labels, k),
        _attendance(role_confirmed, role_present, ROLE_LABELS, k),
    )


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
            .values(email=None, full_name="", organisation="", needs="", token_hash=None, anonymised_at=utcnow())
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
    registrations = list(session.scalars(select(Registration).where(Registration.email == address)))
    for registration in registrations:
        if registration.status != "cancelled":
            meeting = _meeting(session, registration.meeting_id)
            if now < meeting.starts_at:
                _cancel(session, registration, "direction", settings, now)
            elif registration.status == "waiting":
                registration.status = "cancelled"
                registration.cancelled_at = now
    session.flush()
    anonymise(session, [registration.id for registration in registrations])
    return len(registrations)
