"""The capacity guarantee under real concurrency (threads and separate processes), on both databases.

Each attempt is what a page does: its own transaction around `meetings.register`. The harness checks
what a person would notice (oversold places, a waiting list out of order, an error on screen, a
duplicate), and a control test runs the same harness against a check-then-insert registration
without the lock, to prove the harness does see overselling when the guard is off.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvd_survey import db, meetings
from pvd_survey.config import load_settings
from pvd_survey.errors import DomainError
from pvd_survey.models import Meeting, OutboxMessage, Registration, utcnow
from tests.factories import meeting_form, person, token_of

ATTEMPTS = 1000
PLACES = 300
THREADS = 16


def _attempt(factory, settings, meeting_id: int, number: int) -> tuple[str, object]:
    """One person's registration, as the page runs it; an exception is what the person would see."""
    try:
        with db.transaction(factory) as session:
            return "ok", meetings.register(session, meeting_id, person(number), settings)
    except Exception as error:
        return "error", repr(error)


def _run_threads(task: Callable[[int], tuple[str, object]], numbers: list[int], threads: int) -> list:
    barrier = threading.Barrier(threads)

    def started(number: int):
        if number < threads:  # the first wave starts together
            barrier.wait()
        return task(number)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(started, numbers))


_started: multiprocessing.synchronize.Barrier | None = None  # in each process of the pool: all the processes


def _share_the_start(barrier: multiprocessing.synchronize.Barrier) -> None:
    """Pool initializer: keep the barrier the processes pass together (given at the process's start, not pickled)."""
    global _started
    _started = barrier


def _process_batch(database_url: str, meeting_id: int, numbers: list[int], folder: Path) -> list:
    """Run in a separate process: its own engine, several threads, started at the same moment as the others."""
    settings = load_settings(
        {"PVD_DATABASE_URL": database_url, "PVD_BASE_URL": "http://pvd.test", "PVD_SECRET_KEY": "k" * 32},
        secrets_path=folder / "no-secrets.toml",
    )
    engine = db.make_engine(database_url)
    factory = db.make_session_factory(engine)
    assert _started is not None
    _started.wait(timeout=120)  # every process is ready (imports done, engine made): all start together
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: _attempt(factory, settings, meeting_id, n), numbers))
    engine.dispose()
    # Outcomes cross the process boundary as plain tuples.
    return [(kind, (value.status, value.position) if kind == "ok" else value) for kind, value in results]


def problems(factory, meeting_id: int, capacity: int, attempts: int) -> list[str]:
    """Everything a person would notice as wrong after `attempts` distinct people tried to register."""
    found = []
    with db.read_only(factory) as session:
        rows = session.execute(
            select(Registration.status, Registration.arrival, Registration.email).where(
                Registration.meeting_id == meeting_id
            )
        ).all()
        counter = session.scalar(select(Meeting.confirmed_count).where(Meeting.id == meeting_id))
    statuses = Counter(status for status, _, _ in rows)
    if statuses["confirmed"] > capacity:
        found.append(f"oversold: {statuses['confirmed']} confirmed for {capacity} places")
    if statuses["confirmed"] != counter:
        found.append(f"seat counter {counter} != {statuses['confirmed']} confirmed rows")
    if len(rows) != attempts or len({email for _, _, email in rows}) != len(rows):
        found.append(f"{len(rows)} registrations for {attempts} people")
    if statuses["confirmed"] < min(capacity, attempts):
        found.append(f"places left unsold: {statuses['confirmed']} confirmed")
    arrivals = sorted((arrival, status) for status, arrival, _ in rows)
    if [status for _, status in arrivals] != sorted((status for _, status in arrivals), key=lambda s: s != "confirmed"):
        found.append("someone who came later got a place before someone on the waiting list")
    return found


@pytest.fixture
def big_meeting(factory) -> int:
    with db.transaction(factory) as session:
        return meetings.create_meeting(session, meeting_form(capacity=PLACES))


def _check_outcomes(outcomes: list) -> None:
    errors = [value for kind, value in outcomes if kind == "error"]
    assert errors == [], f"{len(errors)} errors shown to people, e.g. {errors[:3]}"
    results = [value for _, value in outcomes]
    statuses = Counter(status for status, _ in results)
    assert statuses == {"confirmed": PLACES, "waiting": ATTEMPTS - PLACES}
    # Everyone on the waiting list was told a distinct position, 1 to 700, in arrival order.
    assert sorted(position for status, position in results if status == "waiting") == list(
        range(1, ATTEMPTS - PLACES + 1)
    )


