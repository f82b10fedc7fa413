"""Recruitment: a recruiter's job postings and their lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pvd_survey import db, mail, territory
from pvd_survey.accounts import UserInfo
from pvd_survey.clock import paris_today, utcnow
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError, FieldChecks
from pvd_survey.models import JobApplication, JobPosting, Organisation
from pvd_survey.recruitment.common import (
    ANAH_TEXT,
    COFUNDING_TEXT,
    MODEL_MISSIONS,
    _clean_text,
    _one_line,
    _require_recruiter,
)
from pvd_survey.vocabulary import CONTRACT_LABELS, CONTRACTS, POSTING_STATUS_LABELS, WORKING_TIMES


@dataclass(frozen=True)
class PostingInput:
    """What a recruiter types in the posting form."""

    title: str
    communes: list[str]
    contract: str
    working_time: str
    deadline: date | None
    description: str = ""
    missions: str = MODEL_MISSIONS
    salary_min: int | None = None
    salary_max: int | None = None
    start_date: date | None = None
    anah_opah_ru: bool = False


@dataclass(frozen=True)
class PostingInfo:
    """A posting, as pages show it (public board, detail, recruiter's list)."""

    id: int
    organisation_id: int
    organisation_name: str
    employer_kind: str
    department: str
    region: str
    title: str
    communes: list[str]
    contract: str
    working_time: str
    salary_min: int | None
    salary_max: int | None
    start_date: date | None
    deadline: date
    description: str
    missions: str
    anah_opah_ru: bool
    status: str
    published_at: datetime | None
    ended_at: datetime | None
    # Changes with every change of the posting: an edit form passes back the value it was loaded with.
    updated_at: datetime
    application_count: int = 0

    @property
    def status_label(self) -> str:
        """French name of the state."""
        return POSTING_STATUS_LABELS[self.status]

    @property
    def contract_label(self) -> str:
        """French name of the contract."""
        return CONTRACT_LABELS[self.contract]

    @property
    def place_label(self) -> str:
        """Department and region, in French."""
        return f"{territory.department_label(self.department)} · {territory.REGIONS[self.region]}"

    @property
    def salary_label(self) -> str:
        """Salary range as text ('' when not given)."""
        if self.salary_min and self.salary_max:
            return f"{self.salary_min:,} à {self.salary_max:,} € bruts par an".replace(",", " ")
        if self.salary_min or self.salary_max:
            return f"{(self.salary_min or self.salary_max):,} € bruts par an".replace(",", " ")
        return ""

    @property
    def cofunding_label(self) -> str:
        """Co-funding information shown on every posting."""
        return COFUNDING_TEXT + (" " + ANAH_TEXT if self.anah_opah_ru else "")

    def as_input(self) -> PostingInput:
        """The posting's values, to prefill the edit form."""
        return PostingInput(
            self.title,
            list(self.communes),
            self.contract,
            self.working_time,
            self.deadline,
            self.description,
            self.missions,
            self.salary_min,
            self.salary_max,
            self.start_date,
            self.anah_opah_ru,
        )


def _posting_info(posting: JobPosting, organisation_name: str, application_count: int = 0) -> PostingInfo:
    return PostingInfo(
        id=posting.id,
        organisation_id=posting.organisation_id,
        organisation_name=organisation_name,
        employer_kind=posting.employer_kind,
        department=posting.department,
        region=posting.region,
        title=posting.title,
        communes=[line for line in posting.communes.split("\n") if line],
        contract=posting.contract,
        working_time=posting.working_time,
        salary_min=posting.salary_min,
        salary_max=posting.salary_max,
        start_date=posting.start_date,
        deadline=posting.deadline,
        description=posting.description,
        missions=posting.missions,
        anah_opah_ru=posting.anah_opah_ru,
        status=posting.status,
        published_at=posting.published_at,
        ended_at=posting.ended_at,
        updated_at=posting.updated_at,
        application_count=application_count,
    )


def validate_posting(data: PostingInput, today: date) -> dict[str, object]:
    """Check a posting form; return the column values or raise every field's error at once (FieldChecks)."""
    checks = FieldChecks()
    title = _one_line(data.title, 200)
    with checks:
        if not title:
            raise DomainError("posting_title_required", field="title")
    communes = []
    for commune in data.communes or []:
        name = _one_line(commune, 100)
        if name and name not in communes:
            communes.append(name)
    with checks:
        if not communes:
            raise DomainError("posting_communes_required", field="communes")
    with checks:
        if data.contract not in CONTRACTS:
            raise DomainError("posting_unknown_contract", field="contract", value=data.contract)
    with checks:
        if data.working_time not in WORKING_TIMES:
            raise DomainError("posting_unknown_working_time", field="working_time", value=data.working_time)
    with checks:
        for value in (data.salary_min, data.salary_max):
            if value is not None and not 0 <= value <= 1_000_000:
                raise DomainError("posting_bad_salary", field="salary")
        if data.salary_min and data.salary_max and data.salary_min > data.salary_max:
            raise DomainError("posting_bad_salary", field="salary")
    with checks:
        if data.deadline is None:
            raise DomainError("posting_deadline_required", field="deadline")
        if data.deadline < today:
            raise DomainError("posting_deadline_past", field="deadline")
    missions = _clean_text(data.missions, 10_000)
    with checks:
        if not missions:
            raise DomainError("posting_missions_required", field="missions")
    checks.raise_errors()
    return {
        "title": title,
        "communes": "\n".join(communes[:30]),
        "contract": data.contract,
        "working_time": data.working_time,
        "salary_min": data.salary_min or None,
        "salary_max": data.salary_max or None,
        "start_date": data.start_date,
        "deadline": data.deadline,
        "description": _clean_text(data.description, 20_000),
        "missions": missions,
        "anah_opah_ru": bool(data.anah_opah_ru),
    }


def _own_posting(session: Session, actor: UserInfo | None, posting_id: int, lock: bool = False) -> JobPosting:
    organisation_id = _require_recruiter(actor)
    posting = session.get(JobPosting, posting_id, with_for_update=lock) if isinstance(posting_id, int) else None
    if posting is None or posting.organisation_id != organisation_id:
        # Same answer for "does not exist" and "not yours": ids cannot be probed.
        raise DomainError("unknown_posting")
    return posting


def _organisation_name(session: Session, organisation_id: int) -> str:
    return session.scalar(select(Organisation.name).where(Organisation.id == organisation_id)) or ""


def create_posting(
    session: Session, actor: UserInfo | None, data: PostingInput, now: datetime | None = None
) -> PostingInfo:
    """A new draft posting of the recruiter's organisation."""
    now = now or utcnow()
    organisation_id = _require_recruiter(actor)
    values = validate_posting(data, paris_today(now))
    organisation = session.get_one(Organisation, organisation_id)
    posting = JobPosting(
        organisation_id=organisation_id,
        employer_kind=organisation.kind,
        department=organisation.department,
        region=territory.region_of_department(organisation.department),
        status="draft",
        created_at=now,
        updated_at=now,
        **values,
    )
    session.add(posting)
    session.flush()
    return _posting_info(posting, organisation.name)


def _check_loaded_version(posting: JobPosting, loaded_version: datetime | None) -> None:
    """A form loaded before someone else changed (or closed) the posting changes nothing."""
    if loaded_version is not None and posting.updated_at != loaded_version:
        raise DomainError("posting_changed_meanwhile")


def update_posting(
    session: Session,
    actor: UserInfo | None,
    posting_id: int,
    data: PostingInput,
    now: datetime | None = None,
    *,
    loaded_version: datetime | None = None,
) -> PostingInfo:
    """Change a draft or published posting.

    `loaded_version`: the posting's `updated_at` when the form was loaded; if it changed since (a colleague edited,
    published or closed it), nothing is saved ("posting_changed_meanwhile").
    """
    now = now or utcnow()
    posting = _own_posting(session, actor, posting_id, lock=True)
    _check_loaded_version(posting, loaded_version)
    if posting.status not in ("draft", "published"):
        raise DomainError("posting_not_editable")
    for key, value in validate_posting(data, paris_today(now)).items():
        setattr(posting, key, value)
    posting.updated_at = now
    session.flush()
    return _posting_info(posting, _organisation_name(session, posting.organisation_id))


def publish_posting(
    session: Session,
    actor: UserInfo | None,
    posting_id: int,
    now: datetime | None = None,
    *,
    data: PostingInput | None = None,
    loaded_version: datetime | None = None,
) -> None:
    """Put a draft on the public job board.

    With `data` (what the edit form shows), the draft is first saved as update_posting saves it (same checks,
    `loaded_version` included), then published, in the same transaction: the board shows exactly the form.
    """
    now = now or utcnow()
    posting = _own_posting(session, actor, posting_id, lock=True)
    _check_loaded_version(posting, loaded_version)
    if posting.status != "draft":
        raise DomainError("posting_not_draft")
    if data is not None:
        update_posting(session, actor, posting_id, data, now)
    if posting.deadline < paris_today(now):
        raise DomainError("posting_deadline_past", field="deadline")
    posting.status = "published"
    posting.published_at = now
    posting.updated_at = now
    session.flush()


def _notify_applicants(session: Session, posting: JobPosting, settings: Settings, filled: bool) -> int:
    organisation = _organisation_name(session, posting.organisation_id)
    rows = session.execute(
        select(JobApplication.id, JobApplication.email, JobApplication.full_name).where(
            JobApplication.posting_id == posting.id,
            JobApplication.status.not_in(("retiree", "non_retenue", "retenue")),
            JobApplication.email.is_not(None),
        )
    ).all()
    what = "a été pourvu" if filled else "est clos : les candidatures ne sont plus acceptées"
    for _, email, name in rows:
        if email is None:  # excluded by the query above
            raise ValueError("an applicant without an e-mail address cannot be told")
        mail.enqueue(
            session,
            recipient=email,
            subject=f"Offre « {posting.title} » : {'poste pourvu' if filled else 'candidatures closes'}",
            body=(
                f"Bonjour {name},\n\nLe poste « {posting.title} » ({organisation}) {what}.\n"
                "Vous pouvez suivre votre candidature avec le lien personnel reçu lors de son envoi.\n\n"
                "Merci de votre intérêt pour le programme Petites villes de demain."
            ),
            kind="posting_filled" if filled else "posting_closed",
        )
    if rows:
        session.execute(
            update(JobApplication)
            .where(JobApplication.id.in_([row[0] for row in rows]))
            .values(last_contact_at=utcnow())
        )
    return len(rows)


def close_posting(
    session: Session, actor: UserInfo | None, posting_id: int, settings: Settings, now: datetime | None = None
) -> int:
    """Stop accepting applications; applicants are told. Returns how many were told."""
    now = now or utcnow()
    posting = _own_posting(session, actor, posting_id, lock=True)
    if posting.status != "published":
        raise DomainError("posting_not_published")
    posting.status, posting.ended_at, posting.updated_at = "closed", now, now
    session.flush()
    return _notify_applicants(session, posting, settings, filled=False)


def mark_filled(
    session: Session, actor: UserInfo | None, posting_id: int, settings: Settings, now: datetime | None = None
) -> int:
    """Mark a published or closed posting as filled; applicants still waiting are told."""
    now = now or utcnow()
    posting = _own_posting(session, actor, posting_id, lock=True)
    if posting.status not in ("published", "closed"):
        raise DomainError("posting_not_published")
    if posting.published_at is None:
        posting.published_at = now
    posting.status, posting.ended_at, posting.updated_at = "filled", now, now
    session.flush()
    return _notify_applicants(session, posting, settings, filled=True)


def close_expired_postings(session: Session, settings: Settings, now: datetime | None = None) -> list[int]:
    """Close published postings whose deadline has passed; idempotent, safe with several servers.

    Each posting is closed by one conditional UPDATE: of two servers doing this at once, only the one
    whose UPDATE changed the row tells the applicants.
    """
    now = now or utcnow()
    today = paris_today(now)
    candidates = session.scalars(
        select(JobPosting.id).where(JobPosting.status == "published", JobPosting.deadline < today)
    ).all()
    closed = []
    for posting_id in candidates:
        result = session.execute(
            update(JobPosting)
            .where(JobPosting.id == posting_id, JobPosting.status == "published")
            .values(status="closed", ended_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if db.rowcount(result) == 1:
            closed.append(posting_id)
            posting = session.get_one(JobPosting, posting_id, populate_existing=True)
            _notify_applicants(session, posting, settings, False)
    return closed


def expired_postings_exist(session: Session, now: datetime | None = None) -> bool:
    """True when some published posting is past its deadline (a cheap read before closing them)."""
    today = paris_today(now)
    return (
        session.scalar(
            select(JobPosting.id).where(JobPosting.status == "published", JobPosting.deadline < today).limit(1)
        )
        is not None
    )


def list_own_postings(session: Session, actor: UserInfo | None) -> list[PostingInfo]:
    """The recruiter's organisation's postings, newest first, with their number of applications."""
    organisation_id = _require_recruiter(actor)
    name = _organisation_name(session, organisation_id)
    counts = (
        select(JobApplication.posting_id, func.count().label("n"))
        .join(JobPosting, JobPosting.id == JobApplication.posting_id)
        .where(JobPosting.organisation_id == organisation_id)
        .group_by(JobApplication.posting_id)
        .subquery()
    )
    rows = session.execute(
        select(JobPosting, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.posting_id == JobPosting.id)
        .where(JobPosting.organisation_id == organisation_id)
        .order_by(JobPosting.id.desc())
    ).all()
    return [_posting_info(posting, name, count) for posting, count in rows]


def get_own_posting(session: Session, actor: UserInfo | None, posting_id: int) -> PostingInfo:
    """One of the recruiter's organisation's postings."""
    posting = _own_posting(session, actor, posting_id)
    return _posting_info(posting, _organisation_name(session, posting.organisation_id))
