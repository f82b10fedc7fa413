"""The door on the day: scans answered by status, arrivals counted once under concurrency, the camera, the team."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta

import pytest
import segno
from PIL import Image, ImageFilter
from sqlalchemy import select

from pvd_survey import db, meetings
from pvd_survey.bench.door import scan_at_the_door, seed_door
from pvd_survey.errors import DomainError
from pvd_survey.models import OutboxMessage, Registration
from tests.conftest import STRONG_PASSWORD
from tests.factories import meeting_form, person, token_of

# 8:12 UTC on a winter day is 9:12 in Paris: « Déjà enregistré à 9 h 12 ».
MORNING = datetime(2027, 1, 14, 8, 12)


def code_of(session, settings, meeting_id: int, email: str) -> str:
    """The ticket code of one person's registration (as their e-mail and private page show it)."""
    reference = session.scalar(select(Registration.reference).where(Registration.email == email))
    return meetings.ticket_code(settings.secret_key, meeting_id, reference)


@pytest.fixture
def door(session, settings):
    """A meeting with 2 places: person 1 and 2 confirmed, 3 waiting, 4 cancelled; returns (meeting id, codes)."""
    meeting_id = meetings.create_meeting(session, meeting_form())
    for number in (1, 2, 3, 4):
        meetings.register(session, meeting_id, person(number), settings)
    cancel = next(m for m in session.scalars(select(OutboxMessage)) if m.recipient == "personne.4@mairie.fr")
    meetings.cancel_by_token(session, token_of(cancel), settings)
    codes = {n: code_of(session, settings, meeting_id, f"personne.{n}@mairie.fr") for n in (1, 2, 3, 4)}
    return meeting_id, codes


def test_each_scan_answers_with_the_name_and_status_and_only_a_welcome_counts(session, settings, door):
    meeting_id, codes = door
    assert meetings.door_counts(session, meeting_id) == meetings.DoorCounts(arrived=0, expected=2)
    first = meetings.scan(session, meeting_id, codes[1], now=MORNING)
    assert (first.outcome, first.headline, first.full_name) == ("welcome", "Bienvenue", "Personne 1")
    again = meetings.scan(session, meeting_id, codes[1] + "\n", now=MORNING + timedelta(minutes=40))
    assert (again.outcome, again.headline) == ("already", "Déjà enregistré à 9 h 12")
    waiting = meetings.scan(session, meeting_id, codes[3], now=MORNING)
    assert (waiting.outcome, waiting.headline, waiting.full_name) == ("waiting", "Liste d'attente", "Personne 3")
    cancelled = meetings.scan(session, meeting_id, codes[4], now=MORNING)
    assert (cancelled.outcome, cancelled.headline) == ("cancelled", "Inscription annulée")
    assert not waiting.admitted and not cancelled.admitted
    # Neither the waiting person nor the cancelled one counts as arrived.
    assert meetings.door_counts(session, meeting_id) == meetings.DoorCounts(arrived=1, expected=2)

    other_meeting = meetings.create_meeting(session, meeting_form(title="Webinaire national"))
    other = meetings.scan(session, other_meeting, codes[2], now=MORNING)
    assert other.outcome == "other_meeting" and other.headline == "Billet d'une autre rencontre"
    assert "Rencontre régionale" in other.advice and other.full_name == ""  # no name of another meeting's list
    forged = codes[2][:-4] + ("AAAA" if not codes[2].endswith("AAAA") else "BBBB")
    assert meetings.scan(session, meeting_id, forged).headline == "Code inconnu"
    assert meetings.scan(session, meeting_id, codes[2][:-3]).outcome == "damaged"  # torn
    assert meetings.scan(session, meeting_id, "https://www.example.org/").outcome == "foreign"
    assert meetings.door_counts(session, meeting_id) == meetings.DoorCounts(arrived=1, expected=2)


def test_an_arrival_is_undone_and_the_ticket_then_scans_again(session, settings, door):
    meeting_id, codes = door
    welcome = meetings.scan(session, meeting_id, codes[2])
    meetings.undo_check_in(session, meeting_id, welcome.registration_id)
    assert meetings.door_counts(session, meeting_id).arrived == 0
    assert meetings.scan(session, meeting_id, codes[2]).outcome == "welcome"
    by_name = meetings.check_in_by_hand(session, meeting_id, welcome.registration_id)
    assert by_name.outcome == "already"  # found by name after the scan: the same answer, still one arrival
    with pytest.raises(DomainError) as raised:
        meetings.undo_check_in(session, meeting_id + 1, welcome.registration_id)
    assert raised.value.code == "unknown_registration"


def test_a_waiting_person_found_by_name_is_told_so_and_not_counted(session, settings, door):
    meeting_id, codes = door
    meetings.scan(session, meeting_id, codes[1])
    waiting = session.scalar(select(Registration).where(Registration.email == "personne.3@mairie.fr"))
    assert meetings.check_in_by_hand(session, meeting_id, waiting.id).outcome == "waiting"
    assert meetings.door_counts(session, meeting_id).arrived == 1


# ---------------------------------------------------------------------------- the camera


