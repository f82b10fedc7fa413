"""`python -m pvd_survey bench`: measured figures for the README (a benchmark, never a timed test)."""

from __future__ import annotations

import io
import itertools
import random
import resource
import secrets
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import pypdf
from sqlalchemy import insert, select, text, update

from pvd_survey import db, stats, survey, territory
from pvd_survey.clock import utcnow
from pvd_survey.config import load_settings
from pvd_survey.survey import release, totals
from pvd_survey.survey_questions import (
    DIPLOMA,
    EMPLOYER,
    EXPERIENCE,
    GENDER,
    NO_ANSWER,
    TRAINING_FIELD,
    Answers,
)

RUNS = 5
# Scratch databases only: any server key will do.
BENCH_KEY = {"PVD_SECRET_KEY": secrets.token_urlsafe(32)}
SUBMISSIONS = 300
# The filter combination measured: one region, as the direction typically looks at it.
BENCH_FILTERS = stats.Filters(region="27")


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _no_secrets_file() -> Path:
    """A secrets path that surely does not exist: the benchmark's settings come from its arguments only."""
    return Path(tempfile.mkdtemp(prefix="pvd-bench-")) / "secrets.toml"


def _random_rows(count: int, rng: random.Random) -> list[dict]:
    departments = list(territory.DEPARTMENTS)
    months = [f"{y}-{m:02d}" for y in range(2020, 2027) for m in range(1, 13) if f"{y}-{m:02d}" <= "2026-10"]
    fields = list(TRAINING_FIELD.options)
    rows = []
    for _ in range(count):
        month = rng.choice(months) if rng.random() > 0.03 else None
        chosen = rng.sample(fields, rng.choice((1, 1, 1, 2, 2, 3))) if rng.random() > 0.05 else []
        department = rng.choice(departments) if rng.random() > 0.02 else None
        rows.append(
            {
                "start_month": month,
                "employer": rng.choice([*EMPLOYER.options, None]),
                "gender": rng.choice([*GENDER.options, None]),
                "experience": rng.choice([*EXPERIENCE.options, None]),
                "diploma": rng.choice([*DIPLOMA.options, None]),
                "training_field": "|".join(code for code in TRAINING_FIELD.options if code in chosen),
                "department": department,
            }
        )
    return rows


def _record(row: dict, rng: random.Random) -> survey.CountedRecord:
    answers = Answers(
        row["start_month"],
        row["employer"],
        row["gender"],
        row["experience"],
        row["diploma"],
        tuple(row["training_field"].split("|")) if row["training_field"] else (),
        row["department"],
    )
    return survey.CountedRecord(answers, rng.randrange(256), False)


def _open_every_row(factory, settings) -> int:
    """The approach the design avoids: open every sealed row and count in Python."""
    with db.read_only(factory) as session:
        records = survey.counted_records(session, settings)
    return sum(1 for record in records if record.answers.department in territory.departments_of_region("27"))


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def _scratch_database(kind: str, name: str, workdir: str | None, postgres_admin_url: str | None):
    """A new empty database for the benchmark, and how to drop it afterwards."""
    if kind == "sqlite":
        directory = Path(workdir or tempfile.mkdtemp(prefix="pvd-bench-"))
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"bench-{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", lambda: None
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    database = f"pvd_bench_{random.randrange(16**8):08x}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()

    return make_url(postgres_admin_url).set(database=database).render_as_string(hide_password=False), drop


def _percentile_ms(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, int(len(ordered) * fraction) - 1)] * 1000, 2)


def _after_bulk_load(engine, kind: str) -> None:
    """What the database would do on its own after a bulk load: statistics (and, on PostgreSQL, the visibility map)."""
    if kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def _latency_figures(prefix: str, samples: list[float]) -> dict[str, float]:
    """p50, p95 and p99 of a list of durations in seconds, in ms."""
    return {f"{prefix}_p{int(q * 100)}_ms": _percentile_ms(samples, q) for q in (0.5, 0.95, 0.99)}


