"""Waiting-list offers: a freed place is offered to the first person waiting, held until a deadline; accepted,
declined or expired, on both databases. The e-mails are read from a real SMTP server and their links followed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from pvd_survey import accounts, db, links, mail, meetings, schedule
from pvd_survey.clock import paris_time
from pvd_survey.errors import DomainError, french_message
from pvd_survey.models import Meeting, OutboxMessage, Registration, utcnow
from tests.conftest import STRONG_PASSWORD
from tests.conftest import open_page as page
from tests.factories import meeting_form, person, texts, token_of


def outbox(session, kind: str | None = None) -> list[OutboxMessage]:
    """Messages written to the outbox, oldest first."""
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(session.scalars(query))


def registration(session, number: int) -> Registration:
    return session.scalars(
        select(Registration)
        .where(Registration.email == f"personne.{number}@mairie.fr")
        .execution_options(populate_existing=True)
    ).one()


def statuses(session, meeting_id: int) -> dict[str, str]:
    """Each person's status, by name."""
    rows = session.execute(
        select(Registration.full_name, Registration.status).where(Registration.meeting_id == meeting_id)
    ).all()
    return dict(rows)


@pytest.fixture
def full(session, settings) -> int:
    """A meeting with 2 places in ten days: persons 1 and 2 confirmed, 3 and 4 waiting, in that order."""
    meeting_id = meetings.create_meeting(session, meeting_form())
    for number in (1, 2, 3, 4):
        meetings.register(session, meeting_id, person(number), settings)
    return meeting_id


def cancel_first(session, settings, now: datetime | None = None) -> None:
    """Person 1 cancels through their private link: a place is freed."""
    meetings.cancel_by_token(session, token_of(outbox(session, "meeting_confirmed")[0]), settings, now=now)


def offer_token(session, number: int) -> str:
    (offer,) = [m for m in outbox(session, "meeting_offered") if m.recipient == f"personne.{number}@mairie.fr"]
    return token_of(offer)


# ---------------------------------------------------------------------------- the deadline


@pytest.mark.database_independent
def test_the_deadline_is_the_setting_but_never_beyond_half_the_time_left():
    now = datetime(2026, 12, 7, 14, 0)
    assert meetings.offer_deadline(now + timedelta(days=10), now, 24) == now + timedelta(hours=24)
    assert meetings.offer_deadline(now + timedelta(hours=48), now, 24) == now + timedelta(hours=24)
    assert meetings.offer_deadline(now + timedelta(hours=30), now, 24) == now + timedelta(hours=15)
    assert meetings.offer_deadline(now + timedelta(hours=6), now, 24) == now + timedelta(hours=3)
    assert meetings.offer_deadline(now + timedelta(days=10), now, 2) == now + timedelta(hours=2)


@pytest.mark.database_independent
def test_a_huge_hours_setting_never_overflows_the_deadline():
    now = datetime(2026, 12, 7, 14, 0)
    assert meetings.offer_deadline(now + timedelta(days=10), now, 100_000_000) == now + timedelta(days=5)


def test_moving_the_meeting_earlier_shortens_a_running_offer_and_its_e_mail_says_so(session, settings, full):
    now = utcnow()
    cancel_first(session, settings, now=now)
    form = meeting_form(capacity=2)
    later = replace(form, starts_at=now + timedelta(days=20), ends_at=now + timedelta(days=20, hours=7))
    meetings.update_meeting(session, full, later, settings)
    assert registration(session, 3).offer_expires_at == now + timedelta(hours=24)  # never lengthened
    new_start = now + timedelta(hours=6)
    earlier = replace(
        form,
        starts_at=new_start,
        ends_at=new_start + timedelta(hours=3),
        registration_closes_at=now + timedelta(hours=5),
    )
    meetings.update_meeting(session, full, earlier, settings)
    deadline = registration(session, 3).offer_expires_at
    assert timedelta(hours=2, minutes=59) < new_start - deadline <= timedelta(hours=3)  # half the time left
    changed = [m for m in outbox(session, "meeting_offered") if m.recipient == "personne.3@mairie.fr"][-1]
    assert changed.subject.startswith("Changement d'horaire ou de lieu")
    assert f"jusqu'au {meetings.deadline_text(deadline)}" in changed.body


def test_an_offer_still_running_after_the_start_cannot_be_accepted(session, settings, full):
    """An offer made before this rule held its place past the start: it cannot be accepted once the meeting began."""
    cancel_first(session, settings)
    starts_at = session.get_one(Meeting, full).starts_at
    session.execute(
        update(Registration)
        .where(Registration.email == "personne.3@mairie.fr")
        .values(offer_expires_at=starts_at + timedelta(days=1))
    )
    with pytest.raises(DomainError) as raised:
        meetings.accept_offer(session, offer_token(session, 3), settings, now=starts_at + timedelta(hours=1))
    assert raised.value.code == "offer_meeting_started"
    assert french_message(raised.value) == "La rencontre a commencé : la place proposée ne peut plus être acceptée."
    assert statuses(session, full)["Personne 3"] == "offered"


