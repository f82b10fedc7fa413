"""An unreachable database: which errors say so, one log line a minute, the French outage page, and recovery.

The PostgreSQL tests put a small TCP forwarder (`Forwarder`) between the app and the test database: "away" stops
listening and cuts the live connections, "back" listens again on the same port; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from pvd_survey import db, mail
from pvd_survey.errors import DomainError, french_message
from tests.conftest import TEST_BACKEND, free_port, open_page

NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"  # nobody listens on port 1: refused at once
UNREACHABLE_LINE = "PVD: base de données injoignable"
STILL_LINE = "PVD: base de données toujours injoignable"
BACK_LINE = "PVD: base de données de nouveau joignable"
OUTAGE_MESSAGE = "Le service est momentanément indisponible. Réessayez dans quelques instants."


class Clock:
    """A clock the test moves by hand (OutageLog's `clock`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The process's OutageLog replaced by a fresh one on a hand-moved clock (nothing said yet)."""
    moved = Clock()
    monkeypatch.setattr(db, "outages", db.OutageLog(db.log, clock=moved))
    return moved


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith("PVD: base de donn")]


def wrapped(driver_error: Exception, kind: type[DBAPIError] = OperationalError, invalidated: bool = False):
    """A driver error as SQLAlchemy raises it."""
    return kind("SELECT 1", {}, driver_error, connection_invalidated=invalidated)


# ---------------------------------------------------------------------------- which errors mean "unreachable"


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        (wrapped(psycopg.OperationalError("connection failed: Connection refused")), True),  # no SQL state
        (wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator command")), True),
        (wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")), True),
        (wrapped(psycopg.errors.TooManyConnections("too many clients already")), True),
        (wrapped(psycopg.errors.ConnectionFailure("connection failure")), True),  # class 08
        (wrapped(psycopg.InterfaceError("the connection is lost"), InterfaceError, invalidated=True), True),
        (wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")), False),
        (wrapped(psycopg.errors.LockNotAvailable("could not obtain lock")), False),
        (wrapped(psycopg.errors.DeadlockDetected("deadlock detected")), False),
        (wrapped(psycopg.errors.UniqueViolation("duplicate key"), IntegrityError), False),
        (wrapped(sqlite3.OperationalError("database is locked")), False),  # SQLite's busy file: database_busy's
        (wrapped(sqlite3.OperationalError("unable to open database file")), False),
        (DomainError("database_busy"), False),
        (ValueError("anything else"), False),
    ],
    ids=lambda value: type(getattr(value, "orig", value)).__name__ if isinstance(value, Exception) else str(value),
)
def test_which_errors_say_the_database_is_unreachable(error: Exception, unreachable: bool) -> None:
    assert db.is_unreachable(error) is unreachable


@pytest.mark.database_independent
def test_an_unreachable_error_is_recognised_under_another_one() -> None:
    try:
        try:
            raise wrapped(psycopg.OperationalError("server closed the connection unexpectedly"))
        except OperationalError as inner:
            raise RuntimeError("migration failed") from inner
    except RuntimeError as outer:
        assert db.is_unreachable(outer)


# ---------------------------------------------------------------------------- once a minute in the log


@pytest.mark.database_independent
def test_the_outage_is_logged_once_a_minute_with_the_count_then_its_end_once(clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger=db.log.name)
    refused = wrapped(psycopg.OperationalError("connection failed: Connection refused\nIs the server running?"))
    assert db.outages.reachable() is False  # no outage: nothing to say
    said = [db.outages.unreachable(refused)]
    for _ in range(50):  # fifty requests in the next 59 s: not a line more
        clock.now += 59 / 50
        said.append(db.outages.unreachable(refused))
    assert said == [True] + [False] * 50
    clock.now += 1  # a minute after the first line
    assert db.outages.unreachable(refused) is True
    clock.now += 10
    assert db.outages.unreachable(refused) is False
    assert db.outages.down
    clock.now += 5
    assert db.outages.reachable() is True
    assert db.outages.reachable() is False  # said once
    assert not db.outages.down
    assert outage_lines(caplog) == [
        f"{UNREACHABLE_LINE} (OperationalError: connection failed: Connection refused Is the server running?) ; "
        "nouvel essai à chaque requête",
        f"{STILL_LINE} depuis 60 s (51 échec(s) en 60 s) : OperationalError: connection failed: Connection refused "
        "Is the server running?",
        f"{BACK_LINE} (injoignable 75 s ; 1 échec(s) depuis le message précédent)",
    ]
    assert all(record.exc_info is None for record in caplog.records)  # never a traceback
    clock.now += 1
    assert db.outages.unreachable(refused) is True  # a new outage is said at once


@pytest.mark.database_independent
def test_a_server_that_accepts_and_never_answers_is_an_outage_after_the_connect_timeout(clock, monkeypatch) -> None:
    """A frozen host (the TCP connection opens, PostgreSQL never speaks) is an outage within the connect timeout,
    not a page that hangs for minutes of TCP retries; a `connect_timeout` in the URL wins over the default."""
    import socket
    import time

    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept_and_say_nothing() -> None:
        while True:
            try:
                accepted.append(silent.accept()[0])
            except OSError:  # closed at the end of the test
                return

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    address = f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/nothing"
    monkeypatch.setattr(db, "CONNECT_TIMEOUT_SECONDS", 1)  # the default (5 s) made short for the test
    try:
        for url, limit in ((address, 1), (address + "?connect_timeout=2", 2)):
            engine = db.make_engine(url, pool_size=1, pool_timeout=30)
            started = time.monotonic()
            with pytest.raises(DomainError) as caught, db.read_only(db.make_session_factory(engine)) as session:
                session.execute(text("SELECT 1"))
            waited = time.monotonic() - started
            engine.dispose()
            assert caught.value.code == "database_unreachable"
            assert limit - 0.2 < waited < limit + 2.5, (url, waited)
    finally:
        silent.close()
        for connection in accepted:
            connection.close()


@pytest.mark.database_independent
def test_a_unit_of_work_on_an_unreachable_server_is_a_domain_error_said_once(clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger=db.log.name)
    engine = db.make_engine(NOWHERE, pool_size=2, pool_timeout=2)
    factory = db.make_session_factory(engine)
    try:
        for unit in (db.read_only, db.transaction, db.read_only):
            with pytest.raises(DomainError) as caught, unit(factory) as session:
                session.execute(text("SELECT 1"))
            assert caught.value.code == "database_unreachable"
    finally:
        engine.dispose()
    assert french_message(caught.value) == OUTAGE_MESSAGE
    [line] = outage_lines(caplog)
    assert line.startswith(UNREACHABLE_LINE) and "127.0.0.1" in line and "SELECT" not in line


@pytest.mark.database_independent
def test_the_outbox_thread_says_an_outage_once_not_once_a_pass(clock, caplog) -> None:
    caplog.set_level(logging.INFO)
    engine = db.make_engine(NOWHERE, pool_size=1, pool_timeout=2)
    factory = db.make_session_factory(engine)
    stop, passes = threading.Event(), []

    def scheduled_work() -> None:  # as schedule.run_due_work: a unit of work on the database each pass
        passes.append(1)
        if len(passes) == 5:
            stop.set()
        with db.transaction(factory) as session:
            session.execute(text("SELECT 1"))

    try:
        mail.run_sender(factory, None, stop, interval_seconds=0, before_pass=scheduled_work)
    finally:
        engine.dispose()
    assert len(passes) == 5
    [line] = outage_lines(caplog)
    assert line.startswith(UNREACHABLE_LINE)
    assert not [record for record in caplog.records if record.exc_info]  # no traceback at all


@pytest.mark.database_independent
def test_the_outbox_thread_still_logs_other_failures_with_their_traceback(clock, caplog) -> None:
    engine = db.make_engine(NOWHERE, pool_size=1, pool_timeout=2)
    stop = threading.Event()

    def broken() -> None:
        stop.set()
        raise ValueError("a bug")

    try:
        mail.run_sender(db.make_session_factory(engine), None, stop, interval_seconds=0, before_pass=broken)
    finally:
        engine.dispose()
    assert [record.exc_info[0] for record in caplog.records if record.exc_info] == [ValueError]
    assert outage_lines(caplog) == []


# ---------------------------------------------------------------------------- the page


def test_every_page_run_shows_the_french_outage_page_and_the_log_says_it_once(app_env, clock, caplog, monkeypatch):
    from pvd_survey import ui, web

    monkeypatch.setenv("PVD_DATABASE_URL", NOWHERE)  # down at start: every run tries to open it again
    for path in ("pages/home.py", "pages/jobs.py", "pages/meetings.py"):
        at = open_page(path)
        assert not at.exception
        assert [title.value for title in at.title] == [ui.OUTAGE_TITLE]
        assert [m.value for m in at.markdown if "Réessayez" in m.value] == [OUTAGE_MESSAGE]
        assert not at.error  # no error text of any kind
    assert not web.database_is_open()
    [line] = outage_lines(caplog)  # three page runs, three attempts to open: one line
    assert line.startswith(UNREACHABLE_LINE)
    monkeypatch.setenv("PVD_DATABASE_URL", app_env)  # back: the next run opens it, no restart
    at.run()
    assert not at.exception and web.database_is_open()
    assert [title.value for title in at.title] == ["Bienvenue : créez le premier compte administrateur"]  # no account


# ---------------------------------------------------------------------------- for real, on PostgreSQL

if TEST_BACKEND == "postgresql":
    from playwright.sync_api import Page, expect

    from tests.browser_support import PEOPLE, Pages, expect_page, running_server, sign_in, wait_for_run

    class Forwarder:
        """127.0.0.1:`port` → the database server, in a thread of its own (asyncio); `away()` stops listening and
        cuts every live connection, `back()` listens again on the same port."""

        def __init__(self, host: str, port: int) -> None:
            self.target = (host, port)
            self.port = free_port()
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="forwarder", daemon=True)
            self._thread.start()
            self._server: asyncio.Server | None = None
            self._live: set[asyncio.StreamWriter] = set()

        def back(self) -> None:
            """Listen (again) on the same port."""
            asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

        def away(self) -> None:
            """Stop listening and cut the connections under way (both sides)."""
            asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(10)

        def close(self) -> None:
            self.away()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

        async def _listen(self) -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

        async def _cut(self) -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._live):
                writer.transport.abort()
            self._live.clear()

        async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.transport.abort()
                return
            if self._server is None:  # cut while this one was connecting
                writer.transport.abort()
                upstream_writer.transport.abort()
                return
            pair = {writer, upstream_writer}
            self._live |= pair
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
            self._live -= pair

        @staticmethod
        async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

    @pytest.fixture
    def forwarder(database_url: str) -> Iterator[Forwarder]:
        """A forwarder to the test database, listening."""
        url = make_url(database_url)
        forwarding = Forwarder(url.host or "127.0.0.1", url.port or 5432)
        forwarding.back()
        yield forwarding
        forwarding.close()

    def forwarded(database_url: str, forwarder: Forwarder) -> str:
        """The test database's URL, through the forwarder."""
        return make_url(database_url).set(host="127.0.0.1", port=forwarder.port).render_as_string(False)

    def test_a_server_that_dies_mid_session_or_refuses_is_unreachable_a_timeout_is_not(database_url, engine):
        victim = db.make_engine(database_url, pool_size=1)
        try:
            with victim.connect() as connection:
                pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                with engine.connect() as admin:
                    admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                with pytest.raises(DBAPIError) as terminated:
                    connection.execute(text("SELECT 1"))
            assert db.is_unreachable(terminated.value)
            with victim.connect() as connection:
                connection.execute(text("SET statement_timeout = 10"))
                with pytest.raises(OperationalError) as timed_out:
                    connection.execute(text("SELECT pg_sleep(1)"))
            assert not db.is_unreachable(timed_out.value)
        finally:
            victim.dispose()

    def test_units_of_work_fail_while_the_server_is_away_and_work_once_it_is_back(
        database_url, forwarder, clock, caplog
    ):
        caplog.set_level(logging.INFO, logger=db.log.name)
        engine = db.make_engine(forwarded(database_url, forwarder), pool_size=2, pool_timeout=5)
        factory = db.make_session_factory(engine)
        try:
            with db.read_only(factory) as session:  # a pooled connection, cut below
                assert session.execute(text("SELECT 1")).scalar_one() == 1
            forwarder.away()
            for unit in (db.read_only, db.transaction) * 3:
                clock.now += 5
                with pytest.raises(DomainError) as caught, unit(factory) as session:
                    session.execute(text("SELECT 1"))
                assert caught.value.code == "database_unreachable"
            forwarder.back()
            with db.transaction(factory) as session:  # the same engine: no restart
                assert session.execute(text("SELECT 1")).scalar_one() == 1
        finally:
            engine.dispose()
        lines = outage_lines(caplog)
        assert len(lines) == 2, lines
        assert lines[0].startswith(UNREACHABLE_LINE) and lines[1].startswith(BACK_LINE)

    ENGLISH = ("Traceback", "This app has encountered an error", "Error", "Exception")

    def expect_outage_page(page: Page) -> None:
        """The French outage page, whole, with nothing of the error and no English."""
        from pvd_survey import ui

        page.get_by_role("heading", level=1, name=ui.OUTAGE_TITLE, exact=True).first.wait_for()
        wait_for_run(page)
        page.get_by_text(OUTAGE_MESSAGE, exact=True).wait_for()
        expect(page.get_by_test_id("stException")).to_have_count(0)
        shown = page.locator("body").inner_text()
        assert not [word for word in ENGLISH if word in shown], shown

    def server_lines(log_path: Path) -> dict[str, int]:
        log = log_path.read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]
        counts = {line: log.count(line) for line in (UNREACHABLE_LINE, STILL_LINE, BACK_LINE)}
        # A reminder a minute: on a loaded machine the outage may outlast one (it takes ~20 s on an idle one).
        assert counts[STILL_LINE] <= 1, log[-4000:]
        return {UNREACHABLE_LINE: counts[UNREACHABLE_LINE], BACK_LINE: counts[BACK_LINE]}

    @pytest.mark.browser
    def test_pages_during_an_outage_are_french_and_come_back_by_themselves_in_chromium(
        request, pages: Pages, seeded, database_url, forwarder, tmp_path
    ):
        log_path = tmp_path / "server.log"
        # The outbox thread runs too (its passes meet the outage), as in production.
        with running_server(forwarded(database_url, forwarder), log_path, {"PVD_MAIL_THREAD": "true"}) as server:
            try:
                visitor = pages.new()
                visitor.goto(server.url)
                expect_page(visitor, "Petites villes de demain")
                direction = pages.new()
                sign_in(direction, server.url, "direction")
                direction.goto(f"{server.url}/dashboard")
                expect_page(direction, "Tableau de bord")

                forwarder.away()
                # The live figures refresh by themselves (every 4 s here): the French message in their place.
                direction.get_by_text(OUTAGE_MESSAGE).first.wait_for()
                expect(direction.get_by_test_id("stException")).to_have_count(0)
                visits = [(visitor, "/", "Petites villes de demain"), (visitor, "/offres", "Offres d'emploi")]
                visits.append((direction, "/dashboard", "Tableau de bord"))
                for page, path, _ in visits * 2:  # each page twice: still one line in the log
                    page.goto(server.url + path)
                    expect_outage_page(page)

                forwarder.back()  # the same server, not restarted
                for page, path, title in visits:
                    page.goto(server.url + path)
                    expect_page(page, title)
                direction.get_by_text(PEOPLE["direction"][0], exact=False).first.wait_for()
                assert server_lines(log_path) == {UNREACHABLE_LINE: 1, BACK_LINE: 1}
            except BaseException:
                pages.screenshot(request.node.name)
                print(server.log_tail())
                raise

    @pytest.mark.browser
    def test_a_server_started_without_its_database_shows_the_outage_page_then_opens_it_in_chromium(
        request, pages: Pages, seeded, database_url, forwarder, tmp_path
    ):
        log_path = tmp_path / "server.log"
        forwarder.away()
        with running_server(forwarded(database_url, forwarder), log_path, {"PVD_MAIL_THREAD": "true"}) as server:
            try:
                visitor = pages.new()
                for _ in range(3):
                    visitor.goto(server.url)
                    expect_outage_page(visitor)
                forwarder.back()
                visitor.get_by_role("button", name="Réessayer").click()  # the button is a new run: it opens
                expect_page(visitor, "Petites villes de demain")
                assert server_lines(log_path) == {UNREACHABLE_LINE: 1, BACK_LINE: 1}
            except BaseException:
                pages.screenshot(request.node.name)
                print(server.log_tail())
                raise
