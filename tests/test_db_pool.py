"""The connection pool: more requests than connections wait their turn, a bounded time, then a French message."""

from __future__ import annotations

import threading
import time

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
    from pvd_survey import ui

    monkeypatch.setenv("PVD_DB_POOL_SIZE", "1")
    monkeypatch.setenv("PVD_DB_POOL_TIMEOUT_SECONDS", "1")
    at = open_page("pages/meetings.py")
    assert not at.exception
    runtime = ui._runtime(app_env, False)  # the app's own (cached) engine, with its pool of one
    assert runtime.engine.pool.size() == 1
    with runtime.engine.connect():  # another request holds the only connection
        at.run()
    assert not at.exception
    assert any("aucune connexion à la base de données" in error.value for error in at.error)
    at.run()  # the connection is back: the page works again
    assert not at.exception
    assert not any("aucune connexion" in error.value for error in at.error)


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