def survey_benchmark(
    size: int, workdir: str | None = None, kind: str = "sqlite", postgres_admin_url: str | None = None
) -> dict:
    """Fill a fresh database with `size` responses and time the dashboard figures and submissions."""
    url, drop = _scratch_database(kind, str(size), workdir, postgres_admin_url)
    try:
        return _survey_benchmark(size, url, kind)
    finally:
        drop()


def _fill_survey(url: str, size: int, rng: random.Random, kind: str, settings) -> float:
    """Migrate the scratch database and load `size` sealed responses with their totals; the seconds it took."""
    engine = db.make_engine(url)
    db.migrate(engine, settings.secret_key)
    factory = db.make_session_factory(engine)
    started = time.perf_counter()
    for start in range(0, size, 50_000):
        records = [_record(row, rng) for row in _random_rows(min(50_000, size - start), rng)]
        with db.transaction(factory) as session:
            release.add_counted(session, settings, records)
    _after_bulk_load(engine, kind)
    engine.dispose()
    return round(time.perf_counter() - started, 1)


def _survey_benchmark(size: int, url: str, kind: str) -> dict:
    rng = random.Random(size)
    settings = load_settings(
        {
            "PVD_DATABASE_URL": url,
            "PVD_ARGON2_PROFILE": "fast-tests",
            "PVD_SURVEY_RELEASE_MINUTES": "1",
            **BENCH_KEY,
        },
        _no_secrets_file(),
    )
    fill_seconds = _fill_survey(url, size, rng, kind, settings)

    # Cold: a new engine (new connections, empty SQLite page cache) and no totals opened in this process, for
    # each run. On PostgreSQL the new connections start with empty caches too, but shared buffers stay warm.
    cold = []
    for _ in range(RUNS):
        totals.forget_cache()
        cold_engine = db.make_engine(url)
        began = time.perf_counter()
        with db.read_only(db.make_session_factory(cold_engine)) as session:
            stats.survey_stats(session, BENCH_FILTERS, settings=settings)
        cold.append(time.perf_counter() - began)
        cold_engine.dispose()
    engine = db.make_engine(url)
    factory = db.make_session_factory(engine)
    warm = []
    with db.read_only(factory) as session:
        stats.survey_stats(session, BENCH_FILTERS, settings=settings)
        for _ in range(RUNS):
            began = time.perf_counter()
            figures = stats.survey_stats(session, BENCH_FILTERS, settings=settings)
            warm.append(time.perf_counter() - began)
    unfiltered = []
    with db.read_only(factory) as session:
        for _ in range(RUNS):
            began = time.perf_counter()
            stats.survey_stats(session, stats.Filters(), settings=settings)
            unfiltered.append(time.perf_counter() - began)
    peak_after_figures = _peak_rss_mb()

    # Submissions through the service layer, each in its own transaction, as the survey page does.
    tokens = []
    with db.transaction(factory) as session:
        for number in range(SUBMISSIONS):
            entry = survey.InvitationEntry(number, f"bench{number}@example.fr", None)
            survey.invite(session, [entry], settings)
    with db.transaction(factory) as session:
        tokens = [row[0].split("jeton=")[1] for row in session.execute(text("SELECT link FROM outbox_message"))]
    # Varied answers, as people give them: a released group then touches as many count cells as it would for real.
    forms = [
        {
            **{code: row[code] or NO_ANSWER for code in ("start_month", "employer", "gender", "experience", "diploma")},
            "training_field": row["training_field"].split("|") if row["training_field"] else [NO_ANSWER],
            "department": row["department"] or NO_ANSWER,
        }
        for row in _random_rows(len(tokens), rng)
    ]
    # Every submission goes to the release pool in its own transaction, as the survey page does; after
    # each k-th, the scheduled release of the k waiting answers runs in its own transaction: both are timed.
    latencies = []
    releases = []
    moment = utcnow()
    for number, (token, form) in enumerate(zip(tokens, forms, strict=True), start=1):
        began = time.perf_counter()
        with db.transaction(factory) as session:
            survey.submit(session, token, form, settings)
        latencies.append(time.perf_counter() - began)
        if number % settings.disclosure_k == 0:
            moment += timedelta(minutes=1)  # the next moment of a one-minute schedule
            began = time.perf_counter()
            with db.transaction(factory) as session:
                applied = survey.release_due(session, settings, now=moment).applied
            releases.append(time.perf_counter() - began)
            assert applied == settings.disclosure_k, applied
    latencies.sort()
    releases.sort()

    began = time.perf_counter()
    _open_every_row(factory, settings)
    naive = [time.perf_counter() - began]
    engine.dispose()
    return {
        "benchmark": "survey",
        "database": kind,
        "responses": size,
        "filters": "region=27 (Bourgogne-Franche-Comté)",
        "fill_seconds": fill_seconds,
        "figures_respondents": figures.respondents,
        "figures_cold_ms_median": _median_ms(cold),
        "figures_warm_ms_median": _median_ms(warm),
        "figures_unfiltered_warm_ms_median": _median_ms(unfiltered),
        "open_every_row_ms": _median_ms(naive),
        "speedup_vs_opening_rows_warm": round(statistics.median(naive) / statistics.median(warm), 1),
        **_latency_figures("submission", latencies),
        "submissions": len(latencies),
        **_latency_figures("release_of_k", releases),
        "releases": len(releases),
        "peak_rss_mb_after_figures": peak_after_figures,
        "peak_rss_mb_after_opening_rows": _peak_rss_mb(),
    }


