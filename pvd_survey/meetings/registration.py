"""Registration: limited places, waiting list, cancellation (the freed place is offered: offers.py).

The capacity guarantee. Every registration attempt, cancellation and capacity change of a meeting
starts by taking that meeting's row lock (`_arrive`, `_locked`): PostgreSQL holds it until commit,
and on SQLite every write transaction is BEGIN IMMEDIATE (see db.py), so the attempts on one
meeting are serialised without any "database is locked" error reaching a person. A place is taken
only while `confirmed_count < capacity`, and a CHECK constraint on the table refuses any state
above capacity even if a future code path forgot the rule. Arrival numbers come from the same
locked row, so the waiting list is in the order the attempts were served.

On PostgreSQL a new registration runs those statements in one call of the function `pvd_register`
(migration 0007, `_register_in_one_call`), so the row lock is held for one round trip and the commit.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import case, func, select, text, update
from sqlalchemy.orm import Session

from pvd_survey import disclosure, links, mail, territory
from pvd_survey.accounts import normalise_email
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.db import dialect_insert
from pvd_survey.errors import DomainError, InvalidAnswers
from pvd_survey.meetings.common import (
    MAX_TEXT,
    ROLE_LABELS,
    PrivateView,
    RegistrationForm,
    RegistrationOutcome,
    _free_seats,
    _give_back,
    _locked,
    _new_reference,
    _take_seat,
    get_meeting,
    private_link,
)
from pvd_survey.meetings.documents import calendar_file
from pvd_survey.meetings.messages import (
    _send_cancellation_mail,
    _send_status_mail,
    _status_mail,
)
from pvd_survey.meetings.offers import _pass_on, expire_offers
from pvd_survey.meetings.tickets import ticket_hash
from pvd_survey.models import Meeting, Registration
from pvd_survey.vocabulary import ATTENDEE_ROLES

# ---------------------------------------------------------------------------- registration

# A new registration on PostgreSQL is one call of the function pvd_register (migration 0007); the
# tests turn this off to compare it with the portable path, statement by statement.
ONE_CALL_ON_POSTGRESQL = True


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


def _resend(
    session: Session, meeting: Meeting, existing: Registration, settings: Settings, now: datetime
) -> RegistrationOutcome:
    """A second attempt with the same e-mail: say so, and send the confirmation again with a fresh link."""
    token = links.new_token()
    existing.token_hash = links.token_hash(token)
    position = _position(session, existing)
    _send_status_mail(session, meeting, existing, token, settings, now, position, resent=True)
    return RegistrationOutcome(existing.reference, existing.status, position, True, existing.email or "")


def register(
    session: Session,
    meeting_id: int,
    form: RegistrationForm,
    settings: Settings,
    now: datetime | None = None,
    notify: bool = True,
) -> RegistrationOutcome:
    """Register a person: a confirmed place if one is free, else the waiting list; one per e-mail.

    Without `notify` (the demo's people, who do not exist) no e-mail is written, nor its ticket drawn.
    """
    now = now or utcnow()
    email, department = validate_registration(form)
    # The meeting and this e-mail's registration to it, if any, in one query (one round trip fewer).
    row = session.execute(
        select(Meeting, Registration)
        .outerjoin(Registration, (Registration.meeting_id == Meeting.id) & (Registration.email == email))
        .where(Meeting.id == meeting_id)
    ).one_or_none()
    if row is None:
        raise DomainError("unknown_meeting")
    meeting: Meeting
    existing: Registration | None  # the outer join's: None when this e-mail never registered to the meeting
    meeting, existing = row
    _check_open(meeting, now)
    if form.attendee_role not in meeting.audiences.split("|"):
        raise DomainError("audience_not_admitted", role=ROLE_LABELS[form.attendee_role].lower())
    expires = existing.offer_expires_at if existing is not None and existing.status == "offered" else None
    if expires is not None and expires <= now:
        # An offer past its deadline that the background pass has not reached yet: it ends now (the person is told),
        # and they register again at the end of the line, like anyone after a cancellation.
        expire_offers(session, settings, now, meeting_id=meeting_id)
        session.refresh(existing)
    if existing is not None and existing.status != "cancelled":
        return _resend(session, meeting, existing, settings, now)
    # Everything that needs no lock is prepared first: the lock taken below is held until commit,
    # and every other attempt on this meeting waits for it.
    token = links.new_token()
    reference = existing.reference if existing is not None else _new_reference()
    calendar = calendar_file(meeting, reference, private_link(settings, token), now) if notify else b""
    values = {
        "meeting_id": meeting_id,
        "email": email,
        "full_name": form.full_name.strip(),
        "attendee_role": form.attendee_role,
        "organisation": form.organisation.strip(),
        "department": department,
        "needs": form.needs.strip(),
        "token_hash": links.token_hash(token),
        "ticket_hash": ticket_hash(settings.secret_key, meeting_id, reference),
        "consented_at": now,
        "created_at": now,
        "cancelled_at": None,
        "cancelled_by": None,
        "reminded_at": None,
        "checked_in_at": None,
        "offered_at": None,
        "offer_expires_at": None,
        "offer_outcome": None,
    }

    if existing is None and notify and ONE_CALL_ON_POSTGRESQL and session.get_bind().dialect.name == "postgresql":
        return _register_in_one_call(session, meeting, values, reference, token, calendar, settings, now)
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
            winner = session.execute(
                select(Registration).where(Registration.meeting_id == meeting_id, Registration.email == email)
            ).scalar_one()  # the row that won the unique constraint
            return _resend(session, meeting, winner, settings, now)
        # The row as inserted, without reading it back while the lock is held.
        registration = Registration(id=inserted, reference=reference, **values)
    position = _position(session, registration)
    if notify:
        _send_status_mail(session, meeting, registration, token, settings, now, position, calendar=calendar)
    return RegistrationOutcome(registration.reference, status, position, False, email)


def _register_in_one_call(
    session: Session,
    meeting: Meeting,
    values: dict[str, object],
    reference: str,
    token: str,
    calendar: bytes,
    settings: Settings,
    now: datetime,
) -> RegistrationOutcome:
    """A new registration on PostgreSQL: the same statements as below, in one call of `pvd_register`.

    The meeting's row lock is held from the function's first statement to the commit: one round
    trip instead of four, which is what the 16 writers queue on (migration 0007 has the function).
    Both possible e-mails are written first, the waiting one with a marker where the position goes.
    """
    marker = f"[position-{secrets.token_hex(8)}]"
    confirmed = SimpleNamespace(**values, reference=reference, status="confirmed")
    waiting = SimpleNamespace(**values, reference=reference, status="waiting")
    confirmed_mail = _status_mail(meeting, confirmed, token, settings, now, calendar=calendar)
    waiting_mail = _status_mail(meeting, waiting, token, settings, now, position=marker)
    # As the ORM stores them: a message without attachments holds JSON null (not SQL NULL).
    attachments = {
        name: json.dumps(mail.stored_attachments(message["attachments"]))
        for name, message in (("confirmed", confirmed_mail), ("waiting", waiting_mail))
    }
    row = session.execute(
        _REGISTER_CALL,
        {
            **{name: values[name] for name in _REGISTER_VALUES},
            "reference": reference,
            "record_key": disclosure.new_record_key(),
            "now": now,
            "mail_now": utcnow(),
            "link": confirmed_mail["link"],
            "confirmed_subject": confirmed_mail["subject"],
            "confirmed_body": confirmed_mail["body"],
            "confirmed_kind": confirmed_mail["kind"],
            "confirmed_attachments": attachments["confirmed"],
            "waiting_subject": waiting_mail["subject"],
            "waiting_body": waiting_mail["body"],
            "waiting_kind": waiting_mail["kind"],
            "waiting_attachments": attachments["waiting"],
            "marker": marker,
        },
    ).one()
    if row.o_arrival is None:
        raise DomainError("unknown_meeting")
    email = str(values["email"])
    if row.o_registration_id is None:  # the same e-mail a moment ago: its place was given back
        winner = session.execute(
            select(Registration).where(Registration.meeting_id == meeting.id, Registration.email == email)
        ).scalar_one()  # the row that won the unique constraint
        return _resend(session, meeting, winner, settings, now)
    return RegistrationOutcome(reference, "confirmed" if row.o_seated else "waiting", row.o_position, False, email)


_REGISTER_VALUES = (
    "meeting_id",
    "email",
    "full_name",
    "attendee_role",
    "organisation",
    "department",
    "needs",
    "token_hash",
    "ticket_hash",
)
_REGISTER_CALL = text(
    "SELECT o_arrival, o_seated, o_registration_id, o_position FROM pvd_register("
    + ", ".join(
        f"p_{name} => :{name}"
        for name in (
            *_REGISTER_VALUES,
            "reference",
            "record_key",
            "now",
            "mail_now",
            "link",
            "confirmed_subject",
            "confirmed_body",
            "confirmed_kind",
        )
    )
    + ", p_confirmed_attachments => CAST(:confirmed_attachments AS json)"
    + ", p_waiting_subject => :waiting_subject, p_waiting_body => :waiting_body, p_waiting_kind => :waiting_kind"
    + ", p_waiting_attachments => CAST(:waiting_attachments AS json), p_position_marker => :marker)"
)


# ---------------------------------------------------------------------------- cancellation and promotion


def _promote_waiting(session: Session, meeting: Meeting, settings: Settings, now: datetime) -> list[Registration]:
    """A larger capacity: give every new place to the first in line at once, in order; the meeting must be locked.

    The first in line are those holding an offer (a place freed by a cancellation, held until the offer's deadline:
    offers.py): while a place is free, theirs becomes theirs for sure before anyone behind them is confirmed. Their
    place is already counted, so the free place goes on to the next person waiting.
    """
    promoted: list[Registration] = []
    while True:
        first = session.scalar(
            select(Registration)
            .where(Registration.meeting_id == meeting.id, Registration.status.in_(("offered", "waiting")))
            .order_by(Registration.arrival)
            .limit(1)
        )
        if first is None:
            break
        if first.status == "offered":
            if not _free_seats(session, meeting.id):
                break
            first.offer_outcome = "enlarged"
        elif not _take_seat(session, meeting.id):
            break
        first.status = "confirmed"
        first.confirmed_at = now
        # A fresh private link: the old one was only ever in the waiting-list e-mail.
        token = links.new_token()
        first.token_hash = links.token_hash(token)
        session.flush()
        promoted.append(first)
        _send_status_mail(session, meeting, first, token, settings, now, promoted=True)
    session.refresh(meeting)
    return promoted


def _cancel(
    session: Session, registration: Registration, by: str, settings: Settings, now: datetime
) -> list[Registration]:
    """Cancel under the meeting's lock; returns the person the freed place was offered to, if any."""
    meeting = _locked(session, registration.meeting_id)
    session.refresh(registration)
    if registration.status == "cancelled":
        raise DomainError("already_cancelled")
    if now >= meeting.starts_at:
        raise DomainError("meeting_started")
    held = registration.status in ("confirmed", "offered")  # a place counted in the seat counter
    if registration.status == "offered":  # cancelling a running offer declines it (or the direction withdraws it)
        registration.offer_outcome = "declined" if by == "participant" else "withdrawn"
    registration.status = "cancelled"
    registration.cancelled_at = now
    registration.cancelled_by = by
    session.flush()
    if not held:
        return []
    # The freed place is offered to the first person waiting (held for them), not given at once: meetings/offers.py.
    offered = _pass_on(session, meeting, settings, now)
    return [offered] if offered is not None else []


def _by_token(session: Session, token: str | None) -> Registration:
    registration = links.find_by_token(session, Registration, (token or "").strip())
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
        registration.offer_expires_at,
        registration.offer_outcome,
        registration.status == "offered"
        and registration.offer_expires_at is not None
        and now < registration.offer_expires_at
        and now < meeting.starts_at,
    )


def cancel_by_token(session: Session, token: str | None, settings: Settings, now: datetime | None = None) -> int:
    """Cancel through the private link; returns to how many people the freed place was offered (0 or 1)."""
    now = now or utcnow()
    registration = _by_token(session, token)
    promoted = _cancel(session, registration, "participant", settings, now)
    _send_cancellation_mail(session, registration, settings)
    return len(promoted)


def cancel_by_direction(
    session: Session, meeting_id: int, registration_id: int, settings: Settings, now: datetime | None = None
) -> int:
    """Cancel a registration on a person's behalf (they are told); returns to how many the place was offered."""
    registration = session.get(Registration, registration_id)
    if registration is None or registration.meeting_id != meeting_id:
        raise DomainError("unknown_registration")
    promoted = _cancel(session, registration, "direction", settings, now or utcnow())
    _send_cancellation_mail(session, registration, settings)
    return len(promoted)
