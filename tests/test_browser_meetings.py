"""The whole meeting journey in a real browser (Debian's Chromium against `streamlit run`), with a real SMTP server.

The direction creates a meeting with 2 places; three people register (the third is waitlisted); the
confirmation e-mail reaches the SMTP server with a valid .ics; one person cancels through the private
link; the waitlisted person is offered the place by e-mail, follows its « J'accepte » link and is
confirmed; check-in marks one present; the dashboard's export shows the attendance. The app server has
no SMTP configured: the test delivers the outbox itself, as `python -m pvd_survey send-mail` would. On the
same server, the benchmark's Streamlit client (no browser, pvd_survey/bench/streamlit_client.py) registers
one person, as a browser's tab would.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from email.header import decode_header, make_header

import pytest
from icalendar import Calendar
from playwright.sync_api import Page, expect
from sqlalchemy import select

from pvd_survey import mail, meetings
from pvd_survey.bench import streamlit_client
from pvd_survey.bench.common import bench_meeting
from pvd_survey.models import Meeting, OutboxMessage, Registration
from tests.browser_support import (
    Pages,
    alert,
    choose_in_selectbox,
    expect_page,
    nav_link,
    open_dashboard_section,
    screenshot_on_failure,
    sign_in,
    wait_for_run,
)
from tests.factories import meeting_form, person, token_of

pytestmark = pytest.mark.browser

TITLE = "Rencontre régionale Bourgogne-Franche-Comté"


def subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def sign_in_as_direction(pages: Pages, app_url: str) -> Page:
    page = pages.new()
    sign_in(page, app_url, "direction")
    return page


def register(pages: Pages, link: str, number: int) -> Page:
    """A person opens the shared link on their own device and registers."""
    page = pages.new()
    page.goto(link)
    expect_page(page, TITLE)
    page.get_by_label("Prénom et nom").fill(f"Personne {number}")
    page.get_by_label("Adresse e-mail").fill(f"personne.{number}@mairie.fr")
    choose_in_selectbox(page, "Vous êtes", "Chef de projet")
    page.get_by_label("Organisation ou commune").fill("Commune de Montbard")
    page.get_by_text("J'ai lu et j'accepte la notice ci-dessus").click()
    page.get_by_role("button", name="M'inscrire").click()
    return page


@pytest.mark.database_independent  # once, on SQLite: tests/conftest.py says why
@screenshot_on_failure
def test_meeting_journey(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory, settings, smtp_server
) -> None:
    # The direction creates a meeting with 2 places.
    direction = sign_in_as_direction(pages, app_url)
    nav_link(direction, "Organiser les rencontres").click()
    expect_page(direction, "Organiser les rencontres")
    # A date field's calendar speaks French too (ui.french_widgets renames Streamlit's words as they appear).
    direction.get_by_role("button", name="Choisir une date").first.click()
    calendar = direction.get_by_test_id("stDateInputCalendar")
    calendar.get_by_role("button", name="Mois suivant").wait_for()
    days = calendar.locator("[aria-label]").evaluate_all("(cells) => cells.map((cell) => cell.ariaLabel)")
    assert any(re.fullmatch(r"(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d+ \w+ \d{4}", d) for d in days)
    assert not [d for d in days if re.search(r"day|Monday|Friday|January|December|Choose|month", d)], days
    shown = calendar.inner_text()
    assert not re.search(r"January|February|March|April|June|July|August|September|October|November|December", shown)
    assert re.search(r"\bL\s+M\s+M\s+J\s+V\s+S\b", shown), shown  # the days' initials
    direction.keyboard.press("Escape")
    direction.get_by_label("Titre").fill(TITLE)
    direction.get_by_label("Ville").fill("Dijon")
    places = direction.get_by_label("Nombre de places")
    places.fill("2")
    places.press("Tab")
    direction.get_by_role("button", name="Créer la rencontre").click()
    alert(direction, "Success", "Rencontre créée.").wait_for()
    with factory() as session:
        meeting = session.query(Meeting).one()
        assert (meeting.title, meeting.capacity) == (TITLE, 2)
    link = f"{app_url}/{meetings.MEETING_PAGE_PATH}?{meetings.MEETING_PARAMETER}={meeting.id}"

    # Three people register; the third is told the waiting-list position.
    for number in (1, 2):
        person = register(pages, link, number)
        person.get_by_text("Inscription confirmée.", exact=False).wait_for()
    third = register(pages, link, 3)
    third.get_by_text("vous êtes sur la liste d'attente, en position", exact=False).wait_for()
    # The keyboard focus is on the answer that replaced the form (RGAA 7.1, 11.10).
    third.wait_for_function("() => document.activeElement.closest('.st-key-meetings_outcome') !== null")

    # The confirmation reaches a real SMTP server with a valid calendar file.
    mail.deliver_due(factory, smtp_server.settings())
    assert [len(smtp_server.to(f"personne.{n}@mairie.fr")) for n in (1, 2, 3)] == [1, 1, 1]
    (confirmation,) = smtp_server.to("personne.1@mairie.fr")
    assert subject(confirmation).startswith("Inscription confirmée")
    parts = {part.get_content_type(): part for part in confirmation.walk()}
    (event,) = Calendar.from_ical(parts["text/calendar"].get_payload(decode=True)).walk("VEVENT")
    assert str(event["summary"]) == TITLE and "Dijon" in str(event["location"])
    body = parts["text/plain"].get_payload(decode=True).decode("utf-8")
    private = next(line for line in body.splitlines() if "/inscription?jeton=" in line).strip()
    assert private.startswith(f"{app_url}/inscription?jeton=")  # the app's own base URL

    # Person 1 cancels through the private link.
    cancelling = pages.new()
    cancelling.goto(private)
    expect_page(cancelling, "Mon inscription")
    cancelling.get_by_text("Votre place est réservée", exact=False).wait_for()
    cancelling.get_by_text("Je confirme vouloir annuler mon inscription").click()
    wait_for_run(cancelling)
    cancelling.get_by_role("button", name="Annuler mon inscription").click()
    alert(cancelling, "Success", "Votre inscription est annulée. Un e-mail de confirmation vous est envoyé.").wait_for()

    # The freed place is offered to person 3, who follows the e-mail's « J'accepte » link and confirms.
    mail.deliver_due(factory, smtp_server.settings())
    (offer,) = [m for m in smtp_server.to("personne.3@mairie.fr") if subject(m).startswith("Une place se libère")]
    offer_body = next(p for p in offer.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    lines = offer_body.decode("utf-8").splitlines()
    accept_link = lines[next(i for i, line in enumerate(lines) if line.startswith("J'accepte")) + 1].strip()
    assert accept_link.startswith(f"{app_url}/inscription?jeton=") and accept_link.endswith("&offre=accepter")
    accepting = pages.new()
    accepting.goto(accept_link)
    expect_page(accepting, "Mon inscription")
    accepting.get_by_text("elle vous est réservée jusqu'au", exact=False).wait_for()
    accepting.get_by_role("button", name="J'accepte la place").click()
    accepting.get_by_text("Votre place est réservée", exact=False).wait_for()

    # Person 3 is now confirmed and e-mailed, with the calendar file.
    mail.deliver_due(factory, smtp_server.settings())
    promoted = [m for m in smtp_server.to("personne.3@mairie.fr") if subject(m).startswith("Place libérée")]
    assert len(promoted) == 1
    assert any(part.get_content_type() == "text/calendar" for part in promoted[0].walk())

    # Check-in: the direction finds person 2 and marks them present.
    nav_link(direction, "Émargement").click()
    expect_page(direction, "Émargement")
    direction.get_by_label("Rechercher un nom, une organisation ou une référence").fill("personne 2")
    direction.keyboard.press("Enter")
    expect(direction.get_by_role("button", name="Marquer présent")).to_have_count(1)
    direction.get_by_role("button", name="Marquer présent").click()
    alert(direction, "Success", "Bienvenue").wait_for()
    expect(direction.get_by_test_id("stMetricValue").first).to_have_text("1 / 2")

    # The dashboard shows the attendance, and its export says the same.
    nav_link(direction, "Tableau de bord").click()
    expect_page(direction, "Tableau de bord")
    open_dashboard_section(direction, "rencontres")  # the summary first, the meetings one click away
    direction.get_by_role("heading", name="Rencontres", exact=True).wait_for()
    with direction.expect_download() as download:
        direction.get_by_role("button", name="Chiffres des rencontres (CSV)").click()
    # For French Excel: `;`, BOM.
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [(r["Rencontre"], r["Confirmés"], r["Liste d'attente"], r["Présents"]) for r in rows] == [
        (TITLE, "2", "0", "1")
    ]


def protocol_visit(app_url: str, page: str) -> streamlit_client.Registered:
    """One registration by the benchmark's client, in a thread of its own (Playwright's sync API may hold this
    thread's event loop)."""
    visit = streamlit_client.register(app_url, page, "Camille Martin", "camille.martin@mairie.fr")
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, visit).result()


