"""The connection pool: more requests than connections wait their turn, a bounded time, then a French message."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from pvd_survey import db
from pvd_survey.errors import DomainError, french_message
from tests.conftest import open_page


@pytest.fixture
def one_connection(database_url):
    """A session factory whose pool holds one connection, and a 1 s wait for it."""
    engine = db.make_engine(database_url, pool_size=1, pool_timeout=1)
    yield db.make_session_factory(engine)
    engine.dispose()


def test_a_request_waits_for_the_connection_then_gets_a_french_message(one_connection):
    with db.read_only(one_connection) as holder:  # the only connection, held
        holder.execute(text("SELECT 1"))
        began = time.monotonic()
        with pytest.raises(DomainError) as caught, db.transaction(one_connection) as session:
            session.execute(text("SELECT 1"))
        waited = time.monotonic() - began
        with pytest.raises(DomainError) as caught_reading, db.read_only(one_connection):
            pass
    assert caught.value.code == caught_reading.value.code == "database_busy"
    assert 0.9 <= waited < 5  # it waited its turn, for the pool timeout, no longer
    assert "réessayez dans quelques instants" in french_message(caught.value)
    with db.transaction(one_connection) as session:  # the connection is back: the next request gets it
        assert session.execute(text("SELECT 1")).scalar() == 1


def test_a_request_that_waits_less_than_the_timeout_gets_the_connection(one_connection, arrivals):
    held = threading.Event()
    request_waited: list[bool] = []

    def hold_until_the_request_waits() -> None:
        with db.read_only(one_connection) as session:
            session.execute(text("SELECT 1"))
            held.set()
            request_waited.append(arrivals.acquire(timeout=5))  # the request below is in line for the connection

    holder = threading.Thread(target=hold_until_the_request_waits)
    holder.start()
    assert held.wait(5)
    began = time.monotonic()
    with db.transaction(one_connection) as session:
        assert session.execute(text("SELECT 1")).scalar() == 1
    holder.join()
    assert request_waited == [True]  # it did wait its turn, and got the connection within the 1 s timeout
    assert time.monotonic() - began < 1


def test_a_page_shows_the_french_message_when_no_connection_frees_up(app_env, monkeypatch):
    from pvd_survey import web

    monkeypatch.setenv("PVD_DB_POOL_SIZE", "1")
    monkeypatch.setenv("PVD_DB_POOL_TIMEOUT_SECONDS", "1")
    at = open_page("pages/meetings.py")
    assert not at.exception
    engine = web.database().engine  # the process's one engine, opened by the page with its pool of one
    assert engine.pool.size() == 1
    with engine.connect():  # another request holds the only connection
        at.run()
    assert not at.exception
    assert any("aucune connexion à la base de données" in error.value for error in at.error)
    at.run()  # the connection is back: the page works again
    assert not at.exception
    assert not any("aucune connexion" in error.value for error in at.error)


@pytest.fixture
def engines_made(monkeypatch) -> list:
    """Every engine db.make_engine makes from now on (the pages' and the web layer's alike)."""
    made: list = []
    make_engine = db.make_engine

    def counted(*args, **kwargs):
        made.append(make_engine(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(db, "make_engine", counted)
    return made


def outbox_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "pvd-outbox"]


def test_a_server_process_has_one_engine_for_its_pages_and_its_routes(app_env, engines_made, monkeypatch):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from pvd_survey import ui, web

    monkeypatch.setenv("PVD_DB_POOL_SIZE", "3")
    at = open_page("pages/meetings.py")  # AppTest has no lifespan: the first page run opens the database
    assert not at.exception
    server = Starlette(routes=web.routes(), middleware=web.middleware(), lifespan=web.lifespan)
    with TestClient(server, base_url="http://pvd.test", follow_redirects=False) as client:
        assert client.get(web.READY_ROUTE).status_code == 200
        assert client.get(web.SESSION_ROUTE, params={"ticket": "x"}).status_code == 400
        at.run()
        assert not at.exception
    assert len(engines_made) == 1  # so the pool's connections are all the server keeps (the README's sizing)
    assert ui.runtime().engine is web.database().engine is engines_made[0]
    assert engines_made[0].pool.size() == 3


def test_the_server_starts_the_outbox_thread_once_before_any_visitor(app_env, engines_made, monkeypatch):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from pvd_survey import web

    monkeypatch.setenv("PVD_MAIL_THREAD", "true")
    server = Starlette(routes=web.routes(), lifespan=web.lifespan)
    with TestClient(server):  # the server's start, no request yet
        assert len(engines_made) == 1 and len(outbox_threads()) == 1
        at = open_page("pages/meetings.py")
        assert not at.exception
        assert len(engines_made) == 1 and len(outbox_threads()) == 1  # the pages run on the same database
        [thread] = outbox_threads()
    assert not thread.is_alive()  # the server's stop ends it
    web.forget_database()  # the one reset (tests switching settings)...
    web.database()  # ...and the next call opens the database again, without a server (AppTest): with its thread
    [thread] = outbox_threads()
    assert len(engines_made) == 2
    web.forget_database()  # the reset ends the thread too
    assert not thread.is_alive() and outbox_threads() == []


def test_a_page_says_the_database_is_unreachable_then_works_once_it_is_back(app_env, engines_made, monkeypatch):
    from pvd_survey import web

    monkeypatch.setenv("PVD_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    at = open_page("pages/meetings.py")
    assert not at.exception
    assert [title.value for title in at.title] == ["Service momentanément indisponible"] and not at.error
    assert not web.database_is_open()
    monkeypatch.setenv("PVD_DATABASE_URL", app_env)  # the database is back: the next run opens it, no restart
    at.run()
    assert not at.exception and not at.error
    assert web.database().engine.url.render_as_string(hide_password=False) == app_env


def test_a_bad_configuration_is_told_to_the_servers_log_never_to_visitors(app_env, monkeypatch, caplog):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from pvd_survey import web

    monkeypatch.setenv("PVD_DATABASE_URL", "mysql://root:s3cret@db.interne.anct.gouv.fr/pvd")
    web.forget_database()
    try:
        at = open_page("pages/meetings.py")
        assert [error.value for error in at.error] == [
            "L'application est mal configurée. Prévenez son administrateur : le journal du serveur dit quoi corriger."
        ]
        assert "db.interne" not in str(at.main) and "PVD_DATABASE_URL" not in str(at.main) and not at.code
        assert "PVD_DATABASE_URL doit commencer" in caplog.text  # what to fix, for the operator
        response = TestClient(Starlette(routes=web.routes())).get(web.READY_ROUTE)
        assert response.status_code == 503 and response.json() == {"status": "indisponible", "raison": "configuration"}
    finally:
        web.forget_database()


def test_a_lost_server_key_is_said_on_every_page_and_by_the_ready_route(app_env, engines_made, monkeypatch, caplog):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from pvd_survey import survey, web

    def key_lost(_session, _settings) -> None:
        raise DomainError("survey_key_lost")

    monkeypatch.setattr(survey, "check_key", key_lost)
    message = french_message(DomainError("survey_key_lost"))
    for _ in range(2):  # said at start, and again (not retried) until a restart
        at = open_page("pages/meetings.py")
        assert not at.exception
        # The reason is in the server's log; visitors learn only whom to tell.
        assert [error.value for error in at.error] == [
            "L'application ne peut pas démarrer. Prévenez son administrateur : le journal du serveur en dit la raison."
        ]
    assert len(engines_made) == 1 and not web.database_is_open()
    response = TestClient(Starlette(routes=web.routes())).get(web.READY_ROUTE)
    assert response.status_code == 503 and response.json()["raison"] == "survey_key_lost"
    assert message in caplog.text


@pytest.mark.database_independent
def test_waiting_requests_get_the_connection_in_arrival_order(arrivals):
    slots = db.FairSlots(1)
    assert slots.acquire(1)
    served: list[int] = []

    def request(number: int) -> None:
        assert slots.acquire(5)
        served.append(number)
        slots.release()

    waiting = []
    for number in range(5):
        waiting.append(threading.Thread(target=request, args=(number,)))
        waiting[-1].start()
        assert arrivals.acquire(timeout=5)  # each one is in line before the next arrives
    assert not slots.acquire(0.05)  # a late comer that gives up leaves the line as it was
    slots.release()
    for thread in waiting:
        thread.join()
    assert served == [0, 1, 2, 3, 4]
    assert slots.acquire(0) and not slots.acquire(0)


def test_a_write_waits_for_the_write_lock_at_most_the_pool_timeout_then_gets_a_french_message(one_connection):
    """SQLite: a write in progress holds this process's write lock; PostgreSQL: it holds the only connection."""
    held, done = threading.Event(), threading.Event()
    outcome: list[object] = []

    def hold_a_write() -> None:
        with db.transaction(one_connection) as session:
            session.execute(text("SELECT 1"))
            held.set()
            done.wait(30)

    def write() -> None:
        began = time.monotonic()
        try:
            with db.transaction(one_connection) as session:
                session.execute(text("SELECT 1"))
            outcome.append("written")
        except DomainError as error:
            outcome.append(error.code)
        outcome.append(time.monotonic() - began)

    holder = threading.Thread(target=hold_a_write)
    holder.start()
    assert held.wait(10)
    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=10)  # (before the fix, it waited for the lock with no end: the test fails, not hangs)
    finished = not writer.is_alive()
    done.set()
    holder.join(timeout=10)
    writer.join(timeout=10)
    assert finished, "the write still waits for the lock, past the pool timeout"
    code, waited = outcome
    assert code == "database_busy"
    assert 0.9 <= waited < 5  # it waited its turn, for the pool timeout (1 s), no longer
    with db.transaction(one_connection) as session:  # the lock and the connection are back
        assert session.execute(text("SELECT 1")).scalar() == 1


