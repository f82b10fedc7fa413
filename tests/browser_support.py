"""The browser tests' shared machinery: a pytest plugin (tests/conftest.py loads it) and the helpers they import.

Debian's Chromium (Playwright, sync API) against `streamlit run`: one Streamlit server per browser module, on a free
port and on the test database; the `factory` fixture empties every table after each test, and the app reads the
database again on every run, so each test seeds its own data through the services. A sign-in is a server-side
session behind an HttpOnly cookie, so a `goto` or a new tab of the same browser context stays signed in, while a new
context is a new, anonymous visitor. On failure, a screenshot of every open page goes to
test-artifacts/<test name>.png.

An element expected to appear is awaited with `locator.wait_for()`, not `expect(locator).to_be_visible()`: while it
is missing, every poll of Playwright's expect (1.65) takes an ARIA snapshot of the whole page for its error message,
about a tenth of a core on the job board; `wait_for` fails the same way after the same timeout.

Fixtures: `browser` and `app_server` (one per module; a module may set APP_SERVER_ENV, a dict, to change the
server's environment), `app_url`, `pages` (the test's browser contexts) and `seeded` (three accounts). Each
browser module carries the `browser` marker (tests/conftest.py keeps each such module on one xdist worker).
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

from pvd_survey import access, accounts, dashboard
from pvd_survey.bench.browser import CHROMIUM
from pvd_survey.bench.proxy import stop_process
from pvd_survey.config import Settings
from tests.conftest import PROJECT_ROOT, STRONG_PASSWORD, free_port

TIMEOUT_MS = 20_000
# A whole script run: the dashboard's first view imports the chart libraries and builds ~17 charts (about 0.7 s of
# CPU idle, issue 21), many times that when both test workers' servers and browsers share the two cores.
RUN_TIMEOUT_MS = 60_000
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
# What a failure's report reads on each open page: alerts, exceptions and an upload's error.
SHOWN_MESSAGES = "[data-testid=stAlert], [data-testid=stException], [data-testid=stFileChip] [role=alert]"
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
    """Debian's Chromium (its headless build), shared by the tests of this module (each test opens its own
    contexts)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
            stop_process(process)


@contextlib.contextmanager
def running_server(database_url: str, log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[AppServer]:
    """A fresh `streamlit run streamlit_app.py` process on this database (no SMTP), answering, then stopped."""
    process, server = _start_server(database_url, log_path, extra_env)
    try:
        _wait_until_up(process, server, SERVER_START_TIMEOUT)
        yield server
    finally:
        stop_process(process)


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

    def describe(self) -> str:
        """Each open page's address and the messages it shows (for a failure's report in CI's log, where the
        screenshots are not kept)."""
        lines = []
        for context in self.contexts:
            for page in context.pages:
                if page.is_closed():
                    continue
                try:
                    shown = page.locator(SHOWN_MESSAGES).all_inner_texts()
                except Exception as error:  # a report must never hide the test's own failure
                    shown = [f"(messages not read: {error})"]
                lines.append(f"{page.url}: " + (" | ".join(" ".join(text.split()) for text in shown) or "no message"))
        return "\n".join(lines)

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
            print(f"--- the test's pages and the messages they show:\n{kwargs['pages'].describe()}")
            print(f"--- end of the streamlit server's output:\n{request.getfixturevalue('app_server').log_tail()}")
            raise

    return wrapper


@dataclass(frozen=True)
class Seeded:
    """Accounts created through the services for a test."""

    users: dict[str, accounts.UserInfo]
    organisation: accounts.OrganisationInfo


def create_people(session: Session, settings: Settings) -> Seeded:
    """The accounts of PEOPLE (password STRONG_PASSWORD), the recruiter bound to ORGANISATION_NAME."""
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


@pytest.fixture
def seeded(factory: sessionmaker[Session], settings: Settings) -> Seeded:
    """An administrator, a member of the programme's direction and a recruiter bound to an organisation."""
    with factory.begin() as session:
        return create_people(session, settings)


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


# What the survey page says once the answers are sent (the link is then forgotten in the tab).
SUBMITTED = "Merci ! Vos réponses sont enregistrées. Pour les modifier ou les retirer, rouvrez le lien reçu par e-mail."


def alert(page: Page, kind: str, text: str) -> Locator:
    """The first Streamlit alert of this kind (Success, Info, Warning, Error) with exactly this text."""
    return page.get_by_test_id(f"stAlertContent{kind}").filter(has=page.get_by_text(text, exact=True)).first


def wait_for_run(page: Page) -> None:
    """Wait until the script run that drew the page has finished."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=RUN_TIMEOUT_MS)


def open_dashboard_section(page: Page, section: str) -> None:
    """Click one of the dashboard's sections (dashboard.SECTIONS) and wait until it is drawn, in the address too."""
    # (the segmented control's buttons are radios to assistive technologies)
    label = re.compile(rf"^{re.escape(dashboard.SECTIONS[section])}$")
    page.get_by_test_id("stMain").locator("button").filter(has_text=label).click()
    if section == dashboard.SUMMARY:
        expect(page).not_to_have_url(re.compile(r"section="))
        page.get_by_role("heading", name="Carte", exact=True).wait_for()
    else:
        expect(page).to_have_url(re.compile(rf"section={section}"))
    wait_for_run(page)


def expect_page(page: Page, title: str) -> None:
    """Wait until the page titled so has been drawn completely, once, without a Streamlit exception."""
    heading(page, title).first.wait_for()  # (not expect: see the module's docstring)
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


def sign_in(page: Page, app_url: str, role: str) -> None:
    """Sign in as the PEOPLE account of this role, from the login page, and wait for the role's home and menu."""
    open_login_page(page, app_url)
    submit_login(page, PEOPLE[role][1], STRONG_PASSWORD)
    expect_page(page, "Petites villes de demain")
    expect_nav(page, role)


def expected_heading(spec: access.PageSpec) -> str:
    """The st.title each page draws (most pages reuse their navigation title)."""
    return {
        "home": "Petites villes de demain",
        "organisations": "Organisations employeuses",
        "my_organisation": ORGANISATION_NAME,
        "meetings": "Rencontres du programme",
    }.get(spec.key, spec.title)


def selectbox(page: Page, label: str) -> Locator:
    """The combobox of the selectbox with this label (its value is the option shown)."""
    return page.get_by_test_id("stSelectbox").filter(has_text=label).get_by_role("combobox")


def choose_in_selectbox(page: Page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox by its label (typing filters the long lists)."""
    box = selectbox(page, label)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_run(page)


def tick(page: Page, label: str) -> None:
    """Tick a Streamlit checkbox by its label."""
    page.get_by_test_id("stCheckbox").filter(has_text=label).get_by_text(label, exact=True).click()
    wait_for_run(page)


def choose_radio(page: Page, label: str, option: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text=label).get_by_text(option, exact=True).click()
    wait_for_run(page)