def test_a_place_freed_six_hours_before_the_start_is_held_three_hours(session, settings):
    now = utcnow()
    meeting_id = meetings.create_meeting(
        session,
        meeting_form(
            starts_at=now + timedelta(hours=6),
            ends_at=now + timedelta(hours=9),
            registration_closes_at=now + timedelta(hours=5),
        ),
    )
    for number in (1, 2, 3):
        meetings.register(session, meeting_id, person(number), settings)
    cancel_first(session, settings, now=now)
    assert registration(session, 3).offer_expires_at == now + timedelta(hours=3)
    (offer,) = outbox(session, "meeting_offered")
    assert f"jusqu'au {paris_time(now + timedelta(hours=3), '%d/%m/%Y à %H:%M')}" in offer.body
    assert "jamais plus de la moitié du temps qui reste avant son début" in offer.body


# ---------------------------------------------------------------------------- held, accepted, declined


def test_the_offered_place_is_held_nobody_else_takes_it(session, settings, full):
    cancel_first(session, settings)
    assert statuses(session, full)["Personne 3"] == "offered"
    late = meetings.register(session, full, person(9), settings)  # a newcomer while the offer runs
    assert (late.status, late.position) == ("waiting", 2)
    info = meetings.get_meeting(session, full)
    assert (info.confirmed, info.offered, info.waiting, info.places_left) == (1, 1, 2, 0)
    assert session.get_one(Meeting, full).confirmed_count == 2  # the seat counter holds the offered place


def test_accepting_confirms_with_the_ticket_and_a_second_click_changes_nothing(session, settings, full):
    cancel_first(session, settings)
    token = offer_token(session, 3)
    assert meetings.accept_offer(session, token, settings) is True
    accepted = registration(session, 3)
    assert (accepted.status, accepted.offer_outcome) == ("confirmed", "accepted")
    (confirmation,) = outbox(session, "meeting_promoted")
    assert confirmation.recipient == "personne.3@mairie.fr" and confirmation.attachments  # ticket and .ics
    assert meetings.accept_offer(session, token, settings) is False
    assert len(outbox(session, "meeting_promoted")) == 1
    assert session.get_one(Meeting, full).confirmed_count == 2
    # « Je ne peux plus venir » once accepted: refused (cancelling stays possible from the private page).
    with pytest.raises(DomainError) as raised:
        meetings.decline_offer(session, token, settings)
    assert raised.value.code == "offer_closed"


def test_declining_cancels_and_passes_the_offer_to_the_next(session, settings, full):
    cancel_first(session, settings)
    assert meetings.decline_offer(session, offer_token(session, 3), settings) is True
    assert statuses(session, full) == {
        "Personne 1": "cancelled",
        "Personne 2": "confirmed",
        "Personne 3": "cancelled",
        "Personne 4": "offered",
    }
    declined = registration(session, 3)
    assert (declined.offer_outcome, declined.cancelled_by) == ("declined", "participant")
    told = [m for m in outbox(session, "meeting_cancelled") if m.recipient == "personne.3@mairie.fr"]
    assert len(told) == 1 and "Vous avez décliné la place proposée" in told[0].body
    # The last one waiting declines too: the place is free again, for anyone.
    assert meetings.decline_offer(session, offer_token(session, 4), settings) is False
    assert meetings.get_meeting(session, full).places_left == 1
    assert meetings.register(session, full, person(9), settings).status == "confirmed"


def test_cancelling_from_the_private_page_during_an_offer_declines_it(session, settings, full):
    cancel_first(session, settings)
    assert meetings.cancel_by_token(session, offer_token(session, 3), settings) == 1
    assert registration(session, 3).offer_outcome == "declined"
    assert statuses(session, full)["Personne 4"] == "offered"


def test_the_direction_withdrawing_an_offer_passes_it_on(session, settings, full):
    cancel_first(session, settings)
    meetings.cancel_by_direction(session, full, registration(session, 3).id, settings)
    assert (registration(session, 3).offer_outcome, statuses(session, full)["Personne 4"]) == ("withdrawn", "offered")
    lists = meetings.roster(session, full)
    assert [(p.full_name, p.offer) for p in lists.cancelled if p.full_name == "Personne 3"] == [
        ("Personne 3", "Offre retirée par la direction")
    ]


