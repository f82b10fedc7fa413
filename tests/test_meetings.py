"""Meeting services on the test database: registration, waiting list, cancellation, check-in, data rights."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import replace
from datetime import timedelta

import pytest
from icalendar import Calendar
from pypdf import PdfReader
from sqlalchemy import func, select, text

from pvd_survey import mail, meetings, privacy
from pvd_survey.errors import DomainError, InvalidAnswers
from pvd_survey.models import Meeting, OutboxMessage, Registration, utcnow
from tests.factories import meeting_form, person, token_of


def outbox(session, kind: str | None = None) -> list[OutboxMessage]:
    """Messages written to the outbox, oldest first."""
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(session.scalars(query))


@pytest.fixture
def meeting_id(session) -> int:
    """A meeting with 2 places."""
    return meetings.create_meeting(session, meeting_form())


# ---------------------------------------------------------------------------- the direction's edits


def test_create_meeting_rejects_each_bad_field_and_stores_nothing(session):
    now = utcnow()
    bad = meeting_form(
        title=" ",
        capacity=0,
        ends_at=now + timedelta(days=9),
        registration_closes_at=now + timedelta(days=11),
        audiences=(),
        online_url="javascript:alert(1)",
    )
    with pytest.raises(InvalidAnswers) as raised:
        meetings.create_meeting(session, bad)
    assert {field: error.code for field, error in raised.value.errors.items()} == {
        "title": "field_required",
        "capacity": "bad_capacity",
        "ends_at": "ends_before_start",
        "registration_closes_at": "deadline_after_start",
        "audiences": "audiences_required",
        "online_url": "bad_url",
    }
    assert session.scalar(select(func.count()).select_from(Meeting)) == 0


def test_lowering_capacity_below_confirmed_is_refused(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(1), settings)
    meetings.register(session, meeting_id, person(2), settings)
    with pytest.raises(InvalidAnswers) as raised:
        meetings.update_meeting(session, meeting_id, meeting_form(capacity=1), settings)
    assert raised.value.errors["capacity"].code == "capacity_below_confirmed"
    assert raised.value.errors["capacity"].params == {"capacity": 1, "taken": 2, "confirmed": 2, "offered": 0}
    assert meetings.get_meeting(session, meeting_id).capacity == 2


def test_raising_capacity_promotes_the_waiting_list_in_order(session, settings, meeting_id):
    for number in range(1, 6):
        meetings.register(session, meeting_id, person(number), settings)
    promoted = meetings.update_meeting(session, meeting_id, meeting_form(capacity=4), settings).promoted
    assert promoted == ["personne.3@mairie.fr", "personne.4@mairie.fr"]
    lists = meetings.roster(session, meeting_id)
    assert [p.email for p in lists.waiting] == ["personne.5@mairie.fr"] and lists.waiting[0].position == 1
    assert lists.meeting.confirmed == 4
    assert [m.recipient for m in outbox(session, "meeting_promoted")] == promoted


def test_a_new_time_or_place_is_announced_with_an_updated_calendar(session, settings, meeting_id):
    for number in (1, 2, 3):
        meetings.register(session, meeting_id, person(number), settings)
    original = meetings.get_meeting(session, meeting_id)
    # Changing only the description announces nothing.
    unchanged = meetings.update_meeting(
        session, meeting_id, replace(original.form(), description="Programme détaillé."), settings
    )
    assert unchanged.notified == 0 and outbox(session, "meeting_changed") == []
    later = original.starts_at + timedelta(hours=2)
    moved = replace(original.form(), starts_at=later, ends_at=later + timedelta(hours=5), venue="Salle Rameau")
    assert meetings.update_meeting(session, meeting_id, moved, settings).notified == 3
    changes = outbox(session, "meeting_changed")
    assert sorted(m.recipient for m in changes) == [f"personne.{n}@mairie.fr" for n in (1, 2, 3)]
    confirmed = next(m for m in changes if m.recipient == "personne.1@mairie.fr")
    import base64

    (event,) = Calendar.from_ical(base64.b64decode(confirmed.attachments[0]["content_base64"])).walk("VEVENT")
    assert int(event["sequence"]) == 1 and "Salle Rameau" in str(event["location"])
    first_ics = Calendar.from_ical(
        base64.b64decode(outbox(session, "meeting_confirmed")[0].attachments[0]["content_base64"])
    )
    assert str(first_ics.walk("VEVENT")[0]["uid"]) == str(event["uid"])  # the same event, updated
    waiting = next(m for m in changes if m.recipient == "personne.3@mairie.fr")
    assert not waiting.attachments and "position 1" in waiting.body
    # The link in the newest e-mail works.
    assert meetings.open_private_link(session, token_of(confirmed)).status == "confirmed"


# ---------------------------------------------------------------------------- registration


def test_register_confirms_then_waitlists_with_positions_and_mails(session, settings, meeting_id):
    first = meetings.register(session, meeting_id, person(1), settings)
    meetings.register(session, meeting_id, person(2), settings)
    third = meetings.register(session, meeting_id, person(3), settings)
    fourth = meetings.register(session, meeting_id, person(4), settings)
    assert (first.status, first.position) == ("confirmed", None)
    assert (third.status, third.position) == ("waiting", 1)
    assert (fourth.status, fourth.position) == ("waiting", 2)
    assert first.reference.startswith("RV-") and len(first.reference) == 11
    info = meetings.get_meeting(session, meeting_id)
    assert (info.confirmed, info.waiting, info.places_left) == (2, 2, 0)
    confirmed_mail = outbox(session, "meeting_confirmed")[0]
    assert confirmed_mail.recipient == "personne.1@mairie.fr"
    assert "/inscription?jeton=" in confirmed_mail.link
    waiting_mail = outbox(session, "meeting_waiting")[0]
    assert "position 1" in waiting_mail.subject and not waiting_mail.attachments


def test_confirmation_carries_a_valid_calendar_file(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(1), settings)
    message = outbox(session, "meeting_confirmed")[0]
    attachment, *_ticket = message.attachments  # then the ticket (test_meeting_tickets.py)
    assert attachment["filename"] == "rencontre.ics" and attachment["content_type"] == "text/calendar"
    import base64

    calendar = Calendar.from_ical(base64.b64decode(attachment["content_base64"]))
    (event,) = calendar.walk("VEVENT")
    meeting = meetings.get_meeting(session, meeting_id)
    assert str(event["summary"]) == meeting.title
    assert event.decoded("dtstart").replace(tzinfo=None) == meeting.starts_at.replace(microsecond=0)
    assert event.decoded("dtend") > event.decoded("dtstart")
    assert "Dijon" in str(event["location"])
    assert token_of(message) in str(event["description"])


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"email": "pas-une-adresse"}, "email", "invalid_email"),
        ({"full_name": "  "}, "full_name", "field_required"),
        ({"consent": False}, "consent", "consent_required"),
        ({"attendee_role": "ministre"}, "attendee_role", "field_required"),
        ({"department": "999"}, "department", "unknown_department"),
        ({"organisation": "x" * 201}, "organisation", "text_too_long"),
    ],
)
def test_bad_registration_is_refused_and_stores_nothing(session, settings, meeting_id, overrides, field, code):
    with pytest.raises(InvalidAnswers) as raised:
        meetings.register(session, meeting_id, person(1, **overrides), settings)
    assert raised.value.errors[field].code == code
    assert session.scalar(select(func.count()).select_from(Registration)) == 0
    assert outbox(session) == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"registration_opens_at": utcnow() + timedelta(days=1)}, "registration_not_open"),
        (
            {
                "registration_opens_at": utcnow() - timedelta(days=3),
                "registration_closes_at": utcnow() - timedelta(days=1),
            },
            "registration_closed",
        ),
        ({"audiences": ("elu",)}, "audience_not_admitted"),
    ],
)
def test_registration_outside_its_window_or_audience_is_refused(session, settings, overrides, code):
    meeting_id = meetings.create_meeting(session, meeting_form(**overrides))
    with pytest.raises(DomainError) as raised:
        meetings.register(session, meeting_id, person(1), settings)
    assert raised.value.code == code
    assert session.scalar(select(func.count()).select_from(Registration)) == 0


def test_unknown_meeting_is_refused(session, settings):
    with pytest.raises(DomainError) as raised:
        meetings.register(session, 4242, person(1), settings)
    assert raised.value.code == "unknown_meeting"
    for raw in ("", "abc", "-1", "1e3", "9" * 40):
        with pytest.raises(DomainError):
            meetings.parse_meeting_id(raw)


def test_a_second_attempt_with_the_same_email_resends_and_stores_one(session, settings, meeting_id):
    first = meetings.register(session, meeting_id, person(1), settings)
    again = meetings.register(session, meeting_id, person(1, email="  Personne.1@MAIRIE.fr "), settings)
    assert again.already_registered and again.reference == first.reference and again.status == "confirmed"
    assert session.scalar(select(func.count()).select_from(Registration)) == 1
    messages = outbox(session, "meeting_confirmed")
    assert len(messages) == 2 and "déjà inscrit" in messages[1].body
    # The newest link works, the older one no longer does.
    assert meetings.open_private_link(session, token_of(messages[1])).reference == first.reference
    with pytest.raises(DomainError):
        meetings.open_private_link(session, token_of(messages[0]))


def _stored(session, meeting_id: int) -> list[tuple]:
    """A meeting's registrations and their e-mails as stored, without what is random or names the meeting."""
    rows = []
    for registration in session.scalars(
        select(Registration).where(Registration.meeting_id == meeting_id).order_by(Registration.arrival)
    ):
        assert 0 <= registration.record_key < 256  # the cell-key method's record key is set
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == registration.email).order_by(OutboxMessage.id.desc())
        ).first()
        assert hashlib.sha256(token_of(message).encode()).hexdigest() == registration.token_hash
        attachments_null = session.execute(
            text("SELECT attachments IS NULL FROM outbox_message WHERE id = :id"), {"id": message.id}
        ).scalar_one()

        def neutral(value: str, registration=registration, message=message) -> str:
            return (
                value.replace(registration.reference, "REF")
                .replace(token_of(message), "TOKEN")
                .replace(f"rencontre-{meeting_id}-", "rencontre-ID-")
            )

        calendars = [
            neutral(base64.b64decode(item["content_base64"]).decode())
            for item in message.attachments or []
            if item["content_type"] == "text/calendar"  # (the ticket's PDF and PNG are bytes)
        ]
        assert registration.ticket_hash is not None
        columns = {
            name: getattr(registration, name)
            for name in (column.name for column in Registration.__table__.columns)
            if name not in ("id", "meeting_id", "reference", "token_hash", "ticket_hash", "record_key")
        }
        rows.append(
            (
                columns,
                message.subject,
                neutral(message.body),
                neutral(message.link),
                message.kind,
                message.status,
                message.attempts,
                attachments_null,
                [(item["filename"], item["content_type"]) for item in message.attachments or []],
                calendars,
            )
        )
    return rows


