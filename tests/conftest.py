"""Shared fixtures: a real database per test session (SQLite or PostgreSQL), a real SMTP server, settings.

Choose the database with PVD_TEST_DATABASE=sqlite (default) or postgresql; the PostgreSQL server is
reached through PVD_TEST_PG_ADMIN_URL (default: the machine's server, trust authentication). Each
pytest process (each xdist worker) creates its own database and drops it at the end, so runs never
share state. Skipped tests fail the run unless PVD_ALLOW_SKIPS=1: a skipped database or browser
test must never pass for a green run.

Tests whose outcome cannot depend on the database (pure functions: the disclosure mathematics, territory, charts,
exports, configuration...) are marked `database_independent` (one test, or a module's `pytestmark`). CI runs the
suite on both databases: the SQLite run runs them, the PostgreSQL run deselects them (deselected, not skipped, so
they are run exactly once). A test so marked may not use the test database (`database_url` and the fixtures built
on it): collection stops with an error if it does. Browser tests are the exception: their app server needs a
database, while what they check in the browser does not depend on which (the markup axe-core scans, the menu a
freshly started server shows, the journeys' clicks); the pages' and services' behaviour on each database is checked
by the AppTest and service suites. A browser test is marked so only when it reaches no database code that the
PostgreSQL run misses without it: measured with line coverage (coverage 7.17, app servers and spawned processes
included) of the PostgreSQL run with and without it, and any line only it reached given a test on both databases
(tests/coverage_only_by.sh; 2026-12-08: the journeys of test_browser, test_browser_recruitment and
test_browser_meetings). The browser tests
about PostgreSQL itself stay on both: sessions shared by two servers, nginx in front of several processes, outages,
the meeting's protocol visit.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import db
from pvd_survey.config import Settings, SmtpSettings, load_settings
from pvd_survey.models import Base

# The browser tests' fixtures (Chromium, one app server per module, page contexts, accounts) and their helpers.
pytest_plugins = ["tests.browser_support"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_BACKEND = os.environ.get("PVD_TEST_DATABASE", "sqlite").strip().lower()
PG_ADMIN_URL = os.environ.get("PVD_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
STRONG_PASSWORD = "cheval-batterie-agrafe-42"
# The survey's server key for every test and every command they start (PostgreSQL requires one).
TEST_SECRET_KEY = "test-key-0123456789-abcdefghijklmnopqrstuvwxyz"
os.environ.setdefault("PVD_SECRET_KEY", TEST_SECRET_KEY)
# A test that forgets to choose its database gets an empty one of its own process, never the project's db/pvd.sqlite3.
os.environ.setdefault("PVD_DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='pvd-unset-')}/unset.sqlite3")

if TEST_BACKEND not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"PVD_TEST_DATABASE must be sqlite or postgresql, not {TEST_BACKEND!r}")


# ---------------------------------------------------------------------------- no silent skips

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every skipped test."""
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Turn a run with skipped tests into a failure (they would hide missing browsers or databases)."""
    if _skipped and os.environ.get("PVD_ALLOW_SKIPS") != "1" and exitstatus == 0:
        print(f"\n{len(_skipped)} test(s) skipped, which this project treats as a failure:")
        for nodeid in _skipped[:20]:
            print(f"  {nodeid}")
        session.exitstatus = 1


# ---------------------------------------------------------------------------- tests run on one database only

DATABASE_INDEPENDENT = "database_independent"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each browser module on one worker; refuse a database-independent test that uses the database; on
    PostgreSQL, deselect the database-independent tests.

    With `--dist loadgroup` (run-tests.sh) every other test goes to whichever worker is free. The tests of a browser
    module share a server started once per module (and some the data seeded for it), so each module is one group.
    """
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    marked = [item for item in items if item.get_closest_marker(DATABASE_INDEPENDENT)]
    misplaced = [
        item.nodeid
        for item in marked
        if "database_url" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("browser")
    ]
    if misplaced:
        raise pytest.UsageError(
            f"marked {DATABASE_INDEPENDENT} but using the test database: " + ", ".join(misplaced[:10])
        )
    # PVD_TEST_KEEP_MARKED=1: run them on PostgreSQL too (tests/coverage_only_by.sh measures what they reach there).
    if TEST_BACKEND == "sqlite" or not marked or os.environ.get("PVD_TEST_KEEP_MARKED") == "1":
        return
    config.hook.pytest_deselected(items=marked)
    keep = set(map(id, items)) - set(map(id, marked))
    items[:] = [item for item in items if id(item) in keep]


# ---------------------------------------------------------------------------- database