def test_registering_again_with_the_same_e_mail_during_an_offer_resends_the_offer(session, settings, full):
    cancel_first(session, settings)
    again = meetings.register(session, full, person(3), settings)
    assert again.already_registered and again.status == "offered"
    assert len(outbox(session, "meeting_offered")) == 2
    assert meetings.accept_offer(session, token_of(outbox(session, "meeting_offered")[-1]), settings)


# ---------------------------------------------------------------------------- expiry


def test_an_unanswered_offer_expires_in_the_background_pass_and_goes_to_the_next(session, settings, full):
    start = utcnow()
    cancel_first(session, settings, now=start)
    token = offer_token(session, 3)
    deadline = registration(session, 3).offer_expires_at
    assert deadline == start + timedelta(hours=settings.waitlist_offer_hours)
    assert meetings.expire_offers(session, settings, now=deadline - timedelta(seconds=1)) == 0
    assert meetings.expire_offers(session, settings, now=deadline) == 1
    expired = registration(session, 3)
    assert (expired.status, expired.offer_outcome) == ("cancelled", "expired")
    (told,) = outbox(session, "meeting_offer_expired")
    assert told.recipient == "personne.3@mairie.fr"
    assert "vous ne figurez plus sur la liste d'attente" in told.body
    assert statuses(session, full)["Personne 4"] == "offered"
    assert registration(session, 4).offer_expires_at == deadline + timedelta(hours=settings.waitlist_offer_hours)
    assert meetings.expire_offers(session, settings, now=deadline) == 0  # once
    # The e-mail's « J'accepte » after the deadline: a clear French refusal, nothing changes.
    with pytest.raises(DomainError) as raised:
        meetings.accept_offer(session, token, settings, now=deadline + timedelta(minutes=5))
    message = french_message(raised.value)
    assert raised.value.code == "offer_expired"
    assert f"l'offre a expiré le {paris_time(deadline, '%d/%m/%Y à %H:%M')}" in message
    assert statuses(session, full)["Personne 3"] == "cancelled"
    lists = meetings.roster(session, full)
    assert [p.offer for p in lists.cancelled if p.full_name == "Personne 3"] == ["Offre expirée"]


def test_accepting_after_the_deadline_is_refused_even_before_the_pass(session, settings, full):
    start = utcnow()
    cancel_first(session, settings, now=start)
    deadline = registration(session, 3).offer_expires_at
    with pytest.raises(DomainError) as raised:
        meetings.accept_offer(session, offer_token(session, 3), settings, now=deadline)
    assert raised.value.code == "offer_expired"
    assert statuses(session, full)["Personne 3"] == "offered"  # the pass will take it off and go on


def test_the_due_work_passes_on_offers_past_their_deadline(factory, settings):
    with db.transaction(factory) as session:
        meeting_id = meetings.create_meeting(session, meeting_form())
        for number in (1, 2, 3, 4):
            meetings.register(session, meeting_id, person(number), settings)
        # Freed 25 hours ago: the 24-hour offer to person 3 ran out an hour ago.
        cancel_first(session, settings, now=utcnow() - timedelta(hours=25))
    work = schedule.run_due_work(factory, settings)
    assert work.expired_offers == 1
    assert "1 place(s) proposée(s) sans réponse à temps" in work.summary()
    with db.read_only(factory) as session:
        assert statuses(session, meeting_id)["Personne 4"] == "offered"
    assert schedule.run_due_work(factory, settings).expired_offers == 0


def test_an_offer_running_at_the_start_expires_and_the_place_is_not_offered_after(session, settings, full):
    start = utcnow()
    cancel_first(session, settings, now=start)
    starts_at = session.get_one(Meeting, full).starts_at
    assert meetings.expire_offers(session, settings, now=starts_at) == 1
    assert statuses(session, full)["Personne 4"] == "waiting"  # the meeting began: nothing more is offered
    assert session.get_one(Meeting, full).confirmed_count == 1


# ---------------------------------------------------------------------------- the door, erasure, the database


def test_the_door_answers_an_offered_ticket_as_waiting_never_an_arrival(session, settings, full):
    cancel_first(session, settings)
    reference = registration(session, 3).reference
    code = meetings.ticket_code(settings.secret_key, full, reference)
    answer = meetings.scan(session, full, code)
    assert answer.outcome == "waiting" and answer.checked_in_at is None
    assert meetings.door_counts(session, full).arrived == 0


def test_erasing_someone_offered_a_place_passes_it_on(session, settings, full):
    cancel_first(session, settings)
    meetings.erase(session, "personne.3@mairie.fr", settings)
    assert statuses(session, full)["Personne 4"] == "offered"
    assert session.get_one(Meeting, full).confirmed_count == 2