def test_one_call_registration_stores_what_the_portable_path_stores(session, settings, monkeypatch):
    # On PostgreSQL a new registration is one call of pvd_register (migration 0007); this compares
    # it with the statements SQLite runs (on SQLite both sides take that path).
    from pvd_survey.meetings import registration as service

    now = utcnow()
    form = meeting_form(capacity=2)  # one form: both meetings start at the same second, as their .ics must say
    stored = []
    for one_call in (True, False):
        monkeypatch.setattr(service, "ONE_CALL_ON_POSTGRESQL", one_call)
        meeting_id = meetings.create_meeting(session, form)
        outcomes = [
            meetings.register(session, meeting_id, person(number, needs="Repas végétarien"), settings, now=now)
            for number in range(1, 5)
        ]
        assert [(o.status, o.position, o.already_registered) for o in outcomes] == [
            ("confirmed", None, False),
            ("confirmed", None, False),
            ("waiting", 1, False),
            ("waiting", 2, False),
        ]
        stored.append(_stored(session, meeting_id))
    assert len(stored[0]) == len(stored[1])
    for one_call_row, portable_row in zip(*stored, strict=True):
        for index, (one_call_value, portable_value) in enumerate(zip(one_call_row, portable_row, strict=True)):
            assert one_call_value == portable_value, index
    assert [row[4] for row in stored[0]] == ["meeting_confirmed"] * 2 + ["meeting_waiting"] * 2
    assert "position 2" in stored[0][3][1] and "position 2" in stored[0][3][2]