# ---------------------------------------------------------------------------- report

REPORT_RUNS = 3


def report_benchmark(
    size: int, workdir: str | None = None, kind: str = "sqlite", postgres_admin_url: str | None = None
) -> dict:
    """Time the steering committee's PDF report over `size` survey responses (France, then one region)."""
    from pvd_survey import report

    url, drop = _scratch_database(kind, f"report-{size}", workdir, postgres_admin_url)
    try:
        settings = load_settings({"PVD_DATABASE_URL": url, **BENCH_KEY}, _no_secrets_file())
        fill_seconds = _fill_survey(url, size, random.Random(size), kind, settings)
        engine = db.make_engine(url)
        factory = db.make_session_factory(engine)
        result: dict = {"benchmark": "report", "database": kind, "responses": size, "fill_seconds": fill_seconds}
        for name, request in (("france", report.ReportRequest()), ("region_27", report.ReportRequest(region="27"))):
            durations, steps = [], {}
            for _ in range(REPORT_RUNS):
                marks = [time.perf_counter()]

                def mark(_step: str, marks: list[float] = marks) -> None:
                    marks.append(time.perf_counter())

                with db.read_only(factory) as session:
                    pdf = report.build_report(session, request, progress=mark, settings=settings)
                marks.append(time.perf_counter())
                durations.append(marks[-1] - marks[0])
                steps = {f"step_{n}_ms": round((b - a) * 1000) for n, (a, b) in enumerate(itertools.pairwise(marks))}
            result[f"{name}_first_ms"] = round(durations[0] * 1000)  # includes vl-convert's start
            result[f"{name}_ms_median"] = _median_ms(durations)
            result[f"{name}_pages"] = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
            result[f"{name}_kb"] = len(pdf) // 1024
            result[f"{name}_last_run_steps"] = steps
        engine.dispose()
        result["peak_rss_mb"] = _peak_rss_mb()
        return result
    finally:
        drop()