def test_1000_threads_for_300_places(factory, settings, big_meeting):
    outcomes = _run_threads(lambda n: _attempt(factory, settings, big_meeting, n), list(range(ATTEMPTS)), THREADS)
    _check_outcomes([(kind, (v.status, v.position) if kind == "ok" else v) for kind, v in outcomes])
    assert problems(factory, big_meeting, PLACES, ATTEMPTS) == []
    with db.read_only(factory) as session:
        lists = meetings.roster(session, big_meeting)
        assert [p.position for p in lists.waiting] == list(range(1, ATTEMPTS - PLACES + 1))
        assert session.scalar(select(func.count()).where(OutboxMessage.kind == "meeting_confirmed")) == PLACES


def test_1000_attempts_from_4_processes_for_300_places(factory, database_url, big_meeting, tmp_path):
    batches = [list(range(start, ATTEMPTS, 4)) for start in range(4)]
    spawn = multiprocessing.get_context("spawn")
    started = spawn.Barrier(len(batches))  # one batch per process: each waits there until all four are ready
    with ProcessPoolExecutor(len(batches), mp_context=spawn, initializer=_share_the_start, initargs=(started,)) as pool:
        futures = [pool.submit(_process_batch, database_url, big_meeting, batch, tmp_path) for batch in batches]
        outcomes = [outcome for future in futures for outcome in future.result(timeout=240)]
    _check_outcomes(outcomes)
    assert problems(factory, big_meeting, PLACES, ATTEMPTS) == []


def test_the_same_email_20_times_at_once_registers_once(factory, settings, big_meeting):
    outcomes = _run_threads(lambda _: _attempt(factory, settings, big_meeting, 7), list(range(20)), 20)
    assert [kind for kind, _ in outcomes] == ["ok"] * 20
    results = [value for _, value in outcomes]
    assert sum(not r.already_registered for r in results) == 1
    assert len({r.reference for r in results}) == 1
    with db.read_only(factory) as session:
        assert session.scalar(select(func.count()).select_from(Registration)) == 1
        assert session.scalar(select(Meeting.confirmed_count)) == 1


def test_cancellations_racing_new_registrations_never_oversell_nor_skip_the_line(factory, settings):
    capacity, waiting, cancels, newcomers = 50, 30, 25, 100
    with db.transaction(factory) as session:
        meeting_id = meetings.create_meeting(session, meeting_form(capacity=capacity))
    for number in range(capacity + waiting):
        with db.transaction(factory) as session:
            meetings.register(session, meeting_id, person(number), settings)
    with db.read_only(factory) as session:
        confirmation_tokens = [
            token_of(m)
            for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "meeting_confirmed").order_by(OutboxMessage.id)
            )
        ][:cancels]
        first_in_line = [p.email for p in meetings.roster(session, meeting_id).waiting]

    def cancel(index: int):
        try:
            with db.transaction(factory) as session:
                return "ok", meetings.cancel_by_token(session, confirmation_tokens[index], settings)
        except Exception as error:
            return "error", repr(error)

    def task(index: int):
        if index % 5 == 0 and index // 5 < cancels:
            return cancel(index // 5)
        return _attempt(factory, settings, meeting_id, 1000 + index)

    outcomes = _run_threads(task, list(range(cancels + newcomers)), THREADS)
    assert [value for kind, value in outcomes if kind == "error"] == []
    with db.read_only(factory) as session:
        lists = meetings.roster(session, meeting_id)
        offers = list(session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == "meeting_offered")))
    assert lists.meeting.confirmed == len(lists.confirmed) == capacity - cancels
    # Every freed place was offered (and is held) to the first in line, exactly once each; no newcomer jumped the
    # queue.
    assert sorted(offers) == sorted(first_in_line[:cancels])
    offered = [p.email for p in lists.waiting if p.status == "offered"]
    assert sorted(offered) == sorted(first_in_line[:cancels]) and lists.meeting.offered == cancels
    assert [p.email for p in lists.waiting if p.status == "waiting"][: waiting - cancels] == first_in_line[cancels:]
    assert len(lists.waiting) == waiting + newcomers
    assert len(lists.cancelled) == cancels


