"""Recruitment of chefs de projet: postings, the public job board, applications with PDF uploads, the
candidate's private link, the recruiter's review pipeline, recruiter account requests and the figures
of the direction. Every function takes a Session; callers commit.

Access: a recruiter sees and changes only their own organisation's postings and applications. Any id
that is not theirs answers exactly like an id that does not exist ("unknown_posting"), so probing ids
reveals nothing. Other roles get "forbidden" for recruiter actions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
import statistics
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import nh3
import phonenumbers
from markdown_it import MarkdownIt
from pypdf import PdfReader
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvd_survey import access, accounts, disclosure, exports, mail, territory
from pvd_survey.accounts import UserInfo, normalise_email
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import (
    APPLICATION_STATUSES,
    CONTRACTS,
    ORGANISATION_KINDS,
    REJECTION_REASONS,
    ApplicationFile,
    JobApplication,
    JobPosting,
    Organisation,
    PasswordToken,
    RecruiterRequest,
    User,
    paris_time,
    utcnow,
)
from pvd_survey.survey import ImportRejected, RowError

PARIS = ZoneInfo("Europe/Paris")
TOKEN_PARAMETER = "jeton"
POSTING_PARAMETER = "offre"
PDF_MAX_BYTES = 5 * 1024 * 1024
PASSWORD_LINK_DAYS = 7
BOARD_PAGE_SIZE = 50

CONTRACT_LABELS = {
    "projet": "Contrat de projet",
    "cdd": "CDD",
    "titulaire": "Titulaire / détachement",
    "autre": "Autre",
}
WORKING_TIME_LABELS = {"complet": "Temps complet", "partiel": "Temps partiel"}
POSTING_STATUS_LABELS = {"draft": "Brouillon", "published": "Publiée", "closed": "Close", "filled": "Pourvue"}
APPLICATION_STATUS_LABELS = {
    "recue": "Reçue",
    "examen": "En cours d'examen",
    "entretien": "Entretien",
    "retenue": "Retenue",
    "non_retenue": "Non retenue",
    "retiree": "Retirée par la personne candidate",
}
# What a recruiter may move an application to (a withdrawn application is frozen).
PIPELINE_STATUSES = ("recue", "examen", "entretien", "retenue", "non_retenue")
REJECTION_REASON_LABELS = {
    "profil": "Profil ne correspondant pas",
    "pourvu": "Poste pourvu",
    "doublon": "Candidature en doublon",
    "autre": "Autre",
}
_REJECTION_SENTENCES = {
    "profil": "Après examen attentif, votre profil ne correspond pas aux besoins de ce poste.",
    "pourvu": "Le poste a été pourvu.",
    "doublon": "Nous avons reçu plusieurs candidatures de votre part pour ce poste : nous gardons la plus récente.",
    "autre": "{other}",
}

# From the programme's model job description ("modèle de fiche de poste", see the programme guide).
MODEL_MISSIONS = """\
- Participer à la conception ou à l'actualisation du projet de territoire et de sa programmation ;
- Mettre en œuvre le plan d'action opérationnel, y compris la stratégie habitat et, le cas échéant, \
le programme d'OPAH-RU ;
- Organiser le pilotage et l'animation du programme avec les partenaires (État, Banque des territoires, Anah, \
Cerema, ADEME…) ;
- Contribuer à la mise en réseau nationale et locale du programme Petites villes de demain."""
COFUNDING_TEXT = (
    "Poste cofinancé à 75 % par le programme Petites villes de demain (ANCT et Banque des territoires), dans la "
    "limite de 45 000 € par an, jusqu'à la fin du programme (décembre 2026)."
)
ANAH_TEXT = "L'Anah cofinance également le poste, qui pilote une OPAH-RU."

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})
_SAFE_NAME = re.compile(r"[^\w .()\-]+", re.UNICODE)


# ---------------------------------------------------------------------------- small helpers


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _page_link(settings: Settings, page_key: str, token: str) -> str:
    return f"{settings.base_url}/{access.PAGES_BY_KEY[page_key].url_path}?{TOKEN_PARAMETER}={token}"


def paris_today(now: datetime | None = None) -> date:
    """Today's date in France (deadlines are French calendar days)."""
    return (now or utcnow()).replace(tzinfo=ZoneInfo("UTC")).astimezone(PARIS).date()


def render_markdown(text: str) -> str:
    """Markdown turned into HTML, then sanitised (no script, no event handler, no raw HTML)."""
    return nh3.clean(_markdown.render(text or ""), link_rel="noopener noreferrer nofollow")