def _create_postgres_database() -> tuple[str, Engine]:
    name = f"pvd_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        # A test database needs no durability: commits need not wait for the WAL to reach the disk.
        connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return url, admin


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a fresh, migrated database for this test process."""
    if TEST_BACKEND == "postgresql":
        url, admin = _create_postgres_database()
    else:
        url, admin = f"sqlite:///{tmp_path_factory.mktemp('db') / 'pvd-test.sqlite3'}", None
    engine = db.make_engine(url)
    db.migrate(engine)
    _empty_all_tables(engine)  # what migrations wrote (the survey's release row): tests start on empty tables
    engine.dispose()
    yield url
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The engine the services use in tests (same settings as the app)."""
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    """Every table of the models emptied in one pass, children first (one round trip on PostgreSQL).

    Not TRUNCATE: on PostgreSQL it gives every table new files, synced at commit, and took 400 to 600 ms for the 21
    tables against 2 ms for these DELETEs of a test's few rows (measured on the 2-core development machine).
    """
    deletes = [table.delete() for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("; ".join(str(delete.compile(connection)) for delete in deletes)))
        else:  # Python's sqlite3 runs one statement per call
            for delete in deletes:
                connection.execute(delete)


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Session factory on an empty database; every table is emptied after the test.

    Emptied once per test, after it: the database starts empty (see `database_url`) and every test that writes
    through this fixture leaves it empty again, also when it fails.
    """
    yield db.make_session_factory(engine)
    _empty_all_tables(engine)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction, committed at the end of the test if it did not fail (like a page's unit of work)."""
    with factory.begin() as session:
        yield session


@pytest.fixture
def arrivals(monkeypatch: pytest.MonkeyPatch) -> threading.Semaphore:
    """Released each time a thread starts waiting its turn in `db.FifoLock` or `db.FairSlots`.

    Tests order their threads on it (start one, wait until it is in line, start the next) instead of sleeping.
    """
    arrived = threading.Semaphore(0)

    class Turn(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            arrived.release()
            return super().wait(timeout)

    monkeypatch.setattr(db, "threading", SimpleNamespace(**{**vars(threading), "Event": Turn}))
    return arrived


# ---------------------------------------------------------------------------- settings and e-mail


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for service tests: this database, fast password hashing, no SMTP."""
    return load_settings(
        {
            "PVD_DATABASE_URL": database_url,
            "PVD_ARGON2_PROFILE": "fast-tests",
            "PVD_BASE_URL": "http://pvd.test",
            "PVD_SECRET_KEY": TEST_SECRET_KEY,
        },
        secrets_path=tmp_path / "no-secrets.toml",  # none: the values above only
    )


def file_bytes_from_another_process(path: Path) -> bytes:
    """The raw bytes of a file, read by another process.

    Opening and closing a SQLite database file in the process that uses it drops that process's
    POSIX locks on it (sqlite.org/howtocorrupt.html, 2.2), which can corrupt it; `cat` cannot.
    """
    import subprocess

    if not path.exists():
        return b""
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SmtpServer:
    """A real SMTP server (aiosmtpd) and what it received."""

    port: int
    messages: list[Message] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    def settings(self) -> SmtpSettings:
        """SMTP settings that reach this server."""
        return SmtpSettings(
            "127.0.0.1", self.port, "none", None, None, "Petites villes de demain <pvd@anct.gouv.fr>", timeout_seconds=5
        )

    def start(self) -> None:
        """(Re)start listening on the same port."""
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening (the server is 'down')."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, recipient: str) -> list[Message]:
        """Messages received for one address."""
        with self.lock:
            return [m for m in self.messages if m["To"] == recipient]


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.server.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.server.lock:
            self.server.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on a free port, stopped after the test."""
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


# ---------------------------------------------------------------------------- the Streamlit app

_REAL_MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    """Put the test process's own `__main__` back after each test.

    AppTest runs main_page.py as `__main__` and leaves it in sys.modules: a process started later with the "spawn"
    method (the capacity and migration tests) would then run main_page.py again as its own main module, i.e. a page
    run outside Streamlit in the child, which opened (and made) the default database, or stopped the child.
    """
    yield
    sys.modules["__main__"] = _REAL_MAIN


def _scan_component_manifests_once() -> None:
    """Scan the installed packages for Streamlit components once per test process, not once per AppTest.

    Every new AppTest reads the metadata of every installed distribution to find Streamlit components: 0.6 s of
    the 0.7 s an AppTest of a simple page took on the 2-core machine (cProfile), about 600 times per run. A server
    does it once at its start; the installed packages do not change during a test run.
    """
    from streamlit.components.v2 import manifest_scanner

    manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)


_scan_component_manifests_once()


