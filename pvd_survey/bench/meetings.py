"""Benchmark of the meetings: concurrent registrations and the meeting list at scale."""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import insert, select, text, update

from pvd_survey import db, territory
from pvd_survey.bench.common import (
    BENCH_KEY,
    RUNS,
    _latency_figures,
    _median_ms,
    _no_secrets_file,
    _scratch_database,
    bench_meeting,
)
from pvd_survey.clock import utcnow
from pvd_survey.config import load_settings

MEETINGS = 2_000
REGISTRATIONS = 200_000
WRITERS = 16
ATTEMPTS_PER_WRITER = 60
# Untimed registrations each writer makes first (connections, statement caches), as a server that
# has been up for a while has already done.
WARMUP_PER_WRITER = 5


def _registration_writers(
    url: str,
    meeting_id: int,
    first: int,
    threads: int,
    start_at: float | None = None,
    one_call: bool = True,
    attempts: int | None = None,
) -> list[tuple[float, float]]:
    """Run `threads` writers, each registering people in a row; returns (start, end) wall times of the timed ones."""
    from concurrent.futures import ThreadPoolExecutor

    from pvd_survey import meetings
    from pvd_survey.meetings import registration

    registration.ONE_CALL_ON_POSTGRESQL = one_call  # this process only (a bench worker)
    # Passed along: a spawned worker process reads the module's constants afresh.
    attempts = ATTEMPTS_PER_WRITER if attempts is None else attempts

    engine = db.make_engine(url)
    factory = db.make_session_factory(engine)
    settings = load_settings({"PVD_DATABASE_URL": url, **BENCH_KEY}, _no_secrets_file())
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))
    warmed_up = threading.Barrier(threads)

    def writer(number: int) -> list[tuple[float, float]]:
        timings = []
        for attempt in range(-WARMUP_PER_WRITER, attempts):
            if attempt == 0:
                warmed_up.wait()  # the timed registrations of all writers start together
            person = meetings.RegistrationForm(
                full_name=f"Personne {number}-{attempt}",
                email=f"p{number}.{attempt}@bench.example.fr",
                attendee_role="chef_de_projet",
                consent=True,
            )
            began = time.time()
            with db.transaction(factory) as session:
                meetings.register(session, meeting_id, person, settings)
            if attempt >= 0:
                timings.append((began, time.time()))
        return timings

    with ThreadPoolExecutor(threads) as pool:
        results = [value for values in pool.map(writer, range(first, first + threads)) for value in values]
    engine.dispose()
    return results


def _timed_registrations(url: str, factory, meeting_id: int, processes: int, one_call: bool) -> dict:
    """16 writers registering on one meeting: throughput and latencies of the timed registrations."""
    from pvd_survey.models import Meeting

    if processes == 1:
        timings = _registration_writers(url, meeting_id, 0, WRITERS, one_call=one_call)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        per_process = WRITERS // processes
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [
                pool.submit(
                    _registration_writers,
                    url,
                    meeting_id,
                    index * per_process,
                    per_process,
                    time.time() + 2,
                    one_call,
                    ATTEMPTS_PER_WRITER,
                )
                for index in range(processes)
            ]
            timings = [value for future in futures for value in future.result()]
    latencies = [end - start for start, end in timings]
    # Throughput over the timed phase only (from the first timed start to the last end).
    wall = max(end for _, end in timings) - min(start for start, _ in timings)
    with db.read_only(factory) as session:
        confirmed = session.get_one(Meeting, meeting_id).confirmed_count
    return {
        "meeting_id": meeting_id,
        "registrations_timed": len(latencies),
        "confirmed": confirmed,
        "registration_throughput_per_s": round(len(latencies) / wall, 1),
        **_latency_figures("registration", latencies),
    }