def _clean_text(value: str | None, limit: int) -> str:
    return (value or "").strip()[:limit]


def _one_line(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


def _require_recruiter(actor: UserInfo | None) -> int:
    if actor is None or actor.role != "recruteur" or actor.organisation_id is None:
        raise DomainError("forbidden")
    return actor.organisation_id


def _require_direction(actor: UserInfo | None) -> None:
    if actor is None or actor.role not in ("admin", "direction"):
        raise DomainError("forbidden")


# ---------------------------------------------------------------------------- postings


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
        application_count=application_count,
    )


def validate_posting(data: PostingInput, today: date) -> dict[str, object]:
    """Check a posting form; return the column values or raise the first error (with its field)."""
    title = _one_line(data.title, 200)
    if not title:
        raise DomainError("posting_title_required", field="title")
    communes = []
    for commune in data.communes or []:
        name = _one_line(commune, 100)
        if name and name not in communes:
            communes.append(name)
    if not communes:
        raise DomainError("posting_communes_required", field="communes")
    if data.contract not in CONTRACTS:
        raise DomainError("posting_unknown_contract", field="contract", value=data.contract)
    if data.working_time not in WORKING_TIME_LABELS:
        raise DomainError("posting_unknown_working_time", field="working_time", value=data.working_time)
    for value in (data.salary_min, data.salary_max):
        if value is not None and not 0 <= value <= 1_000_000:
            raise DomainError("posting_bad_salary", field="salary")
    if data.salary_min and data.salary_max and data.salary_min > data.salary_max:
        raise DomainError("posting_bad_salary", field="salary")
    if data.deadline is None:
        raise DomainError("posting_deadline_required", field="deadline")
    if data.deadline < today:
        raise DomainError("posting_deadline_past", field="deadline")
    missions = _clean_text(data.missions, 10_000)
    if not missions:
        raise DomainError("posting_missions_required", field="missions")
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
    organisation = session.get(Organisation, organisation_id)
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


def update_posting(
    session: Session, actor: UserInfo | None, posting_id: int, data: PostingInput, now: datetime | None = None
) -> PostingInfo:
    """Change a draft or published posting."""
    now = now or utcnow()
    posting = _own_posting(session, actor, posting_id, lock=True)
    if posting.status not in ("draft", "published"):
        raise DomainError("posting_not_editable")
    for key, value in validate_posting(data, paris_today(now)).items():
        setattr(posting, key, value)
    posting.updated_at = now
    session.flush()
    return _posting_info(posting, _organisation_name(session, posting.organisation_id))


def publish_posting(session: Session, actor: UserInfo | None, posting_id: int, now: datetime | None = None) -> None:
    """Put a draft on the public job board."""
    now = now or utcnow()
    posting = _own_posting(session, actor, posting_id, lock=True)
    if posting.status != "draft":
        raise DomainError("posting_not_draft")
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
        if result.rowcount == 1:
            closed.append(posting_id)
            _notify_applicants(session, session.get(JobPosting, posting_id, populate_existing=True), settings, False)
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


# ---------------------------------------------------------------------------- the public job board


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
    count = session.scalar(select(func.count()).select_from(JobPosting).where(*conditions))
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


# ---------------------------------------------------------------------------- applications


