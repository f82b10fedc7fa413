"""The door on the day: a scanned ticket answered at once, arrivals counted once, the « accueil » team's links.

A scan is one read of the ticket's hash (a unique index) and, for a confirmed person not yet arrived, one
conditional UPDATE (`… WHERE checked_in_at IS NULL`): two devices scanning the same ticket at the same moment both
run it, the database lets exactly one change the row (PostgreSQL re-checks the condition once the first commits;
SQLite writes one at a time), and the other answers « Déjà enregistré à … » with the time the first recorded.

The people the direction names « accueil » for a meeting get a personal link (`/emargement?jeton=…`, only its hash
stored) that opens that meeting's door page, and no other, until 12 hours after its end or until the direction
withdraws it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from pvd_survey import access, links, mail
from pvd_survey.accounts import normalise_email
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.db import rowcount
from pvd_survey.errors import DomainError, InvalidAnswers
from pvd_survey.meetings.common import MAX_TEXT, _meeting
from pvd_survey.meetings.tickets import looks_like_ticket, meeting_of, read_code
from pvd_survey.models import DoorPass, Meeting, Registration

DOOR_PAGE_PATH = access.PAGES_BY_KEY["checkin"].url_path
DOOR_PASS_AFTER_END = timedelta(hours=12)  # a door link still opens the page this long after the meeting ends
DOOR_PASS_RETENTION = timedelta(days=30)  # then who had one is kept a month (a question after the day), no longer
# What the door says, by outcome: a headline in large type, then what to do. Only « welcome » records an arrival.
SCAN_HEADLINES = {
    "welcome": "Bienvenue",
    "already": "Déjà enregistré",
    "cancelled": "Inscription annulée",
    "waiting": "Liste d'attente",
    "other_meeting": "Billet d'une autre rencontre",
    "unknown": "Code inconnu",
    "damaged": "Billet illisible",
    "foreign": "Ce n'est pas un billet",
    "no_code": "Aucun code lu",
}
SCAN_ADVICE = {
    "welcome": "",
    "already": "Ce billet a déjà servi : vérifiez que la personne est bien celle qui est entrée.",
    "cancelled": "Cette inscription a été annulée : la personne n'a pas de place. Voyez avec l'organisation.",
    "waiting": "La personne est sur la liste d'attente, sans place confirmée. Voyez avec l'organisation.",
    "other_meeting": "Ce billet est valable pour une autre rencontre, pas pour celle-ci.",
    "unknown": "Aucune inscription ne correspond à ce code. Cherchez la personne par son nom.",
    "damaged": (
        "Le code est abîmé ou incomplet. Scannez-le de nouveau, à plat et bien éclairé, ou cherchez la personne "
        "par son nom."
    ),
    "foreign": (
        "Ce code n'est pas un billet des rencontres Petites villes de demain. Cherchez la personne par son nom."
    ),
    "no_code": (
        "Aucun code QR n'a été trouvé sur la photo. Reprenez-la de plus près, le billet à plat et bien éclairé, ou "
        "cherchez la personne par son nom."
    ),
}


@dataclass(frozen=True)
class ScanResult:
    """What the door answers to one scan."""

    outcome: str  # a key of SCAN_HEADLINES
    registration_id: int | None = None
    full_name: str = ""
    organisation: str = ""
    checked_in_at: datetime | None = None  # for welcome and already: when the arrival was recorded
    other_meeting: str = ""  # for other_meeting: its title and date

    @property
    def admitted(self) -> bool:
        """True when the person may come in (just recorded, or recorded before)."""
        return self.outcome in ("welcome", "already")

    @property
    def headline(self) -> str:
        """The answer in a few words, e.g. « Déjà enregistré à 9 h 12 »."""
        if self.outcome == "already" and self.checked_in_at is not None:
            return f"Déjà enregistré à {paris_time(self.checked_in_at, '%-H h %M')}"
        return SCAN_HEADLINES[self.outcome]

    @property
    def advice(self) -> str:
        """What to do next (empty when all is well)."""
        if self.outcome == "other_meeting" and self.other_meeting:
            return f"Ce billet est valable pour « {self.other_meeting} », pas pour cette rencontre."
        return SCAN_ADVICE[self.outcome]


@dataclass(frozen=True)
class DoorCounts:
    """Arrivals so far against the people expected (confirmed)."""

    arrived: int
    expected: int


@dataclass(frozen=True)
class DoorKeeper:
    """A person named « accueil » for a meeting, as the direction sees them."""

    id: int
    full_name: str
    email: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class DoorAccess:
    """What a door link opens: one meeting, for one named person."""

    meeting_id: int
    full_name: str


# ---------------------------------------------------------------------------- scanning


def scan(session: Session, meeting_id: int, typed: str, now: datetime | None = None) -> ScanResult:
    """Answer one scan (what a scanner typed or a camera read) at this meeting's door; record a first arrival."""
    code = read_code(typed)
    if code is None:
        return ScanResult("damaged" if looks_like_ticket(typed) else "foreign")
    registration = links.find_by_token(session, Registration, code, column="ticket_hash")
    if registration is None:
        return ScanResult("unknown")
    if registration.meeting_id != meeting_id or meeting_of(code) != meeting_id:
        other = session.get_one(Meeting, registration.meeting_id)
        return ScanResult("other_meeting", other_meeting=f"{other.title} du {paris_time(other.starts_at, '%d/%m/%Y')}")
    return _arrive(session, registration, now or utcnow())