# ---------------------------------------------------------------------------- control: the harness sees a race


def _unguarded_attempt(
    factory, meeting_id: int, capacity: int, number: int, checked: threading.Barrier
) -> tuple[str, object]:
    """The classic mistake: count the confirmed places, then insert, in separate steps without a lock.

    The first wave (one attempt per thread) all count before any of them writes, as happens when the page does
    some work between the check and the write: `checked` holds each until all have counted.
    """
    with db.read_only(factory) as session:
        taken = session.scalar(
            select(func.count()).where(Registration.meeting_id == meeting_id, Registration.status == "confirmed")
        )
    if number < checked.parties:
        checked.wait(timeout=60)
    with db.transaction(factory) as session:
        status = "confirmed" if taken < capacity else "waiting"
        session.add(
            Registration(
                meeting_id=meeting_id,
                arrival=number + 1,
                status=status,
                email=f"personne.{number}@mairie.fr",
                full_name=f"Personne {number}",
                attendee_role="chef_de_projet",
                reference=f"RV-CTRL{number:04d}",
                token_hash=f"control-{number}",
                consented_at=utcnow(),
            )
        )
    return "ok", status


def test_control_the_harness_detects_overselling_without_the_guard(factory, big_meeting):
    capacity, attempts = THREADS // 2, 120  # the first wave alone, THREADS attempts that all saw 0 taken, oversells
    checked = threading.Barrier(THREADS)
    outcomes = _run_threads(
        lambda n: _unguarded_attempt(factory, big_meeting, capacity, n, checked), list(range(attempts)), THREADS
    )
    assert all(kind == "ok" for kind, _ in outcomes)
    found = problems(factory, big_meeting, capacity, attempts)
    assert any(problem.startswith("oversold") for problem in found), found


def test_registering_again_after_cancelling_twice_at_once_counts_one_place(factory, settings):
    with db.transaction(factory) as session:
        meeting_id = meetings.create_meeting(session, meeting_form(capacity=5))
        meetings.register(session, meeting_id, person(1), settings)
        token = token_of(session.scalars(select(OutboxMessage)).first())
        meetings.cancel_by_token(session, token, settings)
    outcomes = _run_threads(lambda _: _attempt(factory, settings, meeting_id, 1), list(range(10)), 10)
    assert [kind for kind, _ in outcomes] == ["ok"] * 10
    assert sum(not value.already_registered for _, value in outcomes) == 1
    with db.read_only(factory) as session:
        assert session.scalar(select(Meeting.confirmed_count).where(Meeting.id == meeting_id)) == 1
        assert session.scalar(select(func.count()).where(Registration.status == "confirmed")) == 1


# ---------------------------------------------------------------------------- waiting-list offers racing


def _email(number: int) -> str:
    return f"personne.{number}@mairie.fr"


