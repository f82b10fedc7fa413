"""Races at the edges, on both databases: applications against the posting's close, and the login lock under a burst.

Every attempt is what a page does: its own transaction (`db.transaction`) around the service. The threads start
together on a barrier; what is asserted is what a person would notice (an applicant who is never told the posting
closed, a password tried beyond the limit, the right password accepted during a locked burst).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from pvd_survey import accounts, db, recruitment
from pvd_survey.errors import DomainError
from pvd_survey.models import JobApplication, LoginThrottle, OutboxMessage
from tests.conftest import PG_ADMIN_URL, STRONG_PASSWORD, TEST_BACKEND
from tests.factories import application_input, make_world, published

ROUNDS = 30
APPLICANTS = 8  # + the recruiter closing: 9 threads, within the pool of 10 connections
BURST = 32


def _together(tasks: list[Callable[[], object]]) -> list[tuple[str, object]]:
    """Run the tasks in as many threads, released at once by a barrier; ("ok", value) or ("error", code)."""
    barrier = threading.Barrier(len(tasks))

    def run(task: Callable[[], object]) -> tuple[str, object]:
        barrier.wait()
        try:
            return "ok", task()
        except DomainError as error:
            return "error", error.code

    with ThreadPoolExecutor(len(tasks)) as pool:
        return list(pool.map(run, tasks))


# ---------------------------------------------------------------------------- applications against the close


def test_no_application_is_stored_after_its_posting_closed(factory, settings):
    with db.transaction(factory) as session:
        world = make_world(session, settings)
    recruiter = world.users["recruteur"]
    late, untold, refused_total, stored_total = [], [], 0, 0
    for round_number in range(ROUNDS):
        with db.transaction(factory) as session:
            posting_id = published(session, recruiter, title=f"Chef de projet, tour {round_number}")
        seen_at_close: list[set[str]] = []

        def close(posting_id: int = posting_id, seen_at_close: list[set[str]] = seen_at_close) -> int:
            with db.transaction(factory) as session:
                told = recruitment.close_posting(session, recruiter, posting_id, settings)
            # Read once the close has committed: an application missing here but stored in the end was
            # committed after the close.
            with db.read_only(factory) as session:
                seen_at_close.append(set(_applicants(session, posting_id)))
            return told

        def apply(number: int, posting_id: int = posting_id, round_number: int = round_number) -> str:
            email = f"candidate.{round_number}.{number}@example.fr"
            with db.transaction(factory) as session:
                recruitment.apply(session, posting_id, application_input(email=email), settings)
            return email

        outcomes = _together([close] + [lambda n=n: apply(n) for n in range(APPLICANTS)])
        assert outcomes[0][0] == "ok", outcomes[0]
        assert {value for kind, value in outcomes[1:] if kind == "error"} <= {"posting_not_public"}, outcomes
        with db.read_only(factory) as session:
            stored = set(_applicants(session, posting_id))
            told = set(
                session.scalars(
                    select(OutboxMessage.recipient).where(
                        OutboxMessage.kind == "posting_closed", OutboxMessage.recipient.in_(stored or {""})
                    )
                )
            )
        assert stored == {value for kind, value in outcomes[1:] if kind == "ok"}
        late += sorted(stored - seen_at_close[0])
        untold += sorted(stored - told)
        stored_total += len(stored)
        refused_total += sum(kind == "error" for kind, _ in outcomes[1:])
    assert late == [], f"{len(late)} of {stored_total} applications committed after their posting's close"
    assert untold == [], f"{len(untold)} of {stored_total} stored applicants never told of the close"
    # Both outcomes happened over the rounds: the race was run, not one side always first.
    print(f"{stored_total} stored, {refused_total} refused over {ROUNDS} rounds")


def _applicants(session, posting_id: int) -> list[str]:
    return list(
        session.scalars(
            select(JobApplication.email).where(
                JobApplication.posting_id == posting_id, JobApplication.email.is_not(None)
            )
        )
    )


# ---------------------------------------------------------------------------- the login lock under a burst


def _log_in(factory, settings, password: str):
    """One sign-in as the login page makes it."""
    return accounts.authenticate(factory, "alice@example.fr", password, settings)


def _alice(factory, settings) -> None:
    with db.transaction(factory) as session:
        accounts.create_user(
            session,
            email="alice@example.fr",
            display_name="Alice Martin",
            role="direction",
            settings=settings,
            password=STRONG_PASSWORD,
            notify=False,
        )


def test_a_burst_of_wrong_passwords_gets_no_more_than_the_allowed_failures(factory, settings):
    _alice(factory, settings)
    limit = settings.login_max_failures
    outcomes = _together([lambda n=n: _log_in(factory, settings, f"mauvais mot de passe {n}") for n in range(BURST)])
    codes = Counter(outcome.error.code for kind, outcome in outcomes if kind == "ok")
    assert sum(codes.values()) == BURST and codes["bad_credentials"] == limit - 1, codes
    assert codes["account_locked"] == BURST - (limit - 1), codes
    with db.read_only(factory) as session:
        assert session.get_one(LoginThrottle, "alice@example.fr").failures == limit
    assert _log_in(factory, settings, STRONG_PASSWORD).error.code == "account_locked"


class _GatedHasher:
    """The real argon2 hasher, whose checks are counted and held at a gate until the test opens it."""

    def __init__(self, real) -> None:
        self.real, self.started, self.gate = real, threading.Semaphore(0), threading.Event()
        self.checks = 0
        self.guard = threading.Lock()

    def verify(self, password_hash: str, password: str) -> bool:
        with self.guard:
            self.checks += 1
        self.started.release()
        self.gate.wait()
        return self.real.verify(password_hash, password)

    def __getattr__(self, name: str):
        return getattr(self.real, name)


def test_the_right_password_sent_after_the_allowed_guesses_of_a_burst_is_refused(
    factory, database_url, settings, monkeypatch
):
    _alice(factory, settings)
    # A connection for every attempt, as several app servers together have: none waits for another's connection.
    engine = db.make_engine(database_url, pool_size=BURST + 1)
    factory = db.make_session_factory(engine)
    limit = settings.login_max_failures
    real = accounts.password_hasher(settings.argon2_profile)
    accounts.hash_password("chauffer le hachage factice", settings.argon2_profile)  # the dummy hash, made
    hasher = _GatedHasher(real)
    monkeypatch.setattr(accounts, "password_hasher", lambda profile="production": hasher)
    # Every allowed guess checked at once, as on as many servers (one process checks only a few at a time).
    monkeypatch.setattr(accounts, "sign_in_turns", accounts.SignInTurns(BURST))
    with ThreadPoolExecutor(BURST) as pool:
        try:
            guesses = [pool.submit(_log_in, factory, settings, f"mauvais mot de passe {n}") for n in range(BURST - 1)]
            # The allowed guesses are being checked (held at the gate); the right password comes now.
            for _ in range(limit):
                assert hasher.started.acquire(timeout=60), "fewer password checks began than the limit allows"
            right = pool.submit(_log_in, factory, settings, STRONG_PASSWORD)
            refused = [future.result().error.code for future in guesses if future.done()]
        finally:
            hasher.gate.set()
        outcomes = [future.result() for future in guesses]
        right_outcome = right.result()
    assert right_outcome.user is None and right_outcome.error.code == "account_locked"
    assert hasher.checks == limit, f"{hasher.checks} passwords checked, {limit} allowed"
    assert set(refused) <= {"account_locked"}
    assert sum(outcome.error.code == "bad_credentials" for outcome in outcomes) == limit - 1
    with db.read_only(factory) as session:
        assert session.get_one(LoginThrottle, "alice@example.fr").failures == limit
    engine.dispose()


def test_a_sign_in_holds_no_connection_nor_write_lock_while_its_password_is_checked(
    factory, database_url, settings, monkeypatch
):
    _alice(factory, settings)
    # One connection in all: a sign-in that kept it (or SQLite's write lock) during argon2 would stop every write.
    engine = db.make_engine(database_url, pool_size=1, pool_timeout=30)
    factory = db.make_session_factory(engine)
    hasher = _GatedHasher(accounts.password_hasher(settings.argon2_profile))
    monkeypatch.setattr(accounts, "password_hasher", lambda profile="production": hasher)
    written = threading.Event()

    def write() -> None:
        with db.transaction(factory) as session:
            accounts.create_organisation(session, "Commune de Revel", "commune", "31")
        written.set()

    with ThreadPoolExecutor(2) as pool:
        try:
            sign_in = pool.submit(_log_in, factory, settings, STRONG_PASSWORD)
            assert hasher.started.acquire(timeout=60)
            writing = pool.submit(write)
            assert written.wait(timeout=30), "a write waited for a sign-in's password check"
        finally:
            hasher.gate.set()
        assert sign_in.result().user is not None
        writing.result()
    engine.dispose()


def test_signin_benchmark_reports_registration_latency_with_and_without_sign_ins(tmp_path, monkeypatch):
    from pvd_survey import bench

    monkeypatch.setattr(bench.signin, "SIGN_INS", 2)
    monkeypatch.setattr(bench.signin, "WRITERS", 2)
    monkeypatch.setattr(bench.signin, "REGISTRATIONS_PER_WRITER", 3)
    monkeypatch.setattr(bench.signin, "WARMUP_PER_WRITER", 1)
    figures = bench.signin_benchmark(TEST_BACKEND, str(tmp_path), PG_ADMIN_URL)
    assert figures["database"] == TEST_BACKEND and figures["registrations_timed_per_kind"] == 2 * 2 * 3
    assert figures["sign_ins_done"] >= 2 * 2 and figures["argon2_only_checks_done"] >= 2 * 2
    for kind in ("registration", "registration_during_sign_ins", "registration_during_argon2_only"):
        assert 0 < figures[f"{kind}_p50_ms"] <= figures[f"{kind}_p95_ms"] <= figures[f"{kind}_p99_ms"]
    assert figures["p95_ratio"] == round(
        figures["registration_during_sign_ins_p95_ms"] / figures["registration_p95_ms"], 2
    )