def test_a_protocol_visit_registers_exactly_one_person(app_url: str, seeded, factory) -> None:
    with factory.begin() as session:
        meeting_id = meetings.create_meeting(session, bench_meeting(TITLE, capacity=10))
    page = f"/{meetings.MEETING_PAGE_PATH}?{meetings.MEETING_PARAMETER}={meeting_id}"

    shown = protocol_visit(app_url, page)

    with factory() as session:
        lists = meetings.roster(session, meeting_id)
    assert [(p.full_name, p.email, p.reference) for p in lists.confirmed + lists.waiting] == [
        ("Camille Martin", "camille.martin@mairie.fr", shown.reference)
    ]
    assert (shown.status, shown.already) == ("confirmed", False)
    # The same e-mail again: the page says so, and nothing new is recorded.
    again = protocol_visit(app_url, page)
    assert (again.already, again.reference) == (True, shown.reference)
    with factory() as session:
        assert len(meetings.roster(session, meeting_id).confirmed) == 1


@pytest.mark.database_independent  # once, on SQLite: tests/conftest.py says why
@screenshot_on_failure
def test_the_door_on_a_phone_takes_a_scanner_s_codes_one_after_another(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory, settings
) -> None:
    # Three confirmed people, and Lina named « accueil »: her e-mailed link is all she has.
    with factory.begin() as session:
        meeting_id = meetings.create_meeting(session, meeting_form(capacity=3, title="Forum des métiers"))
        for number in (1, 2, 3):
            meetings.register(session, meeting_id, person(number), settings)
        meetings.name_door_keeper(session, meeting_id, "Lina Accueil", "lina@prefecture.gouv.fr", settings)
        link = token_of(session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "door_pass")))
        references = session.scalars(select(Registration.reference).order_by(Registration.arrival)).all()
    codes = [meetings.ticket_code(settings.secret_key, meeting_id, reference) for reference in references]
    context = pages.browser.new_context(
        locale="fr-FR", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    pages.contexts.append(context)
    phone = context.new_page()
    phone.goto(f"{app_url}/{meetings.DOOR_PAGE_PATH}?jeton={link}")
    expect_page(phone, "Émargement")
    phone.get_by_text("Accueil : Lina Accueil").wait_for()
    assert "jeton" not in phone.url  # the link's token left the address bar (kept in a cookie)
    field = phone.get_by_role("textbox", name="Code du billet")
    field.click()
    # A scanner types each code then Enter, one ticket after another, nobody touching the screen in between.
    phone.keyboard.type(codes[0] + "\n")
    expect(alert(phone, "Success", "Bienvenue")).to_contain_text("Personne 1")
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    phone.keyboard.type(codes[1] + "\n")
    expect(alert(phone, "Success", "Bienvenue")).to_contain_text("Personne 2")
    expect(field).to_have_value("")  # the next ticket once the field is empty again, as at a door
    expect(phone.get_by_test_id("stMetricValue").first).to_have_text("2 / 3")  # refreshed within 5 s
    phone.keyboard.type(codes[2] + "\n")
    expect(alert(phone, "Success", "Bienvenue")).to_contain_text("Personne 3")
    expect(field).to_have_value("")  # the next ticket once the field is empty again, as at a door
    phone.keyboard.type(codes[0] + "\n")
    already = phone.get_by_test_id("stAlertContentWarning").filter(has_text="Déjà enregistré à")
    expect(already).to_contain_text("Personne 1")
    phone.get_by_role("button", name="Annuler cet enregistrement").click()
    alert(phone, "Success", "Arrivée de Personne 1 annulée.").wait_for()
    expect(phone.get_by_test_id("stMetricValue").first).to_have_text("2 / 3")
    # Everything fits the phone's width: nothing to scroll sideways.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
