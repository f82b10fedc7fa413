"""End-to-end tests in a real browser: Debian's Chromium (Playwright, sync API) against `streamlit run`.

One Streamlit server per module, on a free port and on the test database; the `factory` fixture empties
every table before each test, and the app reads the database again on every run, so each test seeds its
own data through the services. A sign-in is a server-side session behind an HttpOnly cookie, so a `goto` or a
new tab of the same browser context stays signed in, while a new context is a new, anonymous visitor. On
failure, a screenshot of every open page goes to test-artifacts/<test name>.png.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import access, accounts, mail, schedule, stats, survey
from pvd_survey.config import Settings
from tests.conftest import PROJECT_ROOT, STRONG_PASSWORD, free_port

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
SERVER_START_TIMEOUT = 30.0
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NAV_LABELS = "[data-testid='stSidebarNav'] [data-testid='stSidebarNavLink'] [data-testid='stMarkdownContainer']"

ORGANISATION_NAME = "Communauté de communes du Montbardois"
PEOPLE = {
    "admin": ("Anne Lefèvre", "anne.lefevre@anct.gouv.fr"),
    "direction": ("Didier Roux", "didier.roux@anct.gouv.fr"),
    "recruteur": ("Rachid Benali", "rachid.benali@montbardois.fr"),
}

expect.set_options(timeout=TIMEOUT_MS)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, shared by the tests of this module (each test opens its own contexts)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _server_env(database_url: str, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PVD_SMTP_", "PVD_MAIL_"))}
    env.update(
        PVD_DATABASE_URL=database_url,
        PVD_ARGON2_PROFILE="fast-tests",
        PVD_BASE_URL=f"http://127.0.0.1:{port}",
        PVD_MAIL_THREAD="false",  # the tests deliver the outbox themselves, to their own SMTP server
        # The dashboard refreshes itself every 4 s here (10 s by default), to see live updates quickly while
        # leaving a loaded machine time to finish each run.
        PVD_DASHBOARD_REFRESH_SECONDS="4",
    )
    return env


@dataclass(frozen=True)
class AppServer:
    """A running `streamlit run` process and where its output goes."""

    url: str
    log_path: Path

    def log_tail(self, size: int = 6000) -> str:
        """The end of the server's output (tracebacks of the app land there)."""
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""