# ---------------------------------------------------------------------------- cancellation


def test_cancelling_offers_the_place_to_the_first_in_line_who_accepts(session, settings, meeting_id):
    for number in range(1, 5):
        meetings.register(session, meeting_id, person(number), settings)
    token = token_of(outbox(session, "meeting_confirmed")[0])
    assert meetings.cancel_by_token(session, token, settings) == 1
    lists = meetings.roster(session, meeting_id)
    # The place is held for personne.3 while the offer runs: not confirmed yet, not free for anyone else.
    assert [p.email for p in lists.confirmed] == ["personne.2@mairie.fr"]
    assert [(p.email, p.status, p.position) for p in lists.waiting] == [
        ("personne.3@mairie.fr", "offered", None),
        ("personne.4@mairie.fr", "waiting", 1),
    ]
    assert lists.waiting[0].offer.startswith("Place proposée jusqu'au ")
    assert (lists.meeting.confirmed, lists.meeting.offered, lists.meeting.places_left) == (1, 1, 0)
    assert [p.email for p in lists.cancelled] == ["personne.1@mairie.fr"]
    # The direction's figures count it (the only check of this aggregate's cancelled rows on PostgreSQL).
    counted = {line.meeting.id: line.cancellations for line in meetings.dashboard_figures(session).meetings}
    assert counted[meeting_id] == 1
    (offer,) = outbox(session, "meeting_offered")
    assert offer.recipient == "personne.3@mairie.fr" and not offer.attachments
    assert outbox(session, "meeting_cancelled")[0].recipient == "personne.1@mairie.fr"
    assert meetings.accept_offer(session, token_of(offer), settings) is True
    lists = meetings.roster(session, meeting_id)
    assert sorted(p.email for p in lists.confirmed) == ["personne.2@mairie.fr", "personne.3@mairie.fr"]
    assert [(p.email, p.position) for p in lists.waiting] == [("personne.4@mairie.fr", 1)]
    (promotion,) = outbox(session, "meeting_promoted")
    assert promotion.recipient == "personne.3@mairie.fr" and promotion.attachments
    # The link now shows the cancellation and cannot cancel twice.
    view = meetings.open_private_link(session, token)
    assert view.status == "cancelled" and not view.can_cancel
    with pytest.raises(DomainError) as raised:
        meetings.cancel_by_token(session, token, settings)
    assert raised.value.code == "already_cancelled"


