"""What every part of the meetings service shares: labels, plain data for pages, links, reading a meeting."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session

from pvd_survey import access, links, territory
from pvd_survey.clock import paris_time
from pvd_survey.config import Settings
from pvd_survey.db import rowcount
from pvd_survey.errors import DomainError
from pvd_survey.models import Meeting, Registration
from pvd_survey.vocabulary import ATTENDEE_ROLE_LABELS, MEETING_KIND_LABELS, REGISTRATION_STATUS_LABELS

# The meetings' names for their labels (vocabulary.py holds them, beside their codes).
KIND_LABELS = MEETING_KIND_LABELS
ROLE_LABELS = ATTENDEE_ROLE_LABELS
STATUS_LABELS = REGISTRATION_STATUS_LABELS

REGISTRATION_PAGE_PATH = access.PAGES_BY_KEY["registration"].url_path
MEETING_PAGE_PATH = access.PAGES_BY_KEY["meetings"].url_path
MEETING_PARAMETER = "rencontre"
# The « J'accepte » and « Je ne peux plus venir » links of a waiting-list offer: the private link with this parameter.
OFFER_PARAMETER = "offre"
OFFER_ANSWERS = ("accepter", "decliner")
RETENTION = timedelta(days=365)
# Every e-mail that gives a private link mints a new one (one hash is stored per registration), which ends the
# earlier ones: e-mails without a link point to the newest.
LATEST_LINK = "le lien personnel du dernier e-mail qui vous en a donné un pour cette inscription"
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
    offered: int = 0  # places held for someone on the waiting list while their offer runs

    @property
    def places_left(self) -> int:
        """Free places right now (a place offered to someone waiting is not free)."""
        return self.capacity - self.confirmed - self.offered

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
    status: str  # confirmed or waiting (offered: registered before, a freed place is offered to them)
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
    offer: str = ""  # a waiting-list offer's state in French (« Place proposée jusqu'au … »), "" if never offered


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
    offer_expires_at: datetime | None = None  # the deadline of a running (or ended) waiting-list offer
    offer_outcome: str | None = None
    offer_open: bool = False  # an offer runs and its deadline has not passed: it can be accepted


# ---------------------------------------------------------------------------- tokens, links, reading


def _new_reference() -> str:
    return "RV-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def private_link(settings: Settings, token: str) -> str:
    """The private link where a person follows and cancels a registration."""
    return links.personal_link(settings.base_url, REGISTRATION_PAGE_PATH, token)


def deadline_text(moment: datetime) -> str:
    """An offer's deadline as people read it, like the e-mails' other times: « 12/12/2026 à 14:00 » (Paris)."""
    return paris_time(moment, "%d/%m/%Y à %H:%M")


def offer_link(settings: Settings, token: str, answer: str) -> str:
    """A waiting-list offer's answer link (« accepter » or « decliner »): the private link, the answer chosen."""
    return links.personal_link(settings.base_url, REGISTRATION_PAGE_PATH, token, **{OFFER_PARAMETER: answer})


def meeting_link(settings: Settings, meeting_id: int) -> str:
    """The shareable public link of a meeting."""
    return f"{settings.base_url}/{MEETING_PAGE_PATH}?{MEETING_PARAMETER}={meeting_id}"


def _listing():
    """Meeting columns with each one's waiting-list length and running offers (index seeks, no ORM objects)."""

    def count(status: str):
        return (
            select(func.count())
            .where(Registration.meeting_id == Meeting.id, Registration.status == status)
            .correlate(Meeting)
            .scalar_subquery()
            .label(status)
        )

    return select(*Meeting.__table__.c, count("waiting"), count("offered"))


def _info(row: Row[Any]) -> MeetingInfo:
    """A row of _listing(): the meeting's columns, its waiting-list length and its running offers.

    `confirmed_count` is the seat counter: confirmed people and the places held by running offers.
    """
    return MeetingInfo(
        row.id,
        row.title,
        row.kind,
        row.region,
        row.city,
        row.venue,
        row.online_url,
        row.starts_at,
        row.ends_at,
        row.capacity,
        row.confirmed_count - row.offered,
        row.waiting,
        row.registration_opens_at,
        row.registration_closes_at,
        tuple(code for code in row.audiences.split("|") if code),
        row.description,
        row.offered,
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
    return _info(row)


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


def _take_seat(session: Session, meeting_id: int) -> bool:
    """One conditional UPDATE: True if a place was free and is now ours (the meeting must be locked)."""
    taken = session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.confirmed_count < Meeting.capacity)
        .values(confirmed_count=Meeting.confirmed_count + 1)
    )
    return rowcount(taken) == 1


def _free_seats(session: Session, meeting_id: int) -> int:
    """How many places are free now (the meeting must be locked)."""
    return session.scalar(select(Meeting.capacity - Meeting.confirmed_count).where(Meeting.id == meeting_id)) or 0


def _give_back(session: Session, meeting_id: int) -> None:
    """Free one place of the seat counter (a confirmed registration or a running offer ended)."""
    session.execute(update(Meeting).where(Meeting.id == meeting_id).values(confirmed_count=Meeting.confirmed_count - 1))


def _fold(text: str) -> str:
    """Lower-case text without accents, to search 'Hélène' by typing 'helene'."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