@pytest.mark.parametrize("round_", range(3))
def test_offers_accepted_declined_and_expiring_while_places_are_freed_never_oversell(factory, settings, round_):
    """Places freed, offers accepted (one twice at once), declined, expired by four passes at once, newcomers: every
    freed place ends with exactly one person (or the list is empty), never more than the capacity, nobody twice."""
    capacity, waiting = 30, 40
    now = utcnow()
    with db.transaction(factory) as session:
        meeting_id = meetings.create_meeting(session, meeting_form(capacity=capacity))
    for number in range(capacity + waiting):  # 0-29 confirmed, 30-69 waiting in that order
        with db.transaction(factory) as session:
            meetings.register(session, meeting_id, person(number), settings)
    with db.read_only(factory) as session:
        confirmations = {
            m.recipient: token_of(m)
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "meeting_confirmed"))
        }
    # Before the race: 5 places freed 30 hours ago (their offers, to 30-34, ran out 6 hours ago), 10 freed now
    # (offered to 35-44 until tomorrow).
    for number in range(15):
        with db.transaction(factory) as session:
            freed_at = now - timedelta(hours=30) if number < 5 else now
            meetings.cancel_by_token(session, confirmations[_email(number)], settings, now=freed_at)
    with db.read_only(factory) as session:
        offers = {
            m.recipient: token_of(m)
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "meeting_offered"))
        }
        direction_cancels = session.scalar(select(Registration.id).where(Registration.email == _email(60)))
    assert sorted(offers) == sorted(_email(n) for n in range(30, 45))

    def run(action: Callable[[Session], object]) -> tuple[str, object]:
        try:
            with db.transaction(factory) as session:
                return "ok", action(session)
        except DomainError as error:
            return "refused", error.code
        except Exception as error:
            return "error", repr(error)

    def accept(number: int):
        return lambda session: meetings.accept_offer(session, offers[_email(number)], settings)

    def decline(number: int):
        return lambda session: meetings.decline_offer(session, offers[_email(number)], settings)

    def cancel(number: int, tokens: dict[str, str]):
        return lambda session: meetings.cancel_by_token(session, tokens[_email(number)], settings)

    tasks: list[tuple[str, Callable[[Session], object]]] = [
        *[("late accept", accept(n)) for n in (30, 31)],  # past their deadline: refused
        *[("expiry pass", lambda session: meetings.expire_offers(session, settings)) for _ in range(4)],
        *[("accept", accept(n)) for n in (35, 35, 36, 37, 38, 39)],  # 35 clicks twice at once
        *[("decline", decline(n)) for n in (40, 41, 42)],
        ("cancel an offer", cancel(43, offers)),
        *[("free a place", cancel(n, confirmations)) for n in range(15, 25)],
        (
            "direction cancels someone waiting",
            lambda s: meetings.cancel_by_direction(s, meeting_id, direction_cancels, settings),
        ),
        *[
            ("newcomer", lambda session, n=n: meetings.register(session, meeting_id, person(n), settings))
            for n in range(1000, 1015)
        ],
    ]
    random.Random(round_).shuffle(tasks)
    outcomes = _run_threads(lambda index: (tasks[index][0], *run(tasks[index][1])), list(range(len(tasks))), THREADS)

    assert [o for o in outcomes if o[1] == "error"] == []
    assert sorted(o for o in outcomes if o[1] == "refused") == [("late accept", "refused", "offer_expired")] * 2
    assert sorted(value for name, kind, value in outcomes if name == "accept") == [False] + [True] * 5
    with db.read_only(factory) as session:
        rows = session.execute(
            select(
                Registration.email,
                Registration.status,
                Registration.arrival,
                Registration.offered_at,
                Registration.offer_outcome,
            ).where(Registration.meeting_id == meeting_id)
        ).all()
        counter = session.scalar(select(Meeting.confirmed_count).where(Meeting.id == meeting_id))
        mails = Counter(
            (kind, recipient)
            for kind, recipient in session.execute(select(OutboxMessage.kind, OutboxMessage.recipient))
        )
    by_email = {row.email: row for row in rows}
    statuses = Counter(row.status for row in rows)
    # Nothing lost, nothing duplicated.
    assert len(rows) == len(by_email) == capacity + waiting + 15
    # Never above the capacity; the seat counter is exactly the confirmed people and the running offers.
    assert statuses["confirmed"] + statuses["offered"] == counter <= capacity
    # Every freed place ended with exactly one person: with people still waiting, no place is left free.
    assert statuses["waiting"] > 0 and counter == capacity
    # 15 offers before the race, then one per place freed during it: 5 expired, 3 declined, 1 offer cancelled,
    # 10 places freed, and person 60's if the direction cancelled them once offered the place; all to the first in
    # line, in order, nobody twice.
    withdrawn = by_email[_email(60)].offer_outcome == "withdrawn"
    ever_offered = sorted(row.arrival for row in rows if row.offered_at is not None)
    still_waiting = [row.arrival for row in rows if row.status == "waiting"]
    assert len(ever_offered) == 15 + 5 + 3 + 1 + 10 + withdrawn
    assert max(ever_offered) < min(still_waiting)
    assert all(count == 1 for (kind, _), count in mails.items() if kind in ("meeting_offered", "meeting_promoted"))
    assert {r for (kind, r) in mails if kind == "meeting_offered"} == {
        row.email for row in rows if row.offered_at is not None
    }
    assert {r for (kind, r) in mails if kind == "meeting_promoted"} == {_email(n) for n in range(35, 40)}
    assert all(by_email[_email(n)].status == "confirmed" for n in range(35, 40))
    assert [by_email[_email(n)].offer_outcome for n in range(30, 35)] == ["expired"] * 5
    assert {r for (kind, r) in mails if kind == "meeting_offer_expired"} == {_email(n) for n in range(30, 35)}
    assert [by_email[_email(n)].offer_outcome for n in range(40, 44)] == ["declined"] * 4