# ---------------------------------------------------------------------------- meetings

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
        confirmed = session.get(Meeting, meeting_id).confirmed_count
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
    from pvd_survey.clock import utcnow
    from pvd_survey.models import Meeting, Registration

    url, drop = _scratch_database(kind, "meetings", workdir, postgres_admin_url)
    try:
        engine = db.make_engine(url)
        db.migrate(engine)
        factory = db.make_session_factory(engine)
        now = utcnow()
        form = meetings.MeetingForm(
            title="Rencontre régionale (banc d'essai)",
            kind="rencontre_regionale",
            region="27",
            city="Dijon",
            venue="",
            online_url=None,
            starts_at=now + timedelta(days=30),
            ends_at=now + timedelta(days=30, hours=7),
            # Half the timed attempts are confirmed, the other half go to the waiting list.
            capacity=WRITERS * WARMUP_PER_WRITER + WRITERS * ATTEMPTS_PER_WRITER // 2,
            registration_opens_at=now - timedelta(days=1),
            registration_closes_at=now + timedelta(days=29),
            audiences=("chef_de_projet", "elu", "partenaire"),
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

        timings = {"all": [], "region": [], "page": []}
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


# ---------------------------------------------------------------------------- the job board


def _job_rows(postings: int, applications: int, rng: random.Random, organisation_ids: list[int], now) -> tuple:
    from datetime import timedelta

    from pvd_survey.models import CONTRACTS

    departments = list(territory.DEPARTMENTS)
    posting_rows = []
    for number in range(1, postings + 1):
        organisation_id = organisation_ids[number % len(organisation_ids)]
        department = departments[organisation_id % len(departments)]
        status = rng.choices(["published", "closed", "filled", "draft"], weights=[55, 20, 20, 5])[0]
        published = now - timedelta(days=rng.randint(1, 700)) if status != "draft" else None
        posting_rows.append(
            {
                "id": number,
                "organisation_id": organisation_id,
                "title": f"Chef de projet Petites villes de demain n° {number}",
                "employer_kind": rng.choice(["epci", "commune", "commune", "autre"]),
                "department": department,
                "region": territory.region_of_department(department),
                "communes": "Commune A\nCommune B",
                "contract": rng.choice(CONTRACTS),
                "working_time": "complet",
                "deadline": (now + timedelta(days=rng.randint(1, 90))).date()
                if status in ("published", "draft")
                else (now - timedelta(days=rng.randint(1, 300))).date(),
                "description": rng.choice(["Revitalisation du centre-bourg.", "Habitat et OPAH-RU.", "Commerce."]),
                "missions": "Missions du modèle de fiche de poste.",
                "anah_opah_ru": rng.random() < 0.3,
                "status": status,
                "created_at": now,
                "updated_at": now,
                "published_at": published,
                "ended_at": published + timedelta(days=rng.randint(20, 200))
                if status in ("closed", "filled")
                else None,
            }
        )
    # Applications go to non-draft postings, a few postings getting many (as on real job boards).
    open_ids = [row["id"] for row in posting_rows if row["status"] != "draft"]
    weights = [rng.paretovariate(1.5) for _ in open_ids]
    targets = rng.choices(open_ids, weights=weights, k=applications)
    application_rows = [
        {
            "id": number,
            "posting_id": posting_id,
            "reference": f"PVD-B{number:09d}",
            "token_hash": f"{number:064x}",
            "email": f"candidat{number}@example.fr",
            "full_name": f"Candidat {number}",
            "phone": None,
            "cover_letter_text": None,
            "consent_contact": False,
            "status": rng.choice(["recue", "examen", "entretien", "non_retenue"]),
            "created_at": now,
            "updated_at": now,
            "last_contact_at": now,
        }
        for number, posting_id in enumerate(targets, start=1)
    ]
    return posting_rows, application_rows


def jobs_benchmark(
    postings: int = 5_000,
    applications: int = 200_000,
    workdir: str | None = None,
    kind: str = "sqlite",
    postgres_admin_url: str | None = None,
) -> dict:
    """Fill a fresh database with postings and applications; time a filtered board and a pipeline page."""
    url, drop = _scratch_database(kind, f"jobs-{postings}-{applications}", workdir, postgres_admin_url)
    try:
        return _jobs_benchmark(postings, applications, url, kind)
    finally:
        drop()


def _jobs_benchmark(postings: int, applications: int, url: str, kind: str) -> dict:
    import uuid

    from sqlalchemy import func, select

    from pvd_survey import accounts, recruitment
    from pvd_survey.clock import utcnow
    from pvd_survey.demo import sample_pdf
    from pvd_survey.models import ApplicationFile, JobApplication, JobPosting, Organisation

    rng = random.Random(postings + applications)
    engine = db.make_engine(url)
    db.migrate(engine)
    factory = db.make_session_factory(engine)
    settings = load_settings(
        {"PVD_DATABASE_URL": url, "PVD_ARGON2_PROFILE": "fast-tests", **BENCH_KEY}, _no_secrets_file()
    )
    now = utcnow()
    started = time.perf_counter()
    departments = list(territory.DEPARTMENTS)
    with db.transaction(factory) as session:
        organisations = [
            {"id": n, "name": f"Organisation {n}", "kind": "epci", "department": departments[n % len(departments)]}
            for n in range(1, max(2, postings // 3) + 1)
        ]
        session.execute(insert(Organisation), organisations)
        posting_rows, application_rows = _job_rows(postings, applications, rng, [o["id"] for o in organisations], now)
        session.execute(insert(JobPosting), posting_rows)
        cv = sample_pdf("Curriculum vitae")
        for start in range(0, len(application_rows), 20_000):
            chunk = application_rows[start : start + 20_000]
            session.execute(insert(JobApplication), chunk)
            session.execute(
                insert(ApplicationFile),
                [
                    {
                        "application_id": row["id"],
                        "kind": "cv",
                        "storage_name": str(uuid.UUID(int=row["id"])),
                        "display_name": "cv.pdf",
                        "size": len(cv),
                        "content": cv,
                        "created_at": now,
                    }
                    for row in chunk
                ],
            )
    _after_bulk_load(engine, kind)
    with db.transaction(factory) as session:
        # The recruiter of the organisation whose posting received the most applications.
        busiest, received = session.execute(
            select(JobApplication.posting_id, func.count())
            .group_by(JobApplication.posting_id)
            .order_by(func.count().desc())
        ).first()
        organisation_id = session.get(JobPosting, busiest).organisation_id
        recruiter = accounts.create_user(
            session,
            email="bench.recruteur@example.fr",
            display_name="Bench",
            role="recruteur",
            settings=settings,
            organisation_id=organisation_id,
            notify=False,
        )
    fill_seconds = round(time.perf_counter() - started, 1)

    board_filters = recruitment.make_board_filters(region="84", contract="projet", sort="deadline")
    keyword_filters = recruitment.make_board_filters(keyword="opah")
    timings: dict[str, list[float]] = {"board": [], "keyword": [], "pipeline": [], "all_rows": []}
    with db.read_only(factory) as session:
        board = recruitment.list_published(session, board_filters)
        recruitment.list_published(session, keyword_filters)
        recruitment.list_applications(session, recruiter, busiest)
        for _ in range(RUNS):
            began = time.perf_counter()
            recruitment.list_published(session, board_filters)
            timings["board"].append(time.perf_counter() - began)
            began = time.perf_counter()
            keyword = recruitment.list_published(session, keyword_filters)
            timings["keyword"].append(time.perf_counter() - began)
            began = time.perf_counter()
            # What the pipeline page reads: the organisation's postings, the applications, the status counts.
            recruitment.list_own_postings(session, recruiter)
            recruitment.pipeline_counts(session, recruiter, busiest)
            page = recruitment.list_applications(session, recruiter, busiest, limit=200)
            timings["pipeline"].append(time.perf_counter() - began)
            began = time.perf_counter()
            rows = recruitment.list_applications(session, recruiter, busiest)  # every row, as the export reads them
            timings["all_rows"].append(time.perf_counter() - began)
    engine.dispose()
    return {
        "benchmark": "job board",
        "database": kind,
        "postings": postings,
        "applications": applications,
        "fill_seconds": fill_seconds,
        "board_filters": "region=84 (Auvergne-Rhône-Alpes), contract=projet, sort=deadline",
        "board_matches": board.count,
        "board_ms_median": _median_ms(timings["board"]),
        "keyword_matches": keyword.count,
        "keyword_ms_median": _median_ms(timings["keyword"]),
        "pipeline_posting_applications": received,
        "pipeline_page_rows": len(page),
        "pipeline_ms_median": _median_ms(timings["pipeline"]),
        "pipeline_all_rows": len(rows),
        "pipeline_all_rows_ms_median": _median_ms(timings["all_rows"]),
        "peak_rss_mb": _peak_rss_mb(),
    }