def _start_server(
    database_url: str, log_path: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, AppServer]:
    port = free_port()
    server = AppServer(f"http://127.0.0.1:{port}", log_path)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        # The code under test stays the code the server started with (no reload when a file changes).
        "--server.fileWatcherType",
        "none",
    ]
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=_server_env(database_url, port) | (extra_env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, server


def _wait_until_up(process: subprocess.Popen, server: AppServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with code {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=1) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no answer from {server.url} within {timeout} s:\n{server.log_tail()}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def running_servers(database_url: str, log_dir: Path, count: int) -> Iterator[list[AppServer]]:
    """`count` fresh `streamlit run streamlit_app.py` processes on this database (no SMTP), started together."""
    started = [_start_server(database_url, log_dir / f"server-{index}.log") for index in range(count)]
    # (log files are overwritten by the next group: a failure shows the group that failed)
    try:
        for process, server in started:
            # Started at once, they share 2 cores: allow for that.
            _wait_until_up(process, server, SERVER_START_TIMEOUT * max(1, count / 4))
        yield [server for _, server in started]
    finally:
        for process, _ in started:
            _stop(process)


@contextlib.contextmanager
def running_server(database_url: str, log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[AppServer]:
    """A fresh `streamlit run streamlit_app.py` process on this database (no SMTP), answering, then stopped."""
    process, server = _start_server(database_url, log_path, extra_env)
    try:
        _wait_until_up(process, server, SERVER_START_TIMEOUT)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def app_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[AppServer]:
    """A `streamlit run` server on the test database (no SMTP), stopped after the module.

    A test module may set APP_SERVER_ENV (a dict) to change the server's environment.
    """
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    with running_server(database_url, log_path, getattr(request.module, "APP_SERVER_ENV", {})) as server:
        yield server


@pytest.fixture
def app_url(app_server: AppServer) -> str:
    """Base URL of the app."""
    return app_server.url


class Pages:
    """Browser contexts opened by one test: each new context is a new visitor, hence a new Streamlit session."""

    def __init__(self, browser: Browser):
        self.browser = browser
        self.contexts: list[BrowserContext] = []

    def new(self) -> Page:
        """A page in a fresh browser context (no cookies, no storage)."""
        context = self.browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        return context.new_page()

    def screenshot(self, name: str) -> None:
        """Save every open page, the most recent one as <name>.png."""
        ARTIFACTS.mkdir(exist_ok=True)
        open_pages = [page for context in self.contexts for page in context.pages if not page.is_closed()]
        for index, page in enumerate(reversed(open_pages)):
            path = ARTIFACTS / (f"{name}.png" if index == 0 else f"{name}-{index}.png")
            try:
                page.screenshot(path=str(path), full_page=True)
            except Exception as error:  # a screenshot must never hide the test's own failure
                print(f"screenshot {path} failed: {error}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    """Fresh browser contexts for one test, closed at its end."""
    opened = Pages(browser)
    yield opened
    opened.close()


def screenshot_on_failure(test: Callable[..., None]) -> Callable[..., None]:
    """Save screenshots of the test's pages to test-artifacts/<test name>.png when it fails."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs) -> None:
        try:
            test(*args, **kwargs)
        except BaseException:
            request: pytest.FixtureRequest = kwargs["request"]
            kwargs["pages"].screenshot(re.sub(r"[^\w.\[\]-]+", "_", request.node.name))
            print(f"--- end of the streamlit server's output:\n{request.getfixturevalue('app_server').log_tail()}")
            raise

    return wrapper


@dataclass(frozen=True)
class Seeded:
    """Accounts created through the services for a test."""

    users: dict[str, accounts.UserInfo]
    organisation: accounts.OrganisationInfo


@pytest.fixture
def seeded(factory: sessionmaker[Session], settings: Settings) -> Seeded:
    """An administrator, a member of the programme's direction and a recruiter bound to an organisation."""
    with factory.begin() as session:
        organisation = accounts.create_organisation(session, ORGANISATION_NAME, "epci", "21")
        users = {
            role: accounts.create_user(
                session,
                email=email,
                display_name=name,
                role=role,
                settings=settings,
                organisation_id=organisation.id if role == "recruteur" else None,
                password=STRONG_PASSWORD,
            )
            for role, (name, email) in PEOPLE.items()
        }
    return Seeded(users, organisation)


# ---------------------------------------------------------------------------- helpers


def nav_titles(page: Page) -> set[str]:
    """Titles of the links in the sidebar navigation."""
    return set(page.locator(NAV_LABELS).all_inner_texts())


def expect_nav(page: Page, role: str | None, setup_needed: bool = False) -> None:
    """Wait until the sidebar lists exactly the pages this role may see, then compare the sets."""
    expected = {spec.title for spec in access.visible_pages(role, setup_needed)}
    with contextlib.suppress(PlaywrightTimeoutError):  # the assertion below shows the difference
        page.wait_for_function(
            """([selector, expected]) => {
                const titles = [...document.querySelectorAll(selector)].map((el) => el.innerText.trim()).sort();
                return JSON.stringify(titles) === JSON.stringify(expected);
            }""",
            arg=[NAV_LABELS, sorted(expected)],
            timeout=TIMEOUT_MS,
        )
    assert nav_titles(page) == expected


def nav_link(page: Page, title: str) -> Locator:
    """The sidebar link whose label is exactly this title."""
    return (
        page.get_by_test_id("stSidebarNav")
        .get_by_test_id("stSidebarNavLink")
        .filter(has=page.get_by_test_id("stMarkdownContainer").get_by_text(title, exact=True))
    )


def heading(page: Page, text: str) -> Locator:
    """A page title (st.title) with exactly this text.

    While a run replaces a page, Streamlit briefly shows the new elements next to the stale ones, so a
    title may be there twice for a moment: wait with `.first`, and count once the run is over.
    """
    return page.get_by_role("heading", level=1, name=text, exact=True)


def alert(page: Page, kind: str, text: str) -> Locator:
    """The first Streamlit alert of this kind (Success, Info, Warning, Error) with exactly this text."""
    return page.get_by_test_id(f"stAlertContent{kind}").filter(has=page.get_by_text(text, exact=True)).first


def wait_for_run(page: Page) -> None:
    """Wait until the script run that drew the page has finished."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=TIMEOUT_MS)


def expect_page(page: Page, title: str) -> None:
    """Wait until the page titled so has been drawn completely, once, without a Streamlit exception."""
    expect(heading(page, title).first).to_be_visible()
    wait_for_run(page)
    expect(heading(page, title)).to_have_count(1)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def open_login_page(page: Page, app_url: str) -> None:
    """Open the app as a new visitor and go to the login page through the sidebar."""
    page.goto(app_url)
    expect_page(page, "Petites villes de demain")
    nav_link(page, "Connexion").click()
    expect_page(page, "Connexion")


def submit_login(page: Page, email: str, password: str) -> None:
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()


def expected_heading(spec: access.PageSpec) -> str:
    """The st.title each page draws (most pages reuse their navigation title)."""
    return {
        "home": "Petites villes de demain",
        "organisations": "Organisations employeuses",
        "my_organisation": ORGANISATION_NAME,
        "meetings": "Rencontres du programme",
    }.get(spec.key, spec.title)


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
    expect(sidebar.get_by_role("button", name="Se déconnecter")).to_be_visible()

    with factory() as session:
        admins = [user for user in accounts.list_users(session) if user.role == "admin"]
        assert [admin.email for admin in admins] == ["anne.lefevre@anct.gouv.fr"]
        assert not accounts.needs_setup(session)


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

    # Every page of the role opens from the sidebar and draws its title without an exception.
    # (The log-out below then starts from the last one, "Mon compte", which anonymous visitors may not see.)
    wait_for_run(page)
    for spec in access.visible_pages(role, setup_needed=False):
        nav_link(page, spec.title).click()
        expect(nav_link(page, spec.title)).to_have_attribute("aria-current", "page")
        expect_page(page, expected_heading(spec))
        expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
        if spec.key == "admin_users":  # the positive control of the check below
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
        expect(alert(other_tab, "Error", "Vous n'avez pas accès à cette page.")).to_be_visible()
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
    expect(alert(page, "Info", "Vous êtes déconnecté·e.")).to_be_visible()
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

    expect(alert(page, "Error", "Adresse e-mail ou mot de passe incorrect.")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(1)
    expect_page(page, "Connexion")
    expect(page).to_have_url(f"{app_url}/{access.PAGES_BY_KEY['login'].url_path}")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    expect_nav(page, None)
    expect(page.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter")).to_have_count(0)


# ---------------------------------------------------------------------------- the survey, live on the dashboard


def choose_in_selectbox(page: Page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox by its label (typing filters the long lists)."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).get_by_role("combobox")
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_run(page)


def choose_in_multiselect(page: Page, label: str, option: str) -> None:
    """Tick one option of a Streamlit multiselect. The previous answer's run may redraw the page just after the
    list opens and close it again: the list is opened until the option shows (at most three times)."""
    box = page.get_by_test_id("stMultiSelect").filter(has_text=label).get_by_role("combobox")
    choice = page.get_by_role("option", name=option, exact=True)
    for attempt in range(3):
        wait_for_run(page)
        box.click()
        try:
            choice.wait_for(timeout=5_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    choice.click()
    page.keyboard.press("Escape")
    wait_for_run(page)


def choose_radio(page: Page, label: str, option: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text=label).get_by_text(option, exact=True).click()
    wait_for_run(page)


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
    open_login_page(dashboard, app_url)
    submit_login(dashboard, PEOPLE["direction"][1], STRONG_PASSWORD)
    expect_nav(dashboard, "direction")
    nav_link(dashboard, "Tableau de bord").click()
    expect_page(dashboard, "Tableau de bord")
    # The survey's respondents (the overview above has metrics of its own).
    metric = (
        dashboard.get_by_test_id("stMetric")
        .filter(has=dashboard.get_by_test_id("stMetricLabel").get_by_text("Répondants", exact=True))
        .get_by_test_id("stMetricValue")
    )
    expect(metric).to_have_text(str(published))  # 6 answers, perturbed
    expect(dashboard.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    # Imported answers are counted at once: no group of answers has been released yet, and how many wait is never
    # shown.
    caption = dashboard.get_by_text(re.compile(r"Les chiffres ne changent qu'à heures fixes"))
    expect(caption).to_contain_text("Aucun groupe de réponses publié pour l'instant")
    expect(caption).not_to_contain_text("en attente")
    expect(dashboard.get_by_text(re.compile(r"chiffre est perturbé de 2 au plus"))).to_be_visible()

    # A chef de projet answers on another device, through the personal link.
    respondent = pages.new()
    respondent.goto(link)
    expect_page(respondent, "Questionnaire : le profil des chefs de projet")
    choose_in_selectbox(respondent, "Date de prise de poste", "mars 2022")
    choose_radio(respondent, "Employeur", "Une commune")
    choose_radio(respondent, "Genre", "Homme")
    choose_radio(respondent, "Expérience professionnelle", "Entre un et cinq ans")
    choose_radio(respondent, "Diplôme le plus élevé", "Bac+4 ou bac+5")
    choose_in_multiselect(respondent, "Domaine(s)", "Architecture")
    choose_in_selectbox(respondent, "Département du poste", "21 – Côte-d'Or")
    expect(respondent.get_by_text(re.compile(r"^Brouillon enregistré à"))).to_be_visible()
    respondent.get_by_role("button", name="Envoyer mes réponses").click()
    expect(alert(respondent, "Success", "Merci ! Vos réponses sont enregistrées.")).to_be_visible()

    # One new answer moves no figure, and neither do four more: a group of five waits for the background work, never
    # released by a submission. The dashboard refreshes by itself meanwhile and says nothing of what waits.
    with factory.begin() as session:
        for email in others:
            token = links[email].split("jeton=")[1]
            survey.submit(session, token, {**BROWSER_ANSWERS, "gender": "femme"}, settings)
    checked = re.search(r"Vérifié à (\d\d:\d\d:\d\d)", caption.inner_text()).group(1)
    expect(caption).not_to_contain_text(f"Vérifié à {checked}", timeout=15_000)  # refreshed at least once
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
