"""Recruitment: figures for the direction's dashboard."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from pvd_survey import disclosure, territory
from pvd_survey.models import JobApplication, JobPosting
from pvd_survey.vocabulary import POSTING_STATUS_LABELS


@dataclass(frozen=True)
class RecruitmentFigures:
    """Recruitment figures for the dashboard (applications protected by the disclosure rule)."""

    postings_by_region_state: list[tuple[str, str, int]]  # (region label, state label, postings)
    applications_by_region: list[tuple[str, int, int | None]]  # (region label, postings, applications or hidden)
    applications_per_posting: list[tuple[str, int]]  # (bucket label, postings)
    median_days_to_fill: float | None
    filled_count: int
    vacant_by_department: list[tuple[str, int]]  # (department label, open or unfilled closed postings)


_BUCKETS = ((0, 0, "0"), (1, 4, "1 à 4"), (5, 9, "5 à 9"), (10, 19, "10 à 19"), (20, 10**9, "20 et plus"))


def recruitment_figures(session: Session, k: int = disclosure.DEFAULT_K) -> RecruitmentFigures:
    """Postings by region and state, applications per posting, time to fill, vacant posts by department."""
    by_state = session.execute(
        select(JobPosting.region, JobPosting.status, func.count()).group_by(JobPosting.region, JobPosting.status)
    ).all()
    postings_by_region_state = sorted(
        (territory.REGIONS[region], POSTING_STATUS_LABELS[status], count) for region, status, count in by_state
    )
    per_posting = (
        select(
            JobPosting.id,
            JobPosting.region,
            func.count(JobApplication.id).label("n"),
            func.coalesce(func.sum(JobApplication.record_key), 0).label("key_sum"),
        )
        .outerjoin(JobApplication, JobApplication.posting_id == JobPosting.id)
        .where(JobPosting.status != "draft")
        .group_by(JobPosting.id, JobPosting.region)
        .subquery()
    )
    by_region = session.execute(
        select(per_posting.c.region, func.count(), func.sum(per_posting.c.n), func.sum(per_posting.c.key_sum)).group_by(
            per_posting.c.region
        )
    ).all()
    # Applications describe people: hidden below k and perturbed like the survey's figures.
    published = disclosure.publish_table(
        {region: disclosure.Tally(int(total or 0), int(key_sum or 0)) for region, _, total, key_sum in by_region}, k
    )
    applications_by_region = sorted(
        (territory.REGIONS[region], postings, published[region]) for region, postings, _, _ in by_region
    )
    bucket = case(
        *[(and_(per_posting.c.n >= low, per_posting.c.n <= high), label) for low, high, label in _BUCKETS],
    )
    bucket_counts: dict[str, int] = dict(session.execute(select(bucket, func.count()).group_by(bucket)).all())
    applications_per_posting = [(label, int(bucket_counts.get(label, 0))) for _, _, label in _BUCKETS]
    filled = session.execute(
        select(JobPosting.published_at, JobPosting.ended_at).where(
            JobPosting.status == "filled", JobPosting.published_at.is_not(None)
        )
    ).all()
    days = [(ended - published).total_seconds() / 86400 for published, ended in filled if ended and published]
    vacant = session.execute(
        select(JobPosting.department, func.count())
        .where(JobPosting.status.in_(("published", "closed")))
        .group_by(JobPosting.department)
        .order_by(func.count().desc(), JobPosting.department)
    ).all()
    return RecruitmentFigures(
        postings_by_region_state,
        applications_by_region,
        applications_per_posting,
        round(statistics.median(days), 1) if days else None,
        len(days),
        [(territory.department_label(code), count) for code, count in vacant],
    )
