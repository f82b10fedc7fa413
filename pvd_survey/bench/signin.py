"""Benchmark of sign-ins against registrations: meeting registration latency with and without a spray of sign-ins.

A sign-in checks its password with argon2 (production cost, about half a second of CPU); it must not hold a
connection, a row lock or SQLite's write lock meanwhile (issue 19: while 20 people signed in, registration p95 went
from 105 ms to 24.8 s on SQLite). Both phases run in this one process, the sign-ins as threads beside the writers,
as in an app server; the ratio of the two p95 figures is what docs/benchmarks.md reports (target: under 2).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import update

from pvd_survey import accounts, db, meetings
from pvd_survey.bench.common import BENCH_KEY, _latency_figures, _no_secrets_file, _scratch_database, bench_meeting
from pvd_survey.config import load_settings
from pvd_survey.models import User

SIGN_INS = 20  # people signing in at the same time, each again and again while the writers run
WRITERS = 4
REGISTRATIONS_PER_WRITER = 20  # per phase
# Quiet, sign-ins, then the same CPU load without any database work (argon2 checks only), twice over: the phases
# alternate so that a change in the machine's other load weighs on each alike.
PHASES = ("calme", "connexions", "argon2_seul") * 2
WARMUP_PER_WRITER = 3
PASSWORD = "banc-d-essai-cheval-agrafe-42"


def _registrations(factory, settings, meeting_id: int, phase: str, round_number: int) -> tuple[list[float], int]:
    """WRITERS threads registering people in a row while the phase's SIGN_INS threads sign in (or only check a
    password, or nothing): (latencies, sign-ins done)."""
    spray = 0 if phase == "calme" else SIGN_INS
    password_hash = accounts.hash_password(PASSWORD, settings.argon2_profile) if phase == "argon2_seul" else ""
    stop = threading.Event()
    started = threading.Barrier(WRITERS + spray)
    signed_in = []

    def writer(number: int) -> list[float]:
        latencies = []
        for attempt in range(-WARMUP_PER_WRITER, REGISTRATIONS_PER_WRITER):
            if attempt == 0:
                started.wait()  # the timed registrations start with the sign-ins
            person = meetings.RegistrationForm(
                full_name=f"Personne {phase} {number}-{attempt}",
                email=f"{phase}.{round_number}.{number}.{attempt + WARMUP_PER_WRITER}@bench.example.fr",
                attendee_role="chef_de_projet",
                consent=True,
            )
            began = time.perf_counter()
            with db.transaction(factory) as session:
                meetings.register(session, meeting_id, person, settings)
            if attempt >= 0:
                latencies.append(time.perf_counter() - began)
        return latencies

    def sign_in(number: int) -> None:
        started.wait()
        done = 0
        hasher = accounts.password_hasher(settings.argon2_profile)
        while not done or not stop.is_set():  # each person signs in at least once
            if phase == "argon2_seul":
                with accounts.sign_in_turns:  # what a sign-in's check costs, without its two short transactions
                    accounts.sign_in_turns.run(hasher.verify, password_hash, PASSWORD)
            else:
                outcome = accounts.authenticate(factory, f"agent{number}@bench.example.fr", PASSWORD, settings)
                if outcome.user is None:
                    raise RuntimeError(f"a bench sign-in failed: {outcome.error}")
            done += 1
        signed_in.append(done)

    with ThreadPoolExecutor(WRITERS + spray) as pool:
        sprayers = [pool.submit(sign_in, number) for number in range(spray)]
        writers = [pool.submit(writer, number) for number in range(WRITERS)]
        latencies = [value for future in writers for value in future.result()]
        stop.set()
        for future in sprayers:
            future.result()
    return latencies, sum(signed_in)


def signin_benchmark(kind: str, workdir: str | None = None, postgres_admin_url: str | None = None) -> dict:
    """Meeting registration p50/p95/p99 with no sign-in, then during a spray of SIGN_INS concurrent sign-ins."""
    url, drop = _scratch_database(kind, "signin", workdir, postgres_admin_url)
    try:
        # The production argon2 cost (no PVD_ARGON2_PROFILE): the point is what a real password check costs.
        settings = load_settings({"PVD_DATABASE_URL": url, **BENCH_KEY}, _no_secrets_file())
        engine = db.engine_for(settings)
        db.migrate(engine, settings.secret_key)
        factory = db.make_session_factory(engine)
        password_hash = accounts.hash_password(PASSWORD, settings.argon2_profile)
        with db.transaction(factory) as session:
            for number in range(SIGN_INS):
                accounts.create_user(
                    session,
                    email=f"agent{number}@bench.example.fr",
                    display_name=f"Agent {number}",
                    role="direction",
                    settings=settings,
                    notify=False,
                )
            # One hash for every account: hashing each would only lengthen the set-up.
            session.execute(update(User).values(password_hash=password_hash))
            form = bench_meeting("Rencontre régionale (banc d'essai des connexions)", capacity=10_000)
            meeting_id = meetings.create_meeting(session, form)
        latencies: dict[str, list[float]] = {phase: [] for phase in PHASES}
        done: dict[str, int] = {phase: 0 for phase in PHASES}
        for index, phase in enumerate(PHASES):
            timed, checks = _registrations(factory, settings, meeting_id, phase, index)
            latencies[phase] += timed
            done[phase] += checks
        engine.dispose()
        without = _latency_figures("registration", latencies["calme"])
        during = _latency_figures("registration_during_sign_ins", latencies["connexions"])
        return {
            "benchmark": "signin",
            "database": kind,
            "writers": WRITERS,
            "registrations_timed_per_kind": len(latencies["calme"]),
            "concurrent_sign_ins": SIGN_INS,
            "sign_ins_done": done["connexions"],
            "argon2_profile": settings.argon2_profile,
            "argon2_at_once": accounts.ARGON2_AT_ONCE,
            **without,
            **during,
            **_latency_figures("registration_during_argon2_only", latencies["argon2_seul"]),
            "argon2_only_checks_done": done["argon2_seul"],
            "p95_ratio": round(
                during["registration_during_sign_ins_p95_ms"] / max(without["registration_p95_ms"], 0.01), 2
            ),
        }
    finally:
        drop()