@pytest.mark.database_independent
def test_a_writer_that_gives_up_leaves_the_line_of_the_write_lock_as_it_was(arrivals):
    lock = db.FifoLock()
    assert lock.acquire()
    served: list[int] = []

    def writer(number: int) -> None:
        assert lock.acquire(5)
        served.append(number)
        lock.__exit__()

    first = threading.Thread(target=writer, args=(1,))
    first.start()
    assert arrivals.acquire(timeout=5)  # in line
    gave_up: list[bool] = []
    late = threading.Thread(target=lambda: gave_up.append(lock.acquire(0.05)))
    late.start()
    late.join(timeout=5)
    assert gave_up == [False]  # no lock within its timeout...
    second = threading.Thread(target=writer, args=(2,))
    second.start()
    assert arrivals.acquire(timeout=5) and arrivals.acquire(timeout=5)  # (the late one's wait, then the second's)
    lock.__exit__()
    first.join(timeout=5)
    second.join(timeout=5)
    assert served == [1, 2]  # ...and the line went on without it
    assert lock.acquire(0) and lock.acquire(0)  # free again, and re-entrant


@pytest.mark.database_independent
def test_the_server_start_loads_the_pages_heavy_imports_before_the_first_request():
    """A new process: once the lifespan has run (before any request is served), pandas, Altair with its schema and
    the chart cache are ready, also while the database is unreachable (the first page's visitor does not wait)."""
    import os
    import subprocess
    import sys

    script = (
        "import asyncio, sys\n"
        "from pvd_survey import web\n"
        "assert 'altair' not in sys.modules and 'pandas' not in sys.modules\n"
        "async def start():\n"
        "    async with web.lifespan(None):\n"
        "        from pvd_survey import charts\n"
        "        loaded = ['altair' in sys.modules, 'pandas' in sys.modules, 'pyarrow' in sys.modules]\n"
        "        print(*loaded, len(charts._specs))\n"
        "asyncio.run(start())\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PVD_")}
    env.update(PVD_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/nothing", PVD_SECRET_KEY="k" * 43)
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60, cwd=root)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["True", "True", "True", "1"]