def meetings_benchmark(kind: str, workdir: str | None = None, postgres_admin_url: str | None = None) -> dict:
    """Registration latency with 16 concurrent writers on one meeting, and the meeting list's data at scale."""
    from datetime import timedelta

    from pvd_survey import meetings
    from pvd_survey.models import Meeting, Registration

    url, drop = _scratch_database(kind, "meetings", workdir, postgres_admin_url)
    try:
        engine = db.make_engine(url)
        db.migrate(engine)
        factory = db.make_session_factory(engine)
        now = utcnow()
        # Half the timed attempts are confirmed, the other half go to the waiting list.
        form = bench_meeting(
            "Rencontre régionale (banc d'essai)", WRITERS * WARMUP_PER_WRITER + WRITERS * ATTEMPTS_PER_WRITER // 2
        )
        # SQLite is the embedded, single-server database: its writers are the threads of one process.
        # PostgreSQL serves several app servers: its writers are spread over 4 processes of 4 threads.
        processes = 1 if kind == "sqlite" else 4
        runs = {}
        # On PostgreSQL, the one-call registration (pvd_register) and, on a second meeting under the
        # same load, the portable statements it replaced: the difference is the function's doing.
        for one_call in (True, False) if kind == "postgresql" else (True,):
            with db.transaction(factory) as session:
                meeting_id = meetings.create_meeting(session, form)
            runs[one_call] = _timed_registrations(url, factory, meeting_id, processes, one_call)
        bench_meetings = [run["meeting_id"] for run in runs.values()]
        meeting_id = runs[True]["meeting_id"]

        # The meeting list at scale: 2,000 upcoming meetings, 200,000 registrations.
        rng = random.Random(2026)
        regions = list(territory.REGIONS)
        started = time.perf_counter()
        meeting_rows = []
        for number in range(MEETINGS):
            start = now + timedelta(days=1 + number % 300, hours=rng.randrange(8, 15))
            meeting_rows.append(
                {
                    "title": f"Rencontre {number}",
                    "kind": rng.choice(["rencontre_regionale", "atelier", "webinaire"]),
                    "region": rng.choice(regions),
                    "city": "Ville",
                    "venue": "",
                    "starts_at": start,
                    "ends_at": start + timedelta(hours=3),
                    "capacity": 120,
                    "confirmed_count": 0,
                    "arrivals": 0,
                    "registration_opens_at": now - timedelta(days=10),
                    "registration_closes_at": start - timedelta(days=1),
                    "audiences": "chef_de_projet|elu|partenaire",
                    "description": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with db.transaction(factory) as session:
            session.execute(insert(Meeting), meeting_rows)
            ids = [row[0] for row in session.execute(select(Meeting.id).where(Meeting.id.not_in(bench_meetings)))]
        per_meeting = REGISTRATIONS // len(ids)
        for offset in range(0, len(ids), 200):
            batch = []
            for target in ids[offset : offset + 200]:
                for arrival in range(1, per_meeting + 1):
                    status = "confirmed" if arrival <= 100 else "waiting"
                    batch.append(
                        {
                            "meeting_id": target,
                            "arrival": arrival,
                            "status": status,
                            "email": f"p{arrival}@m{target}.example.fr",
                            "full_name": f"Personne {arrival}",
                            "attendee_role": "chef_de_projet",
                            "organisation": "",
                            "needs": "",
                            "token_hash": f"{target}-{arrival}",
                            "reference": f"B{target}-{arrival}",
                            "consented_at": now,
                            "created_at": now,
                        }
                    )
            with db.transaction(factory) as session:
                session.execute(insert(Registration), batch)
        with db.transaction(factory) as session:
            session.execute(
                update(Meeting)
                .where(Meeting.id.not_in(bench_meetings))
                .values(confirmed_count=100, arrivals=per_meeting)
            )
        fill_seconds = round(time.perf_counter() - started, 1)
        if kind == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))

        timings: dict[str, list[float]] = {"all": [], "region": [], "page": []}
        with db.read_only(factory) as session:
            shown = len(meetings.list_upcoming(session))
            for _ in range(RUNS):
                began = time.perf_counter()
                meetings.list_upcoming(session)
                timings["all"].append(time.perf_counter() - began)
                began = time.perf_counter()
                meetings.list_upcoming(session, region="27")
                timings["region"].append(time.perf_counter() - began)
                began = time.perf_counter()
                meetings.list_upcoming(session, limit=21)  # what the public page reads: 20, and one to know more
                timings["page"].append(time.perf_counter() - began)
        engine.dispose()
        return {
            "benchmark": "meetings",
            "database": kind,
            "writers": WRITERS,
            "writer_processes": processes,
            "registration": "one call (pvd_register)" if kind == "postgresql" else "statements",
            **{name: value for name, value in runs[True].items() if name != "meeting_id"},
            **{
                f"portable_{name}": value
                for name, value in runs.get(False, {}).items()
                if name not in ("meeting_id", "registrations_timed")
            },
            "list_meetings": MEETINGS + len(bench_meetings),
            "list_registrations": per_meeting * len(ids),
            "list_fill_seconds": fill_seconds,
            "list_meetings_shown": shown,
            "list_all_ms_median": _median_ms(timings["all"]),
            "list_region_ms_median": _median_ms(timings["region"]),
            "list_first_page_ms_median": _median_ms(timings["page"]),
        }
    finally:
        drop()