def test_cancelling_from_the_waiting_list_moves_the_others_up(session, settings, meeting_id):
    for number in range(1, 6):
        meetings.register(session, meeting_id, person(number), settings)
    waiting_token = token_of(outbox(session, "meeting_waiting")[0])  # personne.3
    assert meetings.cancel_by_token(session, waiting_token, settings) == 0
    lists = meetings.roster(session, meeting_id)
    assert [(p.email, p.position) for p in lists.waiting] == [("personne.4@mairie.fr", 1), ("personne.5@mairie.fr", 2)]
    assert lists.meeting.confirmed == 2


def test_registering_again_after_cancelling_goes_to_the_end_of_the_line(session, settings, meeting_id):
    for number in range(1, 4):
        meetings.register(session, meeting_id, person(number), settings)
    meetings.cancel_by_token(session, token_of(outbox(session, "meeting_confirmed")[0]), settings)
    again = meetings.register(session, meeting_id, person(1), settings)
    assert (again.status, again.position, again.already_registered) == ("waiting", 1, False)


def test_bad_or_stale_links_are_refused(session, settings):
    for token in (None, "", "x" * 43):
        with pytest.raises(DomainError) as raised:
            meetings.open_private_link(session, token)
        assert raised.value.code == "invalid_registration_link"


def test_direction_cancels_for_someone_of_that_meeting_only(session, settings, meeting_id):
    other = meetings.create_meeting(session, meeting_form(title="Atelier"))
    meetings.register(session, meeting_id, person(1), settings)
    registration_id = meetings.roster(session, meeting_id).confirmed[0].id
    with pytest.raises(DomainError) as raised:
        meetings.cancel_by_direction(session, other, registration_id, settings)
    assert raised.value.code == "unknown_registration"
    meetings.cancel_by_direction(session, meeting_id, registration_id, settings)
    assert "direction du programme a annulé" in outbox(session, "meeting_cancelled")[0].body


# ---------------------------------------------------------------------------- lists, exports, check-in


def test_exports_and_sign_in_sheet(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(1, full_name='=HYPERLINK("x")', organisation="Œuvre"), settings)
    meetings.register(session, meeting_id, person(2, full_name="Hélène Dœuf"), settings)
    meetings.register(session, meeting_id, person(3), settings)
    lists = meetings.roster(session, meeting_id)
    rows = meetings.export_rows(lists)
    assert [row[1] for row in rows] == ["Confirmée", "Confirmée", "Liste d'attente"]
    assert rows[2][2] == 1
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(meetings.sign_in_sheet_pdf(lists))).pages)
    assert "Feuille d'émargement" in text and "Hélène Dœuf" in text and "Œuvre" in text
    assert "Personne 3" not in text  # waiting list is not on the sheet