@dataclass(frozen=True)
class Upload:
    """An uploaded file as received (name given by the browser, bytes)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class ApplicationInput:
    """The application form."""

    full_name: str
    email: str
    phone: str = ""
    cv: Upload | None = None
    letter: Upload | None = None
    letter_text: str = ""
    consent_privacy: bool = False
    consent_contact: bool = False


@dataclass(frozen=True)
class ApplicationReceipt:
    """What the candidate is shown (and the token, which only goes into the e-mail)."""

    reference: str
    posting_title: str
    email: str
    token: str


def safe_display_name(name: str) -> str:
    """A file name reduced to harmless display text (never used as a path)."""
    base = unicodedata.normalize("NFC", name or "")
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    return _SAFE_NAME.sub("_", base).strip(" .")[:100] or "document.pdf"


def check_pdf(upload: Upload | None, field: str) -> Upload:
    """Refuse anything that is not a real PDF of at most 5 MB with a plain file name."""
    if upload is None:
        raise DomainError("file_required", field=field)
    name = upload.name or ""
    if "/" in name or "\\" in name or ".." in name or "\x00" in name:
        raise DomainError("file_bad_name", field=field)
    data = upload.data or b""
    if not data:
        raise DomainError("file_empty", field=field)
    if len(data) > PDF_MAX_BYTES:
        raise DomainError("file_too_large", field=field, maximum="5 Mo")
    if not data.startswith(b"%PDF-"):
        raise DomainError("file_not_pdf", field=field)
    try:
        pages = len(PdfReader(io.BytesIO(data), strict=False).pages)
    except Exception:  # pypdf raises many kinds of errors on broken files
        pages = 0
    if pages < 1:
        raise DomainError("file_broken_pdf", field=field)
    return Upload(safe_display_name(name), data)


def normalise_phone(raw: str | None) -> str | None:
    """A French or international phone number in E.164 form (None when empty)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        raise DomainError("invalid_phone", field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise DomainError("invalid_phone", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _validate_application(data: ApplicationInput) -> tuple[dict[str, object], Upload, Upload | None]:
    full_name = _one_line(data.full_name, 200)
    if not full_name:
        raise DomainError("applicant_name_required", field="full_name")
    email = normalise_email(data.email)
    phone = normalise_phone(data.phone)
    cv = check_pdf(data.cv, "cv")
    letter = check_pdf(data.letter, "letter") if data.letter is not None else None
    if not data.consent_privacy:
        raise DomainError("consent_required", field="consent_privacy")
    values = {
        "full_name": full_name,
        "email": email,
        "phone": phone,
        "cover_letter_text": _clean_text(data.letter_text, 10_000) or None,
        "consent_contact": bool(data.consent_contact),
    }
    return values, cv, letter


def _store_file(session: Session, application_id: int, kind: str, upload: Upload) -> None:
    session.execute(
        delete(ApplicationFile).where(ApplicationFile.application_id == application_id, ApplicationFile.kind == kind)
    )
    session.add(
        ApplicationFile(
            application_id=application_id,
            kind=kind,
            storage_name=str(uuid.uuid4()),
            display_name=upload.name,
            size=len(upload.data),
            content=upload.data,
        )
    )


def _new_reference() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "PVD-" + "".join(secrets.choice(alphabet) for _ in range(8))


def _send_application_link(
    session: Session, settings: Settings, email: str, name: str, title: str, reference: str, token: str, again: bool
) -> None:
    link = _page_link(settings, "application", token)
    mail.enqueue(
        session,
        recipient=email,
        subject=f"Votre candidature {reference} : {title}",
        body=(
            f"Bonjour {name},\n\n"
            + (
                "Vous avez demandé un nouveau lien pour votre candidature"
                if again
                else "Nous avons bien reçu votre candidature"
            )
            + f" au poste « {title} » (référence {reference}).\n\n"
            f"Votre lien personnel, pour suivre votre candidature, la compléter ou la retirer "
            f"(ne le transmettez pas) :\n{link}\n\n"
            "Vos données ne sont vues que par l'employeur de ce poste. Elles sont supprimées trois mois après la "
            "clôture du poste, sauf si vous avez accepté d'être contacté·e pour d'autres postes (deux ans).\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="application_received" if not again else "application_link",
        link=link,
    )


def apply(
    session: Session, posting_id: int, data: ApplicationInput, settings: Settings, now: datetime | None = None
) -> ApplicationReceipt:
    """Store an application and its PDFs, and e-mail the candidate a private link. Nothing is stored on error."""
    now = now or utcnow()
    values, cv, letter = _validate_application(data)
    posting = get_public_posting(session, posting_id, now)
    email = str(values["email"])
    existing = session.scalar(
        select(JobApplication.id).where(JobApplication.posting_id == posting.id, JobApplication.email == email)
    )
    if existing is not None:
        raise DomainError("already_applied", field="email")
    token = secrets.token_urlsafe(32)
    application = JobApplication(
        posting_id=posting.id,
        reference=_new_reference(),
        token_hash=_token_hash(token),
        status="recue",
        created_at=now,
        updated_at=now,
        last_contact_at=now,
        **values,
    )
    try:
        # UNIQUE(posting_id, email) settles two simultaneous submissions: one is stored, the other refused.
        with session.begin_nested():
            session.add(application)
            session.flush()
    except IntegrityError:
        raise DomainError("already_applied", field="email") from None
    _store_file(session, application.id, "cv", cv)
    if letter is not None:
        _store_file(session, application.id, "letter", letter)
    session.flush()
    _send_application_link(
        session, settings, email, str(values["full_name"]), posting.title, application.reference, token, False
    )
    return ApplicationReceipt(application.reference, posting.title, email, token)


def resend_application_link(session: Session, posting_id: int, email: str, settings: Settings) -> None:
    """E-mail a new private link for an existing application (the old link stops working).

    The link only goes to the address of the application, so typing someone's e-mail reveals
    nothing and changes nothing for them but a fresh link in their own mailbox.
    """
    email = normalise_email(email)
    application = session.scalar(
        select(JobApplication).where(JobApplication.posting_id == posting_id, JobApplication.email == email)
    )
    if application is None:
        return
    token = secrets.token_urlsafe(32)
    application.token_hash = _token_hash(token)
    title = session.scalar(select(JobPosting.title).where(JobPosting.id == posting_id)) or ""
    _send_application_link(
        session, settings, email, application.full_name or "", title, application.reference, token, True
    )
    session.flush()


@dataclass(frozen=True)
class CandidateView:
    """What the candidate sees through the private link."""

    reference: str
    posting_title: str
    organisation_name: str
    posting_status: str
    status: str
    created_at: datetime
    updated_at: datetime
    full_name: str | None
    email: str | None
    phone: str | None
    files: list[tuple[str, str]]  # (kind, display name)

    @property
    def status_label(self) -> str:
        """French name of the status."""
        return APPLICATION_STATUS_LABELS[self.status]

    @property
    def withdrawn(self) -> bool:
        """True once the candidate withdrew (the personal data is gone)."""
        return self.status == "retiree"


def _by_token(session: Session, token: str | None, lock: bool = False) -> JobApplication:
    if not token or len(token) > 200:
        raise DomainError("invalid_application_link")
    query = select(JobApplication).where(JobApplication.token_hash == _token_hash(token))
    application = session.scalar(query.with_for_update() if lock else query)
    if application is None:
        raise DomainError("invalid_application_link")
    return application


def candidate_view(session: Session, token: str | None) -> CandidateView:
    """The application behind a private link."""
    application = _by_token(session, token)
    posting = session.get(JobPosting, application.posting_id)
    files = session.execute(
        select(ApplicationFile.kind, ApplicationFile.display_name)
        .where(ApplicationFile.application_id == application.id)
        .order_by(ApplicationFile.kind)
    ).all()
    return CandidateView(
        application.reference,
        posting.title,
        _organisation_name(session, posting.organisation_id),
        posting.status,
        application.status,
        application.created_at,
        application.updated_at,
        application.full_name,
        application.email,
        application.phone,
        [(kind, name) for kind, name in files],
    )


def update_by_token(
    session: Session,
    token: str | None,
    phone: str | None = None,
    cv: Upload | None = None,
    letter: Upload | None = None,
    now: datetime | None = None,
) -> None:
    """The candidate completes the application: new phone number, CV or cover letter."""
    now = now or utcnow()
    new_phone = normalise_phone(phone) if phone is not None else None
    new_cv = check_pdf(cv, "cv") if cv is not None else None
    new_letter = check_pdf(letter, "letter") if letter is not None else None
    application = _by_token(session, token, lock=True)
    if application.status == "retiree":
        raise DomainError("application_withdrawn")
    posting = session.get(JobPosting, application.posting_id)
    if posting.status != "published":
        raise DomainError("posting_not_public")
    if phone is not None:
        application.phone = new_phone
    if new_cv is not None:
        _store_file(session, application.id, "cv", new_cv)
    if new_letter is not None:
        _store_file(session, application.id, "letter", new_letter)
    application.updated_at = application.last_contact_at = now
    session.flush()


def _erase_application(session: Session, application: JobApplication, now: datetime) -> None:
    session.execute(delete(ApplicationFile).where(ApplicationFile.application_id == application.id))
    application.email = None
    application.full_name = None
    application.phone = None
    application.cover_letter_text = None
    application.notes = None
    application.consent_contact = False
    application.status = "retiree"
    application.updated_at = now


def withdraw(session: Session, token: str | None, now: datetime | None = None) -> None:
    """The candidate withdraws: name, e-mail, phone, notes and files are deleted at once."""
    application = _by_token(session, token, lock=True)
    if application.status == "retiree":
        raise DomainError("application_withdrawn")
    _erase_application(session, application, now or utcnow())
    session.flush()


# ---------------------------------------------------------------------------- the recruiter's review


@dataclass(frozen=True)
class ApplicationRow:
    """An application in the recruiter's pipeline."""

    id: int
    posting_id: int
    reference: str
    full_name: str | None
    email: str | None
    phone: str | None
    status: str
    rejection_reason: str | None
    created_at: datetime
    updated_at: datetime
    notes: str | None
    cover_letter_text: str | None
    consent_contact: bool
    files: dict[str, str] = field(default_factory=dict)  # kind -> display name

    @property
    def status_label(self) -> str:
        """French name of the status."""
        return APPLICATION_STATUS_LABELS[self.status]


_ROW_COLUMNS = (
    JobApplication.id,
    JobApplication.posting_id,
    JobApplication.reference,
    JobApplication.full_name,
    JobApplication.email,
    JobApplication.phone,
    JobApplication.status,
    JobApplication.rejection_reason,
    JobApplication.created_at,
    JobApplication.updated_at,
    JobApplication.notes,
    JobApplication.cover_letter_text,
    JobApplication.consent_contact,
)


def list_applications(
    session: Session,
    actor: UserInfo | None,
    posting_id: int,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ApplicationRow]:
    """A posting's applications, oldest first, optionally one status and one page (own organisation only)."""
    posting = _own_posting(session, actor, posting_id)
    # Plain rows rather than ORM objects: a popular posting's pipeline stays fast with thousands of applications.
    conditions = [JobApplication.posting_id == posting.id]
    if status:
        conditions.append(JobApplication.status == status)
    query = select(*_ROW_COLUMNS).where(*conditions).order_by(JobApplication.created_at, JobApplication.id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = session.execute(query).all()
    files: dict[int, dict[str, str]] = {}
    if rows:
        ids = [row[0] for row in rows]
        for start in range(0, len(ids), 900):
            for application_id, kind, name in session.execute(
                select(ApplicationFile.application_id, ApplicationFile.kind, ApplicationFile.display_name).where(
                    ApplicationFile.application_id.in_(ids[start : start + 900])
                )
            ):
                files.setdefault(application_id, {})[kind] = name
    return [ApplicationRow(*row, files=files.get(row[0], {})) for row in rows]


def _own_application(session: Session, actor: UserInfo | None, application_id: int, lock: bool = False):
    organisation_id = _require_recruiter(actor)
    row = session.execute(
        select(JobApplication, JobPosting)
        .join(JobPosting, JobPosting.id == JobApplication.posting_id)
        .where(JobApplication.id == application_id, JobPosting.organisation_id == organisation_id)
    ).first()
    if row is None:
        raise DomainError("unknown_application")
    if lock:
        session.get(JobApplication, application_id, with_for_update=True)
    return row


def application_file(
    session: Session, actor: UserInfo | None, application_id: int, kind: str = "cv"
) -> tuple[str, bytes]:
    """(display name, bytes) of an application's PDF, for the recruiter of that posting only."""
    application, _ = _own_application(session, actor, application_id)
    stored = session.scalar(
        select(ApplicationFile).where(ApplicationFile.application_id == application.id, ApplicationFile.kind == kind)
    )
    if stored is None:
        raise DomainError("unknown_file")
    return stored.display_name, stored.content


def rejection_message(reason: str, posting_title: str, organisation_name: str, other: str = "") -> str:
    """The message proposed to the recruiter for a refusal (editable before it is sent)."""
    sentence = _REJECTION_SENTENCES.get(reason, "").format(other=_clean_text(other, 2000))
    return (
        f"Bonjour,\n\nNous vous remercions de votre candidature au poste « {posting_title} » "
        f"({organisation_name}).\n{sentence}\nNous ne pouvons donc pas y donner une suite favorable.\n\n"
        f"Nous vous souhaitons une pleine réussite dans vos recherches.\n\n{organisation_name}"
    )


def move_application(
    session: Session,
    actor: UserInfo | None,
    application_id: int,
    status: str,
    *,
    reason: str | None = None,
    message: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move an application in the pipeline; 'non_retenue' needs a reason and sends the candidate its message."""
    now = now or utcnow()
    application, posting = _own_application(session, actor, application_id, lock=True)
    if status not in PIPELINE_STATUSES:
        raise DomainError("unknown_application_status", value=status)
    if application.status == "retiree":
        raise DomainError("application_withdrawn")
    if status == "non_retenue":
        if reason not in REJECTION_REASONS:
            raise DomainError("rejection_reason_required", field="reason")
        text = _clean_text(message, 5000)
        if not text:
            raise DomainError("rejection_message_required", field="message")
        mail.enqueue(
            session,
            recipient=application.email,
            subject=f"Votre candidature {application.reference} : {posting.title}",
            body=text,
            kind="application_rejected",
        )
        application.rejection_reason = reason
        application.last_contact_at = now
    else:
        application.rejection_reason = None
    application.status = status
    application.updated_at = now
    session.flush()


def set_notes(session: Session, actor: UserInfo | None, application_id: int, notes: str) -> None:
    """Notes on an application, seen by the recruiter's organisation only."""
    application, _ = _own_application(session, actor, application_id, lock=True)
    application.notes = _clean_text(notes, 5000) or None
    session.flush()


EXPORT_COLUMNS = (
    "Référence",
    "Nom",
    "E-mail",
    "Téléphone",
    "Statut",
    "Motif de refus",
    "Reçue le",
    "CV",
    "Lettre (fichier)",
    "Lettre (texte)",
    "Notes",
    "Accepte d'être contacté·e",
)


def export_applications(session: Session, actor: UserInfo | None, posting_id: int, fmt: str) -> bytes:
    """A posting's applications as CSV or XLSX, every formula-like cell neutralised."""
    posting = _own_posting(session, actor, posting_id)
    rows = [
        (
            a.reference,
            a.full_name,
            a.email,
            a.phone,
            a.status_label,
            REJECTION_REASON_LABELS.get(a.rejection_reason or "", ""),
            paris_time(a.created_at),
            a.files.get("cv", ""),
            a.files.get("letter", ""),
            a.cover_letter_text,
            a.notes,
            a.consent_contact,
        )
        for a in list_applications(session, actor, posting.id)
    ]
    if fmt == "xlsx":
        return exports.table_xlsx(EXPORT_COLUMNS, rows, sheet_title=posting.title)
    if fmt == "csv":
        return exports.table_csv(EXPORT_COLUMNS, rows)
    raise DomainError("unknown_export_format", value=fmt)


# ---------------------------------------------------------------------------- recruiter accounts


@dataclass(frozen=True)
class RecruiterRequestInfo:
    """A recruiter account request as the direction sees it."""

    id: int
    email: str
    display_name: str
    organisation_name: str
    organisation_kind: str
    department: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None


def request_recruiter_account(
    session: Session,
    settings: Settings,
    *,
    email: str,
    display_name: str,
    organisation_name: str,
    organisation_kind: str,
    department: str,
    now: datetime | None = None,
) -> str:
    """Record a request and e-mail a confirmation link; returns the token (for tests: it is only e-mailed)."""
    now = now or utcnow()
    email = normalise_email(email)
    display_name = _one_line(display_name, 200)
    if not display_name:
        raise DomainError("display_name_required", field="display_name")
    organisation_name = _one_line(organisation_name, 200)
    if not organisation_name:
        raise DomainError("organisation_name_required", field="organisation_name")
    if organisation_kind not in ORGANISATION_KINDS:
        raise DomainError(
            "unknown_organisation_kind", field="kind", kind=organisation_kind, choices=", ".join(ORGANISATION_KINDS)
        )
    code = territory.normalise_department(department or "")
    if code is None:
        raise DomainError("unknown_department", field="department", department=department)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError("email_taken", field="email", email=email)
    open_request = session.scalar(
        select(RecruiterRequest.id).where(
            RecruiterRequest.email == email, RecruiterRequest.status.in_(("unconfirmed", "pending"))
        )
    )
    if open_request is not None:
        raise DomainError("recruiter_request_exists", field="email")
    token = secrets.token_urlsafe(32)
    session.add(
        RecruiterRequest(
            email=email,
            display_name=display_name,
            organisation_name=organisation_name,
            organisation_kind=organisation_kind,
            department=code,
            token_hash=_token_hash(token),
            status="unconfirmed",
            created_at=now,
        )
    )
    session.flush()
    link = _page_link(settings, "recruiter_signup", token)
    mail.enqueue(
        session,
        recipient=email,
        subject="Confirmez votre demande de compte recruteur Petites villes de demain",
        body=(
            f"Bonjour {display_name},\n\nPour confirmer votre adresse et transmettre votre demande de compte "
            f"recruteur ({organisation_name}) à la direction du programme, ouvrez ce lien :\n{link}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="recruiter_request_confirm",
        link=link,
    )
    return token


def confirm_recruiter_request(session: Session, token: str | None, now: datetime | None = None) -> str:
    """Confirm the e-mail of a request (idempotent); returns its status."""
    if not token or len(token) > 200:
        raise DomainError("invalid_request_link")
    request = session.scalar(
        select(RecruiterRequest).where(RecruiterRequest.token_hash == _token_hash(token)).with_for_update()
    )
    if request is None:
        raise DomainError("invalid_request_link")
    if request.status == "unconfirmed":
        request.status = "pending"
        request.confirmed_at = now or utcnow()
        session.flush()
    return request.status


def list_recruiter_requests(session: Session, actor: UserInfo | None) -> list[RecruiterRequestInfo]:
    """Confirmed requests waiting for a decision, oldest first."""
    _require_direction(actor)
    rows = session.scalars(
        select(RecruiterRequest).where(RecruiterRequest.status == "pending").order_by(RecruiterRequest.created_at)
    )
    return [
        RecruiterRequestInfo(
            r.id,
            r.email,
            r.display_name,
            r.organisation_name,
            r.organisation_kind,
            r.department,
            r.status,
            r.created_at,
            r.confirmed_at,
        )
        for r in rows
    ]


def _organisation_for(session: Session, name: str, kind: str, department: str) -> int:
    existing = session.scalar(
        select(Organisation.id).where(
            func.lower(Organisation.name) == name.lower(), Organisation.department == department
        )
    )
    if existing is not None:
        return existing
    return accounts.create_organisation(session, name, kind, department).id


def issue_password_link(session: Session, user_id: int, settings: Settings, now: datetime | None = None) -> str:
    """A one-time link (7 days) to choose a password; only its SHA-256 is stored."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordToken(
            user_id=user_id,
            token_hash=_token_hash(token),
            expires_at=now + timedelta(days=PASSWORD_LINK_DAYS),
            created_at=now,
        )
    )
    session.flush()
    return _page_link(settings, "set_password", token)


def _welcome_recruiter(session: Session, user: UserInfo, settings: Settings, now: datetime) -> None:
    link = issue_password_link(session, user.id, settings, now)
    mail.enqueue(
        session,
        recipient=user.email,
        subject="Votre compte recruteur Petites villes de demain",
        body=(
            f"Bonjour {user.display_name},\n\nVotre compte recruteur ({user.organisation_name}) est ouvert. "
            f"Choisissez votre mot de passe avec ce lien, valable {PASSWORD_LINK_DAYS} jours et une seule fois :\n"
            f"{link}\n\nVous pourrez ensuite publier vos offres de chef de projet et suivre les candidatures.\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="recruiter_welcome",
        link=link,
    )


def _pending_request(session: Session, actor: UserInfo | None, request_id: int) -> RecruiterRequest:
    _require_direction(actor)
    request = session.get(RecruiterRequest, request_id, with_for_update=True)
    if request is None or request.status != "pending":
        raise DomainError("unknown_recruiter_request")
    return request


def approve_recruiter_request(
    session: Session, actor: UserInfo | None, request_id: int, settings: Settings, now: datetime | None = None
) -> UserInfo:
    """Create the recruiter account (and its organisation if new), then e-mail a link to choose a password."""
    now = now or utcnow()
    request = _pending_request(session, actor, request_id)
    organisation_id = _organisation_for(
        session, request.organisation_name, request.organisation_kind, request.department
    )
    user = accounts.create_user(
        session,
        email=request.email,
        display_name=request.display_name,
        role="recruteur",
        settings=settings,
        organisation_id=organisation_id,
        notify=False,
    )
    request.status, request.decided_at = "approved", now
    _welcome_recruiter(session, user, settings, now)
    session.flush()
    return user


def refuse_recruiter_request(
    session: Session, actor: UserInfo | None, request_id: int, reason: str, now: datetime | None = None
) -> None:
    """Refuse a request; the person is told why."""
    request = _pending_request(session, actor, request_id)
    reason = _clean_text(reason, 2000)
    if not reason:
        raise DomainError("refusal_reason_required", field="reason")
    request.status, request.decided_at, request.refusal_reason = "refused", now or utcnow(), reason
    mail.enqueue(
        session,
        recipient=request.email,
        subject="Votre demande de compte recruteur Petites villes de demain",
        body=(
            f"Bonjour {request.display_name},\n\nLa direction du programme n'a pas pu donner suite à votre demande "
            f"de compte recruteur ({request.organisation_name}) :\n{reason}\n\n"
            "L'équipe du programme Petites villes de demain (ANCT)"
        ),
        kind="recruiter_refused",
    )
    session.flush()


BULK_COLUMNS = ("email", "nom", "organisation", "type", "departement")


def bulk_create_recruiters(
    session: Session, actor: UserInfo | None, text: str, settings: Settings, now: datetime | None = None
) -> list[str]:
    """Create recruiter accounts from a CSV (all rows or none); returns the e-mails created."""
    now = now or utcnow()
    _require_direction(actor)
    text = (text or "").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=";" if ";" in text.split("\n", 1)[0] else ",")
    header = [cell.strip().lower() for cell in next(reader, [])]
    if tuple(header) != BULK_COLUMNS:
        raise ImportRejected([RowError(1, f"en-tête attendu « {','.join(BULK_COLUMNS)} »")])
    rows: list[tuple[str, str, str, str, str]] = []
    errors: list[RowError] = []
    taken = set(session.scalars(select(User.email)))
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) != len(BULK_COLUMNS):
            errors.append(RowError(line, f"{len(cells)} colonnes au lieu de {len(BULK_COLUMNS)}"))
            continue
        raw_email, name, organisation, kind, department = cells
        try:
            email = normalise_email(raw_email)
        except DomainError:
            errors.append(RowError(line, f"adresse e-mail invalide ({raw_email})"))
            continue
        code = territory.normalise_department(department)
        problems = []
        if email in taken:
            problems.append(f"un compte existe déjà pour {email}")
        if email in seen:
            problems.append(f"{email} apparaît deux fois")
        if not _one_line(name, 200):
            problems.append("nom manquant")
        if not _one_line(organisation, 200):
            problems.append("organisation manquante")
        if kind not in ORGANISATION_KINDS:
            problems.append(f"type inconnu ({kind}) : {', '.join(ORGANISATION_KINDS)}")
        if code is None:
            problems.append(f"département inconnu ({department})")
        seen.add(email)
        if problems:
            errors.append(RowError(line, " ; ".join(problems)))
        else:
            rows.append((email, _one_line(name, 200), _one_line(organisation, 200), kind, code))
    if errors:
        raise ImportRejected(errors)
    if not rows:
        raise ImportRejected([RowError(2, "aucune ligne de compte")])
    created = []
    for email, name, organisation, kind, code in rows:
        organisation_id = _organisation_for(session, organisation, kind, code)
        user = accounts.create_user(
            session,
            email=email,
            display_name=name,
            role="recruteur",
            settings=settings,
            organisation_id=organisation_id,
            notify=False,
        )
        _welcome_recruiter(session, user, settings, now)
        created.append(email)
    return created


def _password_token(session: Session, token: str | None, now: datetime, lock: bool = False) -> PasswordToken:
    if not token or len(token) > 200:
        raise DomainError("invalid_password_link")
    query = select(PasswordToken).where(PasswordToken.token_hash == _token_hash(token))
    stored = session.scalar(query.with_for_update() if lock else query)
    if stored is None or stored.used_at is not None or stored.expires_at <= now:
        raise DomainError("invalid_password_link")
    return stored


def password_link_user(session: Session, token: str | None, now: datetime | None = None) -> UserInfo:
    """The account a set-password link is for (refused when used, expired or unknown)."""
    return accounts.get_user(session, _password_token(session, token, now or utcnow()).user_id)


def set_password_by_link(
    session: Session, token: str | None, password: str, settings: Settings, now: datetime | None = None
) -> UserInfo:
    """Choose a password through a one-time link; the link then stops working."""
    now = now or utcnow()
    stored = _password_token(session, token, now, lock=True)
    user = accounts.set_password(session, stored.user_id, password, settings)
    stored.used_at = now
    session.flush()
    return user


# ---------------------------------------------------------------------------- figures for the direction


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
    bucket_counts = dict(session.execute(select(bucket, func.count()).group_by(bucket)).all())
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


def pipeline_counts(session: Session, actor: UserInfo | None, posting_id: int) -> dict[str, int]:
    """Applications of a posting per status (the pipeline's header)."""
    posting = _own_posting(session, actor, posting_id)
    rows = session.execute(
        select(JobApplication.status, func.count())
        .where(JobApplication.posting_id == posting.id)
        .group_by(JobApplication.status)
    ).all()
    counts = dict.fromkeys(APPLICATION_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts
