"""End-to-end tests in a real browser (Debian's Chromium against `streamlit run`): the first administrator, each
role's menu and pages, a wrong password, and a survey answer reaching the dashboard live. Fixtures and helpers:
tests/browser_support.py.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import access, accounts, mail, schedule, stats, survey
from pvd_survey.config import load_settings
from tests.browser_support import (
    ORGANISATION_NAME,
    PEOPLE,
    SUBMITTED,
    Pages,
    Seeded,
    alert,
    choose_in_selectbox,
    choose_radio,
    expect_nav,
    expect_page,
    expected_heading,
    heading,
    nav_link,
    nav_titles,
    open_dashboard_section,
    open_login_page,
    screenshot_on_failure,
    selectbox,
    sign_in,
    submit_login,
    tick,
    wait_for_run,
)
from tests.conftest import STRONG_PASSWORD

# Run once, on SQLite (tests/conftest.py says why a browser journey may be): what they do on the database runs on
# PostgreSQL in the service and AppTest suites, and the menus and guards come from access.PAGES whatever the database.
pytestmark = [pytest.mark.browser, pytest.mark.database_independent]

# What each protected page would reveal: its title, and e-mail addresses only it lists.
PROTECTED_CONTENT = {
    "admin_users": ("Comptes", [email for _, email in PEOPLE.values()]),
    "admin_outbox": ("Messages", [email for _, email in PEOPLE.values()]),
    "organisations": ("Organisations employeuses", []),
    "my_organisation": (ORGANISATION_NAME, [PEOPLE["recruteur"][1]]),
}


# ---------------------------------------------------------------------------- tests


@screenshot_on_failure
def test_first_start_creates_the_first_administrator(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, factory: sessionmaker[Session]
) -> None:
    page = pages.new()
    page.goto(app_url)
    expect_page(page, "Bienvenue : créez le premier compte administrateur")
    expect_nav(page, None, setup_needed=True)

    page.get_by_role("textbox", name="Code de création").fill(accounts.first_admin_code(load_settings()))
    page.get_by_label("Nom et prénom").fill("Anne Lefèvre")
    page.get_by_label("Adresse e-mail").fill("Anne.Lefevre@anct.gouv.fr")
    page.get_by_label("Mot de passe", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Créer le compte administrateur").click()

    # The success message shows while the browser goes through the session route, back home.
    expect_page(page, "Petites villes de demain")
    expect_nav(page, "admin")
    assert {"Comptes", "Messages", "Organisations", "Mon compte"} <= nav_titles(page)
    assert "Connexion" not in nav_titles(page)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("Anne Lefèvre")
    sidebar.get_by_role("button", name="Se déconnecter").wait_for()

    with factory() as session:
        admins = [user for user in accounts.list_users(session) if user.role == "admin"]
        assert [admin.email for admin in admins] == ["anne.lefevre@anct.gouv.fr"]
        assert not accounts.needs_setup(session)


# Every (page, role) pair a role may open is run on both databases by test_pages.test_page_for_role.
@pytest.mark.parametrize("role", ["admin", "direction", "recruteur"])
@screenshot_on_failure
def test_each_role_sees_its_own_pages(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded: Seeded, role: str
) -> None:
    name, email = PEOPLE[role]
    page = pages.new()
    open_login_page(page, app_url)
    expect_nav(page, None)

    submit_login(page, email, STRONG_PASSWORD)
    expect_page(page, "Petites villes de demain")
    expect_nav(page, role)
    assert "Connexion" not in nav_titles(page)
    expect(page.get_by_test_id("stSidebar")).to_contain_text(name)

    # Every page of the role's menu opens from the sidebar with its title and no error: the accessibility scan
    # (tests/test_browser_accessibility.py) clicks through each of them. Here: the admin's accounts table (the
    # positive control of the check below), and "Mon compte", which anonymous visitors may not see, where the
    # log-out below starts.
    wait_for_run(page)
    for spec in access.visible_pages(role, setup_needed=False):
        if spec.key not in ("admin_users", "account"):
            continue
        nav_link(page, spec.title).click()
        expect(nav_link(page, spec.title)).to_have_attribute("aria-current", "page")
        expect_page(page, expected_heading(spec))
        if spec.key == "admin_users":
            expect(page.get_by_test_id("stDataFrame")).to_have_count(1)
        expect_nav(page, role)  # still signed in

    # A page the role may not see, typed by hand in a new tab (signed in too: the session is the browser's).
    forbidden = [
        spec
        for spec in access.PAGES
        if spec.key in PROTECTED_CONTENT and not access.can_view(spec.key, role, setup_needed=False)
    ]
    if role == "admin":
        assert [spec.key for spec in forbidden] == ["my_organisation"]
    else:
        assert "admin_users" in {spec.key for spec in forbidden}
    other_tab = page.context.new_page()
    for spec in forbidden:
        other_tab.goto(f"{app_url}/{spec.url_path}")
        # The page is reached (not Streamlit's English "page not found") and its own guard answers in French.
        alert(other_tab, "Error", "Vous n'avez pas accès à cette page.").wait_for()
        wait_for_run(other_tab)
        expect(other_tab.get_by_test_id("stException")).to_have_count(0)
        title, secrets = PROTECTED_CONTENT[spec.key]
        expect(heading(other_tab, title)).to_have_count(0)
        expect(other_tab.get_by_test_id("stDataFrame")).to_have_count(0)
        body = other_tab.locator("body").inner_text()
        for secret in secrets:
            assert secret not in body, f"{spec.url_path} shows {secret} to the role {role}"
        expect_nav(other_tab, role)
    other_tab.close()

    # Logging out brings the anonymous navigation back.
    page.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter").click()
    alert(page, "Info", "Vous êtes déconnecté·e.").wait_for()
    expect_page(page, "Petites villes de demain")
    expect_nav(page, None)
    assert "Connexion" in nav_titles(page)
    expect(page.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter")).to_have_count(0)


@screenshot_on_failure
def test_wrong_password_is_refused_in_french(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded: Seeded
) -> None:
    page = pages.new()
    open_login_page(page, app_url)

    submit_login(page, PEOPLE["direction"][1], STRONG_PASSWORD + "-faux")

    alert(page, "Error", "Adresse e-mail ou mot de passe incorrect.").wait_for()
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(1)
    expect_page(page, "Connexion")
    expect(page).to_have_url(f"{app_url}/{access.PAGES_BY_KEY['login'].url_path}")
    page.get_by_role("button", name="Se connecter").wait_for()
    expect_nav(page, None)
    expect(page.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter")).to_have_count(0)


# ---------------------------------------------------------------------------- the survey, live on the dashboard


BROWSER_ANSWERS = {
    "start_month": "2022-03",
    "employer": "commune",
    "gender": "homme",
    "experience": "1to5",
    "diploma": "bac4_5",
    "training_field": ["architecture"],
    "department": "21",
}


@screenshot_on_failure
def test_survey_submitted_by_link_appears_live_on_the_dashboard(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded: Seeded, factory, settings
) -> None:
    from datetime import date

    header = "start_month,employer,gender,experience,diploma,training_field,department\n"
    earlier = survey.read_responses_csv(
        header + "2021-09,epci,femme,5to20,bac4_5,urbanisme_amenagement,21\n" * 6, date.today()
    )
    others = [f"cp{n}@example.fr" for n in range(4)]
    with factory.begin() as session:
        survey.import_responses(session, earlier, settings)
        survey.invite(
            session, survey.parse_invitation_list("\n".join(["lea.martin@montbard.fr;21", *others])), settings
        )
        links = {m.recipient: m.link for m in mail.list_messages(session) if m.kind == "survey_invitation"}
        published = stats.survey_stats(session, stats.Filters(), settings=settings).respondents
    link = links["lea.martin@montbard.fr"]
    # The services ran with the test settings (base URL http://pvd.test): point the e-mailed link at this server.
    assert link.startswith("http://pvd.test/questionnaire?jeton=")
    link = app_url + link.removeprefix("http://pvd.test")

    # The direction watches the dashboard.
    dashboard = pages.new()
    sign_in(dashboard, app_url, "direction")
    nav_link(dashboard, "Tableau de bord").click()
    expect_page(dashboard, "Tableau de bord")
    open_dashboard_section(dashboard, "questionnaire")  # the summary first, the survey one click away
    # The survey's respondents.
    metric = (
        dashboard.get_by_test_id("stMetric")
        .filter(has=dashboard.get_by_test_id("stMetricLabel").get_by_text("Répondants", exact=True))
        .get_by_test_id("stMetricValue")
    )
    expect(metric).to_have_text(str(published))  # 6 answers, perturbed
    dashboard.get_by_test_id("stVegaLiteChart").first.wait_for()
    # Imported answers are counted at once: no group of answers has been released yet, and how many wait is never
    # shown.
    caption = dashboard.get_by_text(re.compile(r"Les chiffres ne changent qu'à heures fixes"))
    expect(caption).to_contain_text("Aucun groupe de réponses publié pour l'instant")
    expect(caption).not_to_contain_text("en attente")
    dashboard.get_by_text(re.compile(r"chiffre est perturbé de 2 au plus")).wait_for()

    # A chef de projet answers on another device, through the personal link.
    respondent = pages.new()
    respondent.goto(link)
    expect_page(respondent, "Questionnaire : le profil des chefs de projet")
    # Sent empty: every question says what is missing, and the keyboard focus is on the first one (RGAA 11.10).
    respondent.get_by_role("button", name="Envoyer mes réponses").click()
    respondent.get_by_text("Le formulaire n'a pas été envoyé : 7 champ(s) à corriger.").wait_for()
    expect(selectbox(respondent, "Date de prise de poste")).to_be_focused()
    choose_in_selectbox(respondent, "Date de prise de poste", "mars 2022")
    choose_radio(respondent, "Employeur", "Une commune")
    choose_radio(respondent, "Genre", "Homme")
    choose_radio(respondent, "Expérience professionnelle", "Entre un et cinq ans")
    choose_radio(respondent, "Diplôme le plus élevé", "Bac+4 ou bac+5")
    tick(respondent, "Architecture")
    choose_in_selectbox(respondent, "Département du poste", "21 – Côte-d'Or")
    respondent.get_by_text(re.compile(r"^Brouillon enregistré à")).wait_for()
    respondent.get_by_role("button", name="Envoyer mes réponses").click()
    alert(respondent, "Success", SUBMITTED).wait_for()
    # The focus is on the confirmation (the form it replaced is gone).
    respondent.wait_for_function("(text) => document.activeElement.textContent.includes(text)", arg=SUBMITTED)

    # One new answer moves no figure, and neither do four more: a group of five waits for the background work, never
    # released by a submission. The dashboard refreshes by itself meanwhile and says nothing of what waits.
    with factory.begin() as session:
        for email in others:
            token = links[email].split("jeton=")[1]
            survey.submit(session, token, {**BROWSER_ANSWERS, "gender": "femme"}, settings)
    live = dashboard.get_by_text(re.compile(r"^Chiffres vérifiés à"))
    checked = re.search(r"vérifiés à (\d\d:\d\d:\d\d)", live.inner_text()).group(1)
    expect(live).not_to_contain_text(f"vérifiés à {checked}", timeout=15_000)  # refreshed at least once
    expect(caption).to_contain_text("Aucun groupe de réponses publié pour l'instant")
    expect(caption).not_to_contain_text("en attente")
    expect(metric).to_have_text(str(published))
    # The background work (each app process's thread, `send-mail`) releases the group at a moment of its schedule.
    assert schedule.run_due_work(factory, settings).survey_released == 5
    with factory.begin() as session:
        after = stats.survey_stats(session, stats.Filters(), settings=settings).respondents
    assert abs(after - 11) <= 2
    expect(caption).to_contain_text("Chiffres publiés le", timeout=15_000)
    expect(metric).to_have_text(str(after), timeout=15_000)