def test_check_in_searches_without_accents_and_marks_present(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(1, full_name="Hélène Dupré"), settings)
    meetings.register(session, meeting_id, person(2, full_name="Marc Durand"), settings)
    meetings.register(session, meeting_id, person(3, full_name="Helene Waiting"), settings)
    (found,) = meetings.search_attendees(session, meeting_id, "helene")
    assert found.full_name == "Hélène Dupré"
    meetings.set_present(session, meeting_id, found.id, True)
    assert meetings.roster(session, meeting_id).present == 1
    waiting = meetings.roster(session, meeting_id).waiting[0]
    with pytest.raises(DomainError) as raised:
        meetings.set_present(session, meeting_id, waiting.id, True)
    assert raised.value.code == "not_confirmed"
    meetings.set_present(session, meeting_id, found.id, False)
    assert meetings.roster(session, meeting_id).present == 0


def test_reminders_are_sent_once_to_confirmed_people(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(1), settings)
    meetings.register(session, meeting_id, person(2), settings)
    meetings.register(session, meeting_id, person(3), settings)
    start = meetings.get_meeting(session, meeting_id).starts_at
    assert meetings.send_due_reminders(session, settings, now=start - timedelta(days=3)) == 0
    assert meetings.send_due_reminders(session, settings, now=start - timedelta(days=1)) == 2
    assert meetings.send_due_reminders(session, settings, now=start - timedelta(hours=2)) == 0
    assert sorted(m.recipient for m in outbox(session, "meeting_reminder")) == [
        "personne.1@mairie.fr",
        "personne.2@mairie.fr",
    ]
    no_reminders = replace(settings, meeting_reminder_days=0)
    assert meetings.send_due_reminders(session, no_reminders, now=start - timedelta(hours=1)) == 0


def test_dashboard_attendance_hides_small_groups(session, settings):
    now = utcnow()
    meeting_id = meetings.create_meeting(session, meeting_form(capacity=20))
    roles = ["chef_de_projet"] * 8 + ["elu"] * 5 + ["partenaire"]
    for number, role in enumerate(roles, start=1):
        meetings.register(session, meeting_id, person(number, attendee_role=role), settings)
    chefs = [p for p in meetings.roster(session, meeting_id).confirmed if p.attendee_role == "chef_de_projet"]
    for attendee in chefs[:6]:
        meetings.set_present(session, meeting_id, attendee.id, True)
    after = meetings.get_meeting(session, meeting_id).starts_at + timedelta(hours=1)
    figures = meetings.dashboard_figures(session, k=5, now=after)
    (line,) = figures.meetings
    assert (line.meeting.confirmed, line.present, line.fill_rate) == (14, 6, 70.0)
    # Counts that describe people are perturbed (by 2 at most; 6 = k + 1 people by 1 at most).
    by_role = {row.group: row for row in figures.by_role}
    chefs_row = by_role["Chef de projet"]
    assert abs(chefs_row.confirmed - 8) <= 2 and abs(chefs_row.present - 6) <= 2
    assert chefs_row.rate == round(100 * chefs_row.present / chefs_row.confirmed, 1)
    # One partner alone is hidden, and the élus too, or the partner could be recovered from the total.
    assert by_role["Partenaire"].confirmed is None and by_role["Élu ou élue"].confirmed is None
    (region,) = figures.by_region
    assert region.group == "Bourgogne-Franche-Comté" and abs(region.confirmed - 14) <= 2
    # The same six people present: the same cell, the same published value.
    assert region.present == chefs_row.present
    # Before the meeting, attendance is not reported.
    assert meetings.dashboard_figures(session, k=5, now=now).by_role == []


# ---------------------------------------------------------------------------- personal data


def test_purge_anonymises_a_year_after_the_meeting(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(1), settings)
    ends = meetings.get_meeting(session, meeting_id).ends_at

    def purged(days: int, dry_run: bool = False) -> list[str]:
        items = privacy.purge(session, settings, now=ends + timedelta(days=days), dry_run=dry_run)
        return [item.description for item in items if item.step.startswith("inscriptions aux rencontres")]

    assert purged(300) == []
    (line,) = purged(366, dry_run=True)
    assert line.startswith("inscription RV-")
    assert meetings.personal_data(session, "personne.1@mairie.fr") != []
    assert purged(366) == [line]
    session.expire_all()
    assert meetings.personal_data(session, "personne.1@mairie.fr") == []
    registration = session.scalar(select(Registration))
    assert registration.email is None and registration.full_name == "" and registration.attendee_role
    assert registration.status == "confirmed"  # still counted in the figures
    assert purged(400) == []


