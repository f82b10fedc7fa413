"""Recruitment: the public job board."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pvd_survey import territory
from pvd_survey.clock import paris_today
from pvd_survey.errors import DomainError
from pvd_survey.models import JobPosting, Organisation
from pvd_survey.recruitment.common import BOARD_PAGE_SIZE, _one_line
from pvd_survey.recruitment.postings import PostingInfo, _posting_info
from pvd_survey.vocabulary import CONTRACTS, ORGANISATION_KINDS


@dataclass(frozen=True)
class BoardFilters:
    """Filters of the public job board (None: all)."""

    region: str | None = None
    department: str | None = None
    contract: str | None = None
    employer_kind: str | None = None
    keyword: str | None = None
    sort: str = "published"  # or "deadline"


@dataclass(frozen=True)
class BoardPage:
    """One page of the job board and how many postings match in all."""

    count: int
    postings: list[PostingInfo]


def make_board_filters(
    region: str | None = None,
    department: str | None = None,
    contract: str | None = None,
    employer_kind: str | None = None,
    keyword: str | None = None,
    sort: str | None = None,
) -> BoardFilters:
    """Checked filters (e.g. from the URL); unknown values raise 'unknown_filter'."""
    if region and region not in territory.REGIONS:
        raise DomainError("unknown_filter", name="région", value=region)
    if department:
        code = territory.normalise_department(department)
        if code is None:
            raise DomainError("unknown_filter", name="département", value=department)
        if region and territory.region_of_department(code) != region:
            raise DomainError("filter_mismatch", department=code)
        department = code
    if contract and contract not in CONTRACTS:
        raise DomainError("unknown_filter", name="contrat", value=contract)
    if employer_kind and employer_kind not in ORGANISATION_KINDS:
        raise DomainError("unknown_filter", name="employeur", value=employer_kind)
    if sort and sort not in ("published", "deadline"):
        raise DomainError("unknown_filter", name="tri", value=sort)
    return BoardFilters(
        region or None,
        department or None,
        contract or None,
        employer_kind or None,
        _one_line(keyword, 100) or None,
        sort or "published",
    )


def _board_conditions(filters: BoardFilters, today: date) -> list:
    # Past their deadline, postings leave the board at once, even before they are closed.
    conditions = [JobPosting.status == "published", JobPosting.deadline >= today]
    if filters.department:
        conditions.append(JobPosting.department == filters.department)
    elif filters.region:
        conditions.append(JobPosting.region == filters.region)
    if filters.contract:
        conditions.append(JobPosting.contract == filters.contract)
    if filters.employer_kind:
        conditions.append(JobPosting.employer_kind == filters.employer_kind)
    if filters.keyword:
        escaped = filters.keyword.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(
            or_(
                func.lower(JobPosting.title).like(pattern, escape="\\"),
                func.lower(JobPosting.description).like(pattern, escape="\\"),
            )
        )
    return conditions


def list_published(
    session: Session,
    filters: BoardFilters,
    now: datetime | None = None,
    limit: int = BOARD_PAGE_SIZE,
    offset: int = 0,
) -> BoardPage:
    """Published postings matching the filters, sorted, with the total count."""
    conditions = _board_conditions(filters, paris_today(now))
    count = session.execute(select(func.count()).select_from(JobPosting).where(*conditions)).scalar_one()
    order = (
        (JobPosting.deadline.asc(), JobPosting.id.asc())
        if filters.sort == "deadline"
        else (JobPosting.published_at.desc(), JobPosting.id.desc())
    )
    rows = session.execute(
        select(JobPosting, Organisation.name)
        .join(Organisation, Organisation.id == JobPosting.organisation_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    ).all()
    return BoardPage(count, [_posting_info(posting, name) for posting, name in rows])


def board_version(session: Session, now: datetime | None = None) -> tuple[object, ...]:
    """A cheap read that changes whenever list_published's answer may: the day (deadlines), and the postings (every
    write to one sets its `updated_at`, a new one raises the count and the highest id). Organisations are never
    renamed."""
    count, last_id, published, last_change = session.execute(
        select(
            func.count(),
            func.max(JobPosting.id),
            func.count().filter(JobPosting.status == "published"),
            func.max(JobPosting.updated_at),
        ).select_from(JobPosting)
    ).one()
    return paris_today(now), count, last_id, published, last_change


def get_public_posting(session: Session, posting_id: object, now: datetime | None = None) -> PostingInfo:
    """A posting open to applications; anything else (draft, closed, filled, unknown) is 'posting_not_public'."""
    try:
        number = int(str(posting_id))
    except ValueError:
        raise DomainError("posting_not_public") from None
    row = session.execute(
        select(JobPosting, Organisation.name)
        .join(Organisation, Organisation.id == JobPosting.organisation_id)
        .where(JobPosting.id == number, *_board_conditions(BoardFilters(), paris_today(now)))
    ).first()
    if row is None:
        raise DomainError("posting_not_public")
    return _posting_info(*row)