def photo(code: str, angle: float = 0, size: int = 900, blur: float = 0.0) -> bytes:
    """A phone's photo of a ticket: the QR code on a larger light page, turned, a little blurred, as JPEG."""
    qr = io.BytesIO()
    segno.make_qr(code, error="q").save(qr, kind="png", scale=9, border=4)
    symbol = Image.open(qr).convert("RGB")
    page = Image.new("RGB", (size, int(size * 1.3)), (236, 233, 224))
    page.paste(symbol, ((size - symbol.width) // 2, (int(size * 1.3) - symbol.height) // 2))
    turned = page.rotate(angle, expand=True, fillcolor=(90, 90, 90))
    if blur:
        turned = turned.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    turned.save(out, format="JPEG", quality=80)
    return out.getvalue()


@pytest.mark.parametrize("angle", [0, 90, 180, 270, 12])
def test_a_photo_of_a_ticket_upright_sideways_or_askew_is_read(session, settings, door, angle):
    meeting_id, codes = door
    result = meetings.scan_photo(session, meeting_id, photo(codes[1], angle, blur=0.8))
    assert (result.outcome, result.full_name) == ("welcome", "Personne 1")


@pytest.mark.database_independent
def test_a_photo_without_a_ticket_says_what_to_do():
    noise = Image.frombytes("L", (400, 400), random.Random(7).randbytes(400 * 400))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert meetings.codes_in_photo(out.getvalue()) == []
    assert meetings.codes_in_photo(b"%PDF-1.7 not an image") is None
    # Another QR code is read (then answered « Ce n'est pas un billet » by the scan).
    other = io.BytesIO()
    segno.make_qr("https://www.example.org/").save(other, kind="png", scale=6)
    assert meetings.codes_in_photo(other.getvalue()) == ["https://www.example.org/"]


def test_a_photo_of_nothing_or_of_another_code_gets_a_clear_answer(session, door):
    meeting_id, _ = door
    blank = io.BytesIO()
    Image.new("RGB", (300, 300), "white").save(blank, format="PNG")
    for data in (blank.getvalue(), b"garbage"):
        result = meetings.scan_photo(session, meeting_id, data)
        assert result.outcome == "no_code" and "Aucun code QR" in result.advice
    assert meetings.scan_photo(session, meeting_id, photo("https://www.example.org/")).outcome == "foreign"


# ---------------------------------------------------------------------------- two devices, one arrival


def test_two_devices_scanning_the_same_300_tickets_record_300_arrivals(factory, settings):
    meeting_id, codes = seed_door(factory, settings.secret_key, people=300)
    run = scan_at_the_door(factory, meeting_id, codes, devices=2)
    assert run.arrivals == 300
    assert run.answers == {"welcome": 300, "already": 300}
    with db.read_only(factory) as session:
        assert meetings.door_counts(session, meeting_id) == meetings.DoorCounts(arrived=300, expected=300)


# ---------------------------------------------------------------------------- the « accueil » team


def test_a_door_link_opens_one_meeting_until_withdrawn_or_past(session, settings):
    meeting_id = meetings.create_meeting(session, meeting_form())
    pass_id = meetings.name_door_keeper(session, meeting_id, " Lina Accueil ", "Lina@Prefecture.gouv.fr", settings)
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "door_pass"))
    assert message.recipient == "lina@prefecture.gouv.fr" and "/emargement?jeton=" in message.link
    token = token_of(message)
    assert meetings.open_door_pass(session, token) == meetings.DoorAccess(meeting_id, "Lina Accueil")
    ends = meetings.get_meeting(session, meeting_id).ends_at
    with pytest.raises(DomainError) as raised:
        meetings.open_door_pass(session, token, now=ends + timedelta(hours=13))
    assert raised.value.code == "invalid_door_link"
    meetings.revoke_door_pass(session, meeting_id, pass_id)
    with pytest.raises(DomainError):
        meetings.open_door_pass(session, token)
    (keeper,) = meetings.door_keepers(session, meeting_id)
    assert keeper.full_name == "Lina Accueil" and keeper.revoked_at is not None
    with pytest.raises(DomainError):
        meetings.open_door_pass(session, "pas-un-jeton")


def test_door_links_are_in_access_requests_and_purged_a_month_after_the_meeting(session, settings):
    from pvd_survey import accounts, privacy

    admin = accounts.create_first_admin(
        session, email="ada.admin@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
    )
    meeting_id = meetings.create_meeting(session, meeting_form())
    meetings.name_door_keeper(session, meeting_id, "Lina Accueil", "lina@prefecture.gouv.fr", settings)
    meetings.name_door_keeper(session, meeting_id, "Paul Accueil", "paul@prefecture.gouv.fr", settings)
    (held,) = privacy.export_person(session, admin, "Lina@prefecture.gouv.fr")["accueil des rencontres"]
    assert held["nom"] == "Lina Accueil" and held["rencontre"].startswith("Rencontre régionale")
    assert privacy.erase_person(session, admin, "lina@prefecture.gouv.fr", settings)["accueil des rencontres"] == 1
    assert [keeper.full_name for keeper in meetings.door_keepers(session, meeting_id)] == ["Paul Accueil"]
    ends = meetings.get_meeting(session, meeting_id).ends_at
    assert not [i for i in privacy.purge(session, settings, ends + timedelta(days=29)) if "accueil" in i.step]
    (purged,) = [i for i in privacy.purge(session, settings, ends + timedelta(days=31)) if "accueil" in i.step]
    assert "Paul Accueil" in purged.description and meetings.door_keepers(session, meeting_id) == []


@pytest.mark.database_independent
def test_the_door_benchmark_reports_its_figures_and_exactly_one_arrival_a_ticket(tmp_path, monkeypatch):
    from pvd_survey.bench import browser, door

    monkeypatch.setattr(door, "PEOPLE", 20)
    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "no-chromium"))  # the page's part needs Chromium
    result = door.door_benchmark("sqlite", str(tmp_path))
    assert result["answers_two_devices"] == {"welcome": 20, "already": 20} and result["arrivals_recorded"] == 20
    assert 0 < result["scan_one_device_p50_ms"] <= result["scan_one_device_p95_ms"]
    assert result["page_scans"] == 0 and "Chromium" in result["page_note"]