def _not_seated(status: str) -> str:
    """The door's answer to a registration without a confirmed place: a running offer is still the waiting list."""
    return "waiting" if status == "offered" else status


def _arrive(session: Session, registration: Registration, now: datetime) -> ScanResult:
    """Record the arrival unless one is recorded; of two devices at the same moment, exactly one records it.

    A cancelled or waiting registration (or one offered a place not accepted yet) is answered with its status and
    never counts as an arrival.
    """
    person = ScanResult("", registration.id, registration.full_name, registration.organisation)
    if registration.status != "confirmed":
        return replace(person, outcome=_not_seated(registration.status))
    recorded = rowcount(
        session.execute(
            update(Registration)
            .where(
                Registration.id == registration.id,
                Registration.status == "confirmed",
                Registration.checked_in_at.is_(None),
            )
            .values(checked_in_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if recorded == 1:
        return replace(person, outcome="welcome", checked_in_at=now)
    session.refresh(registration)  # the other device's arrival (or a cancellation a moment ago)
    if registration.status != "confirmed":
        return replace(person, outcome=_not_seated(registration.status))
    return replace(person, outcome="already", checked_in_at=registration.checked_in_at)


def check_in_by_hand(
    session: Session, meeting_id: int, registration_id: int, now: datetime | None = None
) -> ScanResult:
    """Record the arrival of a person found by name, with the same answer and guarantee as a scan."""
    registration = session.get(Registration, registration_id)
    if registration is None or registration.meeting_id != meeting_id:
        raise DomainError("unknown_registration")
    return _arrive(session, registration, now or utcnow())


def undo_check_in(session: Session, meeting_id: int, registration_id: int) -> None:
    """Take back an arrival recorded by mistake (the person, or their ticket, can then be scanned again)."""
    registration = session.get(Registration, registration_id)
    if registration is None or registration.meeting_id != meeting_id:
        raise DomainError("unknown_registration")
    registration.checked_in_at = None


def door_counts(session: Session, meeting_id: int) -> DoorCounts:
    """People arrived and people expected (confirmed), read in one query."""
    confirmed = Registration.status == "confirmed"
    arrived, expected = session.execute(
        select(
            func.count().filter(confirmed, Registration.checked_in_at.is_not(None)),
            func.count().filter(confirmed),
        ).where(Registration.meeting_id == meeting_id)
    ).one()
    return DoorCounts(arrived or 0, expected or 0)


def codes_in_photo(photo: bytes) -> list[str] | None:
    """The texts of the barcodes in a photo (upright, sideways or upside down); None if it is not an image."""
    import zxingcpp  # imported here: only the door page's camera needs it
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(photo))
        image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return None
    # try_rotate (the default) also reads a code turned a quarter or half a turn; try_downscale a large photo.
    return [result.text for result in zxingcpp.read_barcodes(image, try_rotate=True, try_downscale=True)]


def scan_photo(session: Session, meeting_id: int, photo: bytes, now: datetime | None = None) -> ScanResult:
    """Answer a photo of a ticket: the first of our codes on it, else why nothing was read."""
    texts = codes_in_photo(photo)
    if not texts:
        return ScanResult("no_code")
    ours = [text for text in texts if read_code(text)]
    return scan(session, meeting_id, (ours or texts)[0], now)


# ---------------------------------------------------------------------------- the « accueil » team


def name_door_keeper(
    session: Session, meeting_id: int, full_name: str, email: str, settings: Settings, now: datetime | None = None
) -> int:
    """Name a person « accueil » for a meeting: they are e-mailed a personal link to its door page."""
    now = now or utcnow()
    meeting = _meeting(session, meeting_id)
    errors: dict[str, DomainError] = {}
    name = full_name.strip()
    if not name:
        errors["full_name"] = DomainError("field_required", field="full_name")
    elif len(name) > MAX_TEXT["full_name"]:
        errors["full_name"] = DomainError("text_too_long", field="full_name", maximum=MAX_TEXT["full_name"])
    address = ""
    try:
        address = normalise_email(email)
    except DomainError as error:
        errors["email"] = error
    if errors:
        raise InvalidAnswers(errors)
    if meeting.ends_at + DOOR_PASS_AFTER_END <= now:
        raise DomainError("meeting_over")
    token = links.new_token()
    door_pass = DoorPass(meeting_id=meeting_id, full_name=name, email=address, token_hash=links.token_hash(token))
    session.add(door_pass)
    session.flush()
    link = links.personal_link(settings.base_url, DOOR_PAGE_PATH, token)
    mail.enqueue(
        session,
        recipient=address,
        subject=f"Accueil de la rencontre : {meeting.title}",
        body=(
            f"Bonjour {name},\n\n"
            f"La direction du programme vous confie l'accueil de « {meeting.title} », le "
            f"{paris_time(meeting.starts_at, '%d/%m/%Y à %H:%M')} (heure de Paris).\n\n"
            "Ce lien ouvre la page d'accueil de cette rencontre, sur un téléphone ou un ordinateur : lecture des "
            "billets (douchette ou appareil photo), recherche par nom, nombre d'arrivées. Il est personnel : ne le "
            "transmettez pas. Il fonctionne jusqu'au lendemain de la rencontre.\n"
            f"{link}\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="door_pass",
        link=link,
    )
    return door_pass.id


def door_keepers(session: Session, meeting_id: int) -> list[DoorKeeper]:
    """The people named « accueil » for a meeting, in the order they were named."""
    passes = session.scalars(select(DoorPass).where(DoorPass.meeting_id == meeting_id).order_by(DoorPass.id))
    return [DoorKeeper(p.id, p.full_name, p.email, p.created_at, p.revoked_at) for p in passes]


def revoke_door_pass(session: Session, meeting_id: int, pass_id: int, now: datetime | None = None) -> None:
    """Withdraw a door link: it opens nothing from the next click on."""
    door_pass = session.get(DoorPass, pass_id)
    if door_pass is None or door_pass.meeting_id != meeting_id:
        raise DomainError("unknown_door_pass")
    if door_pass.revoked_at is None:
        door_pass.revoked_at = now or utcnow()


def open_door_pass(session: Session, token: str | None, now: datetime | None = None) -> DoorAccess:
    """The meeting a door link opens, for whom; invalid_door_link if it is unknown, withdrawn or past."""
    now = now or utcnow()
    door_pass = links.find_by_token(session, DoorPass, (token or "").strip())
    if door_pass is None or door_pass.revoked_at is not None:
        raise DomainError("invalid_door_link")
    meeting = _meeting(session, door_pass.meeting_id)
    if meeting.ends_at + DOOR_PASS_AFTER_END <= now:
        raise DomainError("invalid_door_link")
    return DoorAccess(door_pass.meeting_id, door_pass.full_name)


# ---------------------------------------------------------------------------- retention and data rights


def expired_door_passes(session: Session, now: datetime) -> list[tuple[int, str]]:
    """Door links whose meeting ended more than DOOR_PASS_RETENTION ago (privacy.PURGE_STEPS deletes them)."""
    rows = session.execute(
        select(DoorPass.id, DoorPass.full_name, Meeting.title, Meeting.ends_at)
        .join(Meeting, Meeting.id == DoorPass.meeting_id)
        .where(Meeting.ends_at < now - DOOR_PASS_RETENTION)
        .order_by(Meeting.ends_at, DoorPass.id)
    ).all()
    return [
        (row.id, f"lien d'accueil de {row.full_name} pour « {row.title} » du {paris_time(row.ends_at, '%d/%m/%Y')}")
        for row in rows
    ]


def delete_door_passes(session: Session, ids: list[int]) -> None:
    """Delete door links (their names and e-mails with them)."""
    for start in range(0, len(ids), 500):
        session.execute(delete(DoorPass).where(DoorPass.id.in_(ids[start : start + 500])))


def door_pass_personal_data(session: Session, email: str) -> list[dict[str, object]]:
    """What is held about one e-mail address as a member of an « accueil » team (access request)."""
    rows = session.execute(
        select(DoorPass, Meeting.title, Meeting.starts_at)
        .join(Meeting, Meeting.id == DoorPass.meeting_id)
        .where(DoorPass.email == normalise_email(email))
        .order_by(DoorPass.id)
    ).all()
    return [
        {
            "rencontre": title,
            "date": paris_time(starts_at),
            "nom": door_pass.full_name,
            "e-mail": door_pass.email,
            "nomme_le": paris_time(door_pass.created_at),
            "retire_le": paris_time(door_pass.revoked_at) if door_pass.revoked_at else None,
        }
        for door_pass, title, starts_at in rows
    ]


def erase_door_passes(session: Session, email: str, settings: Settings) -> int:
    """Delete one e-mail address's door links (they open nothing any more); returns how many."""
    ids = list(session.scalars(select(DoorPass.id).where(DoorPass.email == normalise_email(email))))
    delete_door_passes(session, ids)
    return len(ids)
