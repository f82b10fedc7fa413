"""Benchmark of the survey: dashboard figures, submissions and releases."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

from sqlalchemy import text

from pvd_survey import db, stats, survey, territory
from pvd_survey.bench.common import (
    BENCH_KEY,
    RUNS,
    _after_bulk_load,
    _latency_figures,
    _median_ms,
    _no_secrets_file,
    _peak_rss_mb,
    _scratch_database,
)
from pvd_survey.clock import utcnow
from pvd_survey.config import load_settings
from pvd_survey.survey import release, totals
from pvd_survey.survey_questions import DIPLOMA, EMPLOYER, EXPERIENCE, GENDER, NO_ANSWER, TRAINING_FIELD, Answers

SUBMISSIONS = 300
# The filter combination measured: one region, as the direction typically looks at it.
BENCH_FILTERS = stats.Filters(region="27")


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