def test_the_database_refuses_an_offer_without_a_deadline_or_a_stray_outcome(session, settings, full):
    target = registration(session, 3).id
    for values in (
        {"status": "offered"},  # no deadline
        {"status": "offered", "offered_at": utcnow(), "offer_expires_at": utcnow(), "offer_outcome": "expired"},
        {"offer_outcome": "declined"},  # an outcome without an offer
    ):
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(update(Registration).where(Registration.id == target).values(**values))


# ---------------------------------------------------------------------------- e-mails and the private page


def subject(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def plain_text(message: Message) -> str:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    return part.get_payload(decode=True).decode("utf-8")


def link_after(body: str, label: str) -> str:
    """The address on the line after `label` in an e-mail's text."""
    lines = body.splitlines()
    return lines[lines.index(next(line for line in lines if line.startswith(label))) + 1].strip()


def opened(link: str) -> dict[str, str]:
    """The parameters a link opens its page with."""
    assert link.startswith("http://pvd.test/" + meetings.REGISTRATION_PAGE_PATH + "?")
    return {name: values[0] for name, values in parse_qs(urlsplit(link).query).items()}


@pytest.fixture
def app_ready(app_env, factory, settings):
    """The app installed (its first administrator exists): the pages open."""
    with db.transaction(factory) as session:
        accounts.create_first_admin(
            session, email="ada.admin@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
        )


def test_the_offer_e_mail_links_accept_on_the_private_page(app_ready, factory, settings, smtp_server):
    with db.transaction(factory) as session:
        meeting_id = meetings.create_meeting(session, meeting_form())
        for number in (1, 2, 3, 4):
            meetings.register(session, meeting_id, person(number), settings)
        cancel_first(session, settings)
        deadline = registration(session, 3).offer_expires_at
    mail.deliver_due(factory, smtp_server.settings())
    [offer] = [m for m in smtp_server.to("personne.3@mairie.fr") if "Une place se libère" in subject(m)]
    body = plain_text(offer)
    shown_deadline = paris_time(deadline, "%d/%m/%Y à %H:%M")
    assert f"elle vous est réservée jusqu'au {shown_deadline} (heure de Paris)" in body
    accept = opened(link_after(body, "J'accepte"))
    decline = opened(link_after(body, "Je ne peux plus venir"))
    assert (accept[meetings.OFFER_PARAMETER], decline[meetings.OFFER_PARAMETER]) == ("accepter", "decliner")
    assert accept[links.TOKEN_PARAMETER] == decline[links.TOKEN_PARAMETER]

    at = page("pages/registration.py", **accept)
    assert not at.exception
    assert any(f"réservée jusqu'au {shown_deadline}" in text for text in texts(at.warning))
    at.button(key="registration_accept").click().run()
    assert not at.exception
    assert "Votre place est confirmée." in " ".join(texts(at.success))
    assert any("Votre place est réservée" in text for text in texts(at.success))  # the page now shows the ticket
    mail.deliver_due(factory, smtp_server.settings())
    [confirmed] = [m for m in smtp_server.to("personne.3@mairie.fr") if "Place libérée" in subject(m)]
    assert {p.get_filename() for p in confirmed.walk() if p.get_filename()} >= {"rencontre.ics", "billet.pdf"}
    with db.read_only(factory) as session:
        assert statuses(session, meeting_id)["Personne 3"] == "confirmed"


def test_the_decline_link_passes_the_place_on_and_an_expired_link_says_so(app_ready, factory, settings, smtp_server):
    with db.transaction(factory) as session:
        meeting_id = meetings.create_meeting(session, meeting_form())
        for number in (1, 2, 3, 4):
            meetings.register(session, meeting_id, person(number), settings)
        cancel_first(session, settings, now=utcnow() - timedelta(hours=25))  # person 3's offer ran out
    schedule.run_due_work(factory, settings)  # passes it on to person 4
    mail.deliver_due(factory, smtp_server.settings())
    [expired_offer, gone] = smtp_server.to("personne.3@mairie.fr")[-2:]
    assert "Place proposée non confirmée à temps" in subject(gone)
    at = page("pages/registration.py", **opened(link_after(plain_text(expired_offer), "J'accepte")))
    assert not at.exception
    assert any("l'offre a expiré le" in text for text in texts(at.error))
    assert not [b for b in at.button if b.key in ("registration_accept", "registration_decline")]

    [offer] = [m for m in smtp_server.to("personne.4@mairie.fr") if "Une place se libère" in subject(m)]
    at = page("pages/registration.py", **opened(link_after(plain_text(offer), "Je ne peux plus venir")))
    at.button(key="registration_decline").click().run()
    assert not at.exception
    assert any("votre inscription est annulée et la place est de nouveau libre" in text for text in texts(at.success))
    with db.read_only(factory) as session:
        assert statuses(session, meeting_id)["Personne 4"] == "cancelled"
        assert meetings.get_meeting(session, meeting_id).places_left == 1  # nobody else waiting: the place is free