@pytest.fixture(autouse=True)
def steady_state_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run AppTest the way a server runs after its first script run: st.navigation decides.

    Streamlit serves the very first script run of a server process in its old "pages directory" mode
    (every file in pages/ reachable by name, without the entry point); st.navigation then switches
    the process to navigation mode for good. AppTest resets that switch before every run, so without
    this fixture every AppTest run would be such a first run. The first-run exposure itself is
    covered by running each page file on its own (see test_pages.py): it must stop at its guard.
    """
    from streamlit.runtime import pages_manager

    original_init = pages_manager.PagesManager.__init__

    def init(self, *args, **kwargs) -> None:
        pages_manager.PagesManager.uses_pages_directory = False
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(pages_manager.PagesManager, "__init__", init)


@pytest.fixture
def app_env(factory: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Environment for AppTest runs: this (emptied) database, fast hashing, no SMTP, fresh caches.

    The process's database (`web.database()`, shared by the pages and the web layer) opens at the first page run
    or request with these settings, and is closed after the test.
    """
    import streamlit as st

    from pvd_survey import web

    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setenv("PVD_DATABASE_URL", database_url)
    monkeypatch.setenv("PVD_ARGON2_PROFILE", "fast-tests")
    monkeypatch.setenv("PVD_BASE_URL", "http://pvd.test")
    # No background thread: tests run the scheduled work (reminders, deadlines) themselves, when they mean to.
    monkeypatch.setenv("PVD_MAIL_THREAD", "false")
    for key in ("PVD_SMTP_HOST", "PVD_SMTP_PORT", "PVD_MAIL_FROM"):
        monkeypatch.delenv(key, raising=False)
    web.forget_database()
    st.cache_resource.clear()
    st.cache_data.clear()
    yield database_url
    web.forget_database()
    st.cache_resource.clear()


ENTRY_SCRIPT = PROJECT_ROOT / "main_page.py"  # what streamlit_app.py's App runs for every page
TEST_COOKIES_KEY = "pvd_test_cookies"


@pytest.fixture(autouse=True)
def cookies_in_session_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest cannot send cookies (its st.context.cookies is empty): the test's cookie jar lives in session_state.

    Everything else of a sign-in is real: tickets and sessions go through the services and the web layer's
    routes (`follow_redirect`); the browser tests cover the cookies themselves.
    """
    import streamlit as st

    from pvd_survey.ui import people

    monkeypatch.setattr(people, "request_cookies", lambda: st.session_state.get(TEST_COOKIES_KEY, {}))


def open_session_for(user) -> str:
    """A real server-side session for `user` (a UserInfo), opened as the session route opens one; its raw id."""
    from pvd_survey import sessions, ui

    with db.transaction(ui.runtime().factory) as session:
        ticket = sessions.issue_ticket(session, user, "/")
        return sessions.redeem_ticket(session, ticket, ui.settings()).session_id


def app_test(user=None, script: Path = ENTRY_SCRIPT, cookies: dict[str, str] | None = None):
    """An AppTest of the app (or of one page file run on its own), signed in as `user` if given."""
    from streamlit.testing.v1 import AppTest

    from pvd_survey import sessions

    at = AppTest.from_file(str(script), default_timeout=30)
    jar = dict(cookies or {})
    if user is not None:
        jar[sessions.SESSION_COOKIE] = open_session_for(user)
    at.session_state[TEST_COOKIES_KEY] = jar
    return at


def web_client():
    """An HTTP client on the web layer (routes and middleware of streamlit_app.py, without Streamlit)."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from pvd_survey import web

    web.forget_database()  # the settings as the test left them (as after a restart)
    return TestClient(
        Starlette(routes=web.routes(), middleware=web.middleware()), base_url="http://pvd.test", follow_redirects=False
    )


def redirect_target(at) -> str:
    """Where ui.go_to sends the browser (its fallback link), or fail."""
    links = [m.value for m in at.markdown if m.value.startswith("[Continuer](")]
    assert links, f"no redirect on this page: {[m.value for m in at.markdown]}"
    return links[-1].removeprefix("[Continuer](").removesuffix(")")


def follow_redirect(at):
    """What the browser does after ui.go_to: call the web layer, keep its cookies, load the page it leads to.

    Returns a fresh AppTest (a reload starts a new Streamlit session) on that page.
    """
    from http.cookies import SimpleCookie
    from urllib.parse import parse_qsl, urlsplit

    from pvd_survey import access

    jar = dict(at.session_state[TEST_COOKIES_KEY])
    client = web_client()
    client.cookies.update(jar)
    response = client.get(redirect_target(at))
    assert response.status_code == 303, response.text
    for header in response.headers.get_list("set-cookie"):
        for name, morsel in SimpleCookie(header).items():
            if morsel["max-age"] == "0":
                jar.pop(name, None)
            else:
                jar[name] = morsel.value
    location = urlsplit(response.headers["location"])
    fresh = app_test(cookies=jar)
    for name, value in parse_qsl(location.query):
        fresh.query_params[name] = value
    fresh.run()
    page = location.path.strip("/")
    if page:
        [spec] = [spec for spec in access.PAGES if spec.url_path == page]
        fresh.switch_page(spec.path).run()
    return fresh


def open_page(path: str, user=None, **params: str):
    """An AppTest of the app opened on one page, signed in as `user` (a UserInfo) if given, with URL parameters."""
    at = app_test(user)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    return at.switch_page(path).run()
