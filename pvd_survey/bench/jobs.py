"""Benchmark of the job board and the recruiter's pipeline."""

from __future__ import annotations

import random
import time

from sqlalchemy import insert

from pvd_survey import db, territory
from pvd_survey.bench.common import (
    BENCH_KEY,
    RUNS,
    _after_bulk_load,
    _median_ms,
    _no_secrets_file,
    _peak_rss_mb,
    _scratch_database,
)
from pvd_survey.clock import utcnow
from pvd_survey.config import load_settings


def _job_rows(postings: int, applications: int, rng: random.Random, organisation_ids: list[int], now) -> tuple:
    from datetime import timedelta

    from pvd_survey.vocabulary import CONTRACTS

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
                if published is not None and status in ("closed", "filled")
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
        organisation_ids = list(range(1, max(2, postings // 3) + 1))
        organisations = [
            {"id": n, "name": f"Organisation {n}", "kind": "epci", "department": departments[n % len(departments)]}
            for n in organisation_ids
        ]
        session.execute(insert(Organisation), organisations)
        posting_rows, application_rows = _job_rows(postings, applications, rng, organisation_ids, now)
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
        most_applied = session.execute(
            select(JobApplication.posting_id, func.count())
            .group_by(JobApplication.posting_id)
            .order_by(func.count().desc())
        ).first()
        if most_applied is None:
            raise RuntimeError("the benchmark database holds no application")
        busiest, received = most_applied
        organisation_id = session.get_one(JobPosting, busiest).organisation_id
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
