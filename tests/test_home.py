"""The public home page (what is on: meetings with places left, latest postings) and the footer's notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from pvd_survey import access, accounts, demo, home, meetings, privacy, survey
from pvd_survey.config import Settings
from pvd_survey.models import JobPosting, Meeting, utcnow
from tests.conftest import ENTRY_SCRIPT, STRONG_PASSWORD, open_page

# In the demo data (pvd_survey/demo.py): the webinar in 8 days has places; the workshop in 12 days and the
# Brittany meeting in 35 days are full; the Normandy meeting was 20 days ago. Postings: three of the five
# published ones are the newest (2, 5 and 12 days old); a draft, a closed and two filled ones are not shown.
NEXT_MEETINGS = ["Webinaire : monter une OPAH-RU", "Rencontre régionale des chefs de projet PVD"]
LATEST_POSTINGS = [
    "Chef de projet centre-bourg",
    "Chef de projet Petites villes de demain",
    "Cheffe ou chef de projet PVD",
]


def seed_demo(factory: sessionmaker[Session], settings: Settings) -> None:
    with factory.begin() as session:
        accounts.create_first_admin(
            session, email="ada.admin@example.fr", display_name="Ada Admin", password=STRONG_PASSWORD, settings=settings
        )
        demo.seed(session, settings, lambda: STRONG_PASSWORD)


def test_whats_on_lists_meetings_with_places_and_the_newest_published_postings(factory, settings):
    seed_demo(factory, settings)
    with factory() as session:
        news = home.whats_on(session)
        full = session.scalars(select(Meeting.title).where(Meeting.confirmed_count == Meeting.capacity)).all()
        hidden_states = set(session.scalars(select(JobPosting.status).where(JobPosting.status != "published")))
    assert [meeting.title for meeting in news.meetings] == NEXT_MEETINGS
    assert all(meeting.places_left > 0 for meeting in news.meetings)
    assert {"Atelier friches et foncier", "Rencontre régionale : commerce de centre-bourg"} <= set(full)
    assert "Rencontre régionale Normandie" not in [meeting.title for meeting in news.meetings]  # past
    assert [posting.title for posting in news.postings] == LATEST_POSTINGS
    assert {posting.status for posting in news.postings} == {"published"}
    assert hidden_states == {"draft", "closed", "filled"}
    assert news.postings[0].published_at > news.postings[1].published_at > news.postings[2].published_at


def _meeting(session: Session, title: str, days: float, opens_in: float = -10, closes_before: float = 1) -> int:
    start = utcnow().replace(microsecond=0) + timedelta(days=days)
    return meetings.create_meeting(
        session,
        meetings.MeetingForm(
            title=title,
            kind="webinaire",
            region=None,
            city="",
            venue="",
            online_url="https://webinaire.example.fr",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=1,
            registration_opens_at=utcnow() + timedelta(days=opens_in),
            registration_closes_at=start - timedelta(days=closes_before),
            audiences=("chef_de_projet",),
        ),
    )


def test_next_meetings_leave_out_full_closed_and_past_ones_but_keep_those_not_open_yet(session, settings):
    now = utcnow()
    _meeting(session, "Complète", 3)
    meetings.register(
        session,
        session.scalar(select(Meeting.id).where(Meeting.title == "Complète")),
        meetings.RegistrationForm(
            full_name="Léa Martin",
            email="lea@example.fr",
            attendee_role="chef_de_projet",
            organisation="Montbard",
            department="21",
            consent=True,
        ),
        settings,
    )
    _meeting(session, "Inscriptions closes", 2, closes_before=2.5)  # closed half a day ago
    _meeting(session, "Bientôt ouverte", 6, opens_in=2)
    _meeting(session, "Ouverte", 4)
    _meeting(session, "En cours", -0.01, opens_in=-20, closes_before=2)  # started a quarter of an hour ago
    for number in range(3):
        _meeting(session, f"Plus tard {number}", 30 + number)
    session.flush()
    listed = home.next_meetings(session, now)
    assert [meeting.title for meeting in listed] == ["Ouverte", "Bientôt ouverte", "Plus tard 0"]
    assert listed[1].registration_state(now) == "not_open"
    assert [meeting.title for meeting in home.next_meetings(session, now, limit=10)][-1] == "Plus tard 2"


def test_empty_database_has_nothing_on(session):
    assert home.whats_on(session) == home.WhatsOn([], [])


# ---------------------------------------------------------------------------- pages (AppTest)


def page_links(at: AppTest) -> list[tuple[str, str, str]]:
    """(label, page file, query string) of every st.page_link drawn by the run, in order."""
    return [(element.proto.label, element.proto.page, element.proto.query_string) for element in at.get("page_link")]


def test_public_home_links_each_meeting_and_posting_to_its_page(app_env, factory, settings):
    seed_demo(factory, settings)
    with factory() as session:
        ids = {meeting.title: meeting.id for meeting in meetings.list_all(session)}
        postings = {row.title: row.id for row in home.latest_postings(session)}
    at = AppTest.from_file(str(ENTRY_SCRIPT), default_timeout=30).run()
    assert not at.exception
    assert [header.value for header in at.header] == ["Prochaines rencontres", "Dernières offres d'emploi"]
    links = page_links(at)
    for title in NEXT_MEETINGS:
        assert (title, "rencontres", f"rencontre={ids[title]}") in links
    for title, posting_id in postings.items():
        assert (title, "offres", f"offre={posting_id}") in links
    labels = [label for label, _, _ in links]
    assert "Atelier friches et foncier" not in labels and "Rencontre régionale Normandie" not in labels
    assert "Chargé de mission habitat (OPAH-RU)" not in labels  # filled
    # The footer of every page: the three public notices.
    assert labels[-3:] == ["Mentions légales", "Données personnelles", "Accessibilité"]
    assert [path for _, path, _ in links[-3:]] == ["mentions-legales", "donnees-personnelles", "accessibilite"]


def test_home_says_when_nothing_is_on_and_lists_nothing_before_set_up(app_env, factory, settings):
    at = open_page("pages/home.py")
    assert not at.exception and not at.header  # no administrator yet: the page points to the set-up
    with factory.begin() as session:
        accounts.create_first_admin(
            session, email="ada.admin@example.fr", display_name="Ada Admin", password=STRONG_PASSWORD, settings=settings
        )
    at = open_page("pages/home.py")
    assert not at.exception
    shown = [str(element.value) for element in at.markdown]
    assert "Aucune rencontre n'a de place libre pour l'instant." in shown
    assert "Aucune offre publiée pour l'instant." in shown


@pytest.mark.parametrize("key", access.FOOTER_PAGES)
@pytest.mark.parametrize("role", [None, "admin"])
def test_public_notices_open_for_everyone_and_stay_out_of_the_menu(app_env, factory, settings, key, role):
    with factory.begin() as session:
        admin = accounts.create_first_admin(
            session, email="ada.admin@example.fr", display_name="Ada Admin", password=STRONG_PASSWORD, settings=settings
        )
    spec = access.PAGES_BY_KEY[key]
    assert spec.hidden and access.can_view(key, None, setup_needed=True)
    at = open_page(spec.path, admin if role else None)
    assert not at.exception and not at.error
    assert [title.value for title in at.title] == [spec.title]


def test_personal_data_notice_gives_the_retention_periods_of_the_services(app_env, factory, settings):
    # The notice's words must stay true to the purge steps.
    assert timedelta(days=91) == privacy.APPLICATION_RETENTION
    assert timedelta(days=730) == privacy.CONTACT_RETENTION
    assert timedelta(days=365) == meetings.RETENTION
    with factory.begin() as session:
        accounts.create_first_admin(
            session, email="ada.admin@example.fr", display_name="Ada Admin", password=STRONG_PASSWORD, settings=settings
        )
    at = open_page("pages/personal_data.py")
    text = " ".join(" ".join(str(element.value) for element in at.markdown).split())
    for words in (
        "**trois mois** après que l'offre",
        "**deux ans** après le dernier contact",
        "**Anonymisées un an après la rencontre**",
        "**30 jours** après son écriture",
        # The survey: what holds (issue 16), said as on the survey page and in the invitation, and what the
        # direction does not see; no promise of impossibility.
        survey.anonymity_notice(5),
        "ni si vous avez répondu, ni quand, ni ce que vous avez répondu, ni si vous avez été relancé",
        "groupes d'au moins 5",
    ):
        assert words in text
    assert "seul ce lien personnel" not in text.lower() and "aucune soustraction" not in text.lower()