def test_access_request_and_erasure_free_the_place(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(1, needs="Fauteuil roulant"), settings)
    meetings.register(session, meeting_id, person(2), settings)
    meetings.register(session, meeting_id, person(3), settings)
    (held,) = meetings.personal_data(session, "PERSONNE.1@mairie.fr")
    assert held["besoins"] == "Fauteuil roulant" and held["statut"] == "Confirmée"
    assert meetings.erase(session, "personne.1@mairie.fr", settings) == 1
    assert meetings.personal_data(session, "personne.1@mairie.fr") == []
    lists = meetings.roster(session, meeting_id)
    assert [p.email for p in lists.confirmed] == ["personne.2@mairie.fr"]
    assert [(p.email, p.status) for p in lists.waiting] == [("personne.3@mairie.fr", "offered")]  # the freed place


def test_outbox_messages_are_delivered_with_the_calendar(factory, settings, smtp_server):
    with factory.begin() as session:
        meeting_id = meetings.create_meeting(session, meeting_form())
        meetings.register(session, meeting_id, person(1), settings)
    report = mail.deliver_due(factory, smtp_server.settings())
    assert len(report.sent) == 1
    (message,) = smtp_server.to("personne.1@mairie.fr")
    parts = {part.get_content_type(): part for part in message.walk()}
    calendar = Calendar.from_ical(parts["text/calendar"].get_payload(decode=True))
    assert calendar.walk("VEVENT")


def test_check_in_search_by_reference_and_not_by_a_stray_digit(session, settings, meeting_id):
    meetings.register(session, meeting_id, person(2), settings)
    other = meetings.register(session, meeting_id, person(3), settings)
    assert [p.full_name for p in meetings.search_attendees(session, meeting_id, "personne 2")] == ["Personne 2"]
    assert [p.full_name for p in meetings.search_attendees(session, meeting_id, other.reference.lower())] == [
        "Personne 3"
    ]


def test_meeting_in_a_url_and_check_in_order(session, settings):
    now = utcnow()
    later = meetings.create_meeting(session, meeting_form(title="Dans dix jours"))
    today = meetings.create_meeting(
        session,
        meeting_form(
            title="Aujourd'hui",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=5),
            registration_opens_at=now - timedelta(days=9),
            registration_closes_at=now - timedelta(hours=2),
        ),
    )
    listed = meetings.list_all(session)
    assert [m.id for m in meetings.order_for_check_in(listed, now)] == [today, later]
    assert meetings.meeting_in(str(later), listed).id == later
    assert meetings.meeting_in(None, listed) is None and meetings.meeting_in("", listed) is None
    for raw in ("abc", "999999"):
        with pytest.raises(DomainError) as raised:
            meetings.meeting_in(raw, listed)
        assert raised.value.code == "unknown_meeting"


def test_after_a_change_the_reminder_sends_people_to_the_newest_link_which_is_the_one_that_works(session, settings):
    """Each e-mail with a private link ends the earlier ones: the reminder (which carries none) must not send people
    to the link of their first confirmation."""
    meeting_id = meetings.create_meeting(session, meeting_form(capacity=5))
    meetings.register(session, meeting_id, person(1), settings)
    [confirmation] = outbox(session, "meeting_confirmed")
    meetings.update_meeting(
        session, meeting_id, meeting_form(capacity=5, venue="Hôtel de région, salle Bourgogne"), settings
    )
    [change] = [m for m in outbox(session) if m.kind != "meeting_confirmed" and m.link and "jeton=" in m.link]
    assert "remplace ceux des e-mails précédents" in change.body
    start = meetings.get_meeting(session, meeting_id).starts_at
    assert meetings.send_due_reminders(session, settings, now=start - timedelta(days=1)) == 1
    [reminder] = outbox(session, "meeting_reminder")
    assert "annulez avec le lien personnel du dernier e-mail qui vous en a donné un pour cette inscription" in (
        reminder.body
    )
    assert "reçu lors de votre inscription" not in reminder.body
    with pytest.raises(DomainError) as refused:  # the first confirmation's link is over
        meetings.open_private_link(session, token_of(confirmation))
    assert refused.value.code == "invalid_registration_link"
    assert meetings.open_private_link(session, token_of(change)).status == "confirmed"
