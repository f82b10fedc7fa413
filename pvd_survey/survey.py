"""The profile survey's rules: invitations, personal links, drafts, one response per invitee,
release of the figures in groups, the survey closing date, CSV import and export. Every function
takes a Session; callers commit.

Answers are anonymous by construction: nothing stored ties an invitation (or any e-mail) to a
draft, a waiting change or counted answers; see "the respondent's side" below.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvd_survey import access, mail, territory
from pvd_survey.accounts import normalise_email
from pvd_survey.config import Settings
from pvd_survey.db import dialect_insert
from pvd_survey.disclosure import ZERO, Tally, new_record_key
from pvd_survey.errors import DomainError, french_message
from pvd_survey.models import (
    AppSetting,
    SurveyCount,
    SurveyDraft,
    SurveyInvitation,
    SurveyPool,
    SurveyRelease,
    SurveyResponse,
    paris_time,
    utcnow,
)
from pvd_survey.survey_questions import (
    COUNTED_QUESTIONS,
    CSV_COLUMNS,
    Answers,
    InvalidAnswers,
    validate_answers,
)

SURVEY_PAGE_PATH = access.PAGES_BY_KEY["survey"].url_path
TOKEN_PARAMETER = "jeton"
CLOSES_AT_KEY = "survey_closes_at"
RESPONDENTS = "_respondents"
ANSWERED_PREFIX = "_answered:"


# ---------------------------------------------------------------------------- tokens and links


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A random link token: 32 bytes (256 bits), URL-safe."""
    return secrets.token_urlsafe(32)


def survey_link(settings: Settings, token: str) -> str:
    """The personal link an invitee receives."""
    return f"{settings.base_url}/{SURVEY_PAGE_PATH}?{TOKEN_PARAMETER}={token}"


def _send_invitation(session: Session, settings: Settings, email: str, token: str, reminder: bool) -> None:
    link = survey_link(settings, token)
    closes = closing_time(session)
    deadline = f"\nLe questionnaire est ouvert jusqu'au {paris_time(closes, '%d/%m/%Y à %H:%M')}.\n" if closes else ""
    mail.enqueue(
        session,
        recipient=email,
        subject=("Rappel : " if reminder else "") + "Questionnaire sur le profil des chefs de projet PVD",
        body=(
            "Bonjour,\n\n"
            "La direction du programme Petites villes de demain (ANCT) vous invite à répondre à un court "
            "questionnaire sur votre profil de chef de projet (sept questions, deux minutes).\n\n"
            f"Votre lien personnel (ne le transmettez pas) :\n{link}\n{deadline}\n"
            "Vos réponses sont anonymes : elles sont enregistrées sans aucun lien avec votre adresse e-mail, "
            "et seul ce lien personnel permet de les retrouver. Ce message est effacé de nos serveurs dès son "
            f"envoi. La direction ne voit que des chiffres agrégés, mis à jour par groupes d'au moins "
            f"{settings.disclosure_k} réponses et légèrement perturbés, jamais un chiffre portant sur moins de "
            f"{settings.disclosure_k} personnes.\n\n"
            "L'équipe du programme Petites villes de demain"
        ),
        kind="survey_invitation",
        link=link,
    )


# ---------------------------------------------------------------------------- invitations


@dataclass(frozen=True)
class InvitationEntry:
    """One line of a pasted list or CSV of invitees."""

    line: int
    email: str
    department: str | None


@dataclass(frozen=True)
class InvitationBatch:
    """What a bulk invitation did."""

    created: list[str]
    already_invited: list[str]


@dataclass(frozen=True)
class InvitationInfo:
    """An invitation as the direction sees it (never with answers)."""

    id: int
    email: str
    department: str | None
    status: str
    sent_count: int
    created_at: datetime
    last_sent_at: datetime
    opened_at: datetime | None
    submitted_at: datetime | None


def parse_invitation_list(text: str) -> list[InvitationEntry]:
    """Read pasted e-mails or a CSV (e-mail[, department]); raise InvalidAnswers-like errors per line."""
    entries: list[InvitationEntry] = []
    errors: dict[str, DomainError] = {}
    seen: set[str] = set()
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";" if ";" in text else ",")
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() in ("email", "e-mail", "courriel", "adresse"):
            continue  # header row
        raw_email, raw_department = cells[0], (cells[1] if len(cells) > 1 else "")
        try:
            email = normalise_email(raw_email)
        except DomainError:
            errors[f"ligne {number}"] = DomainError("invalid_email_line", line=number, value=raw_email)
            continue
        department = None
        if raw_department:
            department = territory.normalise_department(raw_department)
            if department is None:
                errors[f"ligne {number}"] = DomainError("unknown_department_line", line=number, value=raw_department)
                continue
        if email in seen:
            continue
        seen.add(email)
        entries.append(InvitationEntry(number, email, department))
    if errors:
        raise InvalidAnswers(errors)
    if not entries:
        raise DomainError("no_invitees")
    return entries


def invite(session: Session, entries: list[InvitationEntry], settings: Settings) -> InvitationBatch:
    """Create one invitation per new e-mail and queue its e-mail; already invited e-mails are reported."""
    emails = [entry.email for entry in entries]
    existing = set(session.scalars(select(SurveyInvitation.email).where(SurveyInvitation.email.in_(emails))))
    created: list[str] = []
    for entry in entries:
        if entry.email in existing:
            continue
        token = new_token()
        try:
            with session.begin_nested():
                session.add(
                    SurveyInvitation(
                        email=entry.email,
                        department=entry.department,
                        token_hash=_token_hash(token),
                        respondent_salt=secrets.token_hex(32),
                    )
                )
                session.flush()
        except IntegrityError:
            existing.add(entry.email)  # invited a moment ago by someone else
            continue
        _send_invitation(session, settings, entry.email, token, reminder=False)
        created.append(entry.email)
    return InvitationBatch(created, sorted(existing))


def _invitation(session: Session, invitation_id: int) -> SurveyInvitation:
    invitation = session.get(SurveyInvitation, invitation_id, with_for_update=True)
    if invitation is None:
        raise DomainError("unknown_invitation")
    return invitation


def revoke(session: Session, invitation_id: int) -> None:
    """Make an invitation's link unusable (a submitted response is kept)."""
    _invitation(session, invitation_id).status = "revoked"


def reactivate(session: Session, invitation_id: int, settings: Settings) -> None:
    """Undo a revocation: a fresh link is sent (the old one stays dead)."""
    invitation = _invitation(session, invitation_id)
    if invitation.status != "revoked":
        raise DomainError("invitation_not_revoked")
    invitation.status = "active"
    resend(session, invitation_id, settings)


def resend(session: Session, invitation_id: int, settings: Settings) -> None:
    """Send the invitation again with a new link; the previous link stops working, the draft and answers stay."""
    invitation = _invitation(session, invitation_id)
    if invitation.status == "revoked":
        raise DomainError("invitation_revoked")
    token = new_token()
    invitation.token_hash = _token_hash(token)
    invitation.sent_count += 1
    invitation.last_sent_at = utcnow()
    _send_invitation(session, settings, invitation.email, token, reminder=True)


def list_invitations(session: Session) -> list[InvitationInfo]:
    """Every invitation, newest first."""
    rows = session.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id.desc()))
    return [
        InvitationInfo(
            i.id,
            i.email,
            i.department,
            i.status,
            i.sent_count,
            i.created_at,
            i.last_sent_at,
            i.opened_at,
            i.submitted_at,
        )
        for i in rows
    ]


# ---------------------------------------------------------------------------- closing date


def closing_time(session: Session) -> datetime | None:
    """When the survey closes (UTC), if a date was set."""
    setting = session.get(AppSetting, CLOSES_AT_KEY)
    return datetime.fromisoformat(setting.value) if setting and setting.value else None


def set_closing_time(session: Session, closes_at: datetime | None) -> None:
    """Set (or remove, with None) the moment the survey stops accepting answers."""
    setting = session.get(AppSetting, CLOSES_AT_KEY)
    value = closes_at.isoformat() if closes_at else None
    if setting is None:
        session.add(AppSetting(key=CLOSES_AT_KEY, value=value))
    else:
        setting.value = value
    session.flush()


def is_closed(session: Session, now: datetime | None = None) -> bool:
    """True once the closing time has passed."""
    closes = closing_time(session)
    return closes is not None and (now or utcnow()) >= closes


# ---------------------------------------------------------------------------- the respondent's side
#
# Anonymity by construction. The invitation (e-mail side) and the answers (answers side) share no id,
# no foreign key and no time. The personal link is the only bridge: its token finds the invitation
# through a SHA-256; the invitation's random `respondent_salt`, hashed with the server key (settings,
# never the database) under three separate purposes, gives the keys of the person's draft, waiting
# change and counted answers. Drafts and waiting changes are sealed (AES-GCM, server key), so the
# order in which rows were written says nothing. Counted answers only change when at least k changes
# wait: they are then applied together, in shuffled order, with new random ids (see _release).


@dataclass(frozen=True)
class SurveySession:
    """What the survey page needs after opening a link: previous answers or draft to prefill."""

    invitation_id: int
    form: dict[str, object]
    submitted: bool
    # True when the person's last change waits for the next release of the figures.
    pending: bool
    has_draft: bool
    closes_at: datetime | None


@dataclass(frozen=True)
class _Refs:
    """The keyed hashes that find one person's rows on the answers side."""

    draft: str
    pool: str
    response: str


def _purpose_key(settings: Settings, purpose: str) -> bytes:
    return hmac.new(settings.secret_key.encode("utf-8"), f"pvd-survey/{purpose}".encode(), hashlib.sha256).digest()


def _refs(settings: Settings, salt: str) -> _Refs:
    def keyed(purpose: str) -> str:
        return hmac.new(_purpose_key(settings, purpose), salt.encode("ascii"), hashlib.sha256).hexdigest()

    return _Refs(keyed("draft"), keyed("pool"), keyed("response"))


def _seal(settings: Settings, payload: dict, ref: str) -> bytes:
    """Encrypt a draft or a waiting change, bound to its row's key (a sealed value moved elsewhere won't open)."""
    nonce = secrets.token_bytes(12)
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return nonce + AESGCM(_purpose_key(settings, "seal")).encrypt(nonce, data, ref.encode("ascii"))


def _unseal(settings: Settings, sealed: bytes, ref: str) -> dict:
    try:
        data = AESGCM(_purpose_key(settings, "seal")).decrypt(sealed[:12], sealed[12:], ref.encode("ascii"))
    except InvalidTag as error:
        raise DomainError("survey_key_mismatch") from error
    return json.loads(data)


def _by_token(session: Session, token: str | None, now: datetime, lock: bool = False) -> SurveyInvitation:
    if not token or len(token) > 200:
        raise DomainError("invalid_link")
    query = select(SurveyInvitation).where(SurveyInvitation.token_hash == _token_hash(token))
    invitation = session.scalar(query.with_for_update() if lock else query)
    if invitation is None:
        raise DomainError("invalid_link")
    if invitation.status == "revoked":
        raise DomainError("revoked_link")
    if is_closed(session, now):
        raise DomainError("survey_closed", closed=paris_time(closing_time(session), "%d/%m/%Y à %H:%M"))
    return invitation


def _answers_of(response: SurveyResponse) -> Answers:
    return Answers(
        response.start_month,
        response.employer,
        response.gender,
        response.experience,
        response.diploma,
        tuple(response.training_field.split("|")) if response.training_field else (),
        response.department,
    )


def _answers_payload(answers: Answers) -> dict[str, object]:
    return {code: getattr(answers, code) for code in CSV_COLUMNS} | {"training_field": list(answers.training_field)}


def _answers_from_payload(payload: dict) -> Answers:
    return Answers(**{**payload, "training_field": tuple(payload["training_field"])})


@dataclass(frozen=True)
class _Standing:
    """Where one person's answers are: draft, waiting change (answers, or None for a withdrawal), counted."""

    draft: dict | None
    waiting: dict | None  # {"answers": {...} or None}
    counted: SurveyResponse | None

    @property
    def submitted(self) -> bool:
        if self.waiting is not None:
            return self.waiting["answers"] is not None
        return self.counted is not None


def _standing(session: Session, settings: Settings, refs: _Refs) -> _Standing:
    draft = session.get(SurveyDraft, refs.draft)
    waiting = session.get(SurveyPool, refs.pool)
    counted = session.scalar(select(SurveyResponse).where(SurveyResponse.respondent_ref == refs.response))
    return _Standing(
        _unseal(settings, draft.sealed, refs.draft) if draft else None,
        _unseal(settings, waiting.sealed, refs.pool) if waiting else None,
        counted,
    )


def open_survey(session: Session, token: str | None, settings: Settings, now: datetime | None = None) -> SurveySession:
    """Open the survey from a personal link: records the first opening, returns what to prefill."""
    now = now or utcnow()
    invitation = _by_token(session, token, now)
    if invitation.opened_at is None:
        session.execute(
            update(SurveyInvitation)
            .where(SurveyInvitation.id == invitation.id, SurveyInvitation.opened_at.is_(None))
            .values(opened_at=now)
        )
    standing = _standing(session, settings, _refs(settings, invitation.respondent_salt))
    if standing.draft is not None:
        form = standing.draft
    elif standing.waiting is not None:
        answers = standing.waiting["answers"]
        form = _answers_from_payload(answers).as_form() if answers else {}
    elif standing.counted is not None:
        form = _answers_of(standing.counted).as_form()
    else:
        form = {}
    return SurveySession(
        invitation.id,
        form,
        standing.submitted,
        standing.waiting is not None,
        standing.draft is not None,
        closing_time(session),
    )


def _clean_draft(raw: dict[str, object]) -> dict[str, object]:
    draft: dict[str, object] = {}
    for code in CSV_COLUMNS:
        value = raw.get(code)
        if code == "training_field":
            draft[code] = [str(v)[:40] for v in (value or [])][:20]
        elif value not in (None, ""):
            draft[code] = str(value)[:40]
    return draft


def _upsert(session: Session, model: type[SurveyDraft] | type[SurveyPool], ref: str, sealed: bytes) -> None:
    # One statement, so that a row deleted at the same moment by a release is simply written again.
    statement = dialect_insert(session, model).values(ref=ref, sealed=sealed)
    session.execute(statement.on_conflict_do_update(index_elements=["ref"], set_={"sealed": sealed}))


def save_draft(
    session: Session, token: str | None, raw: dict[str, object], settings: Settings, now: datetime | None = None
) -> datetime:
    """Keep a half-filled form on the server against the link (survives refreshes and browser restarts)."""
    now = now or utcnow()
    invitation = _by_token(session, token, now, lock=True)
    refs = _refs(settings, invitation.respondent_salt)
    _upsert(session, SurveyDraft, refs.draft, _seal(settings, _clean_draft(raw), refs.draft))
    return now


def submit(
    session: Session,
    token: str | None,
    raw: dict[str, object],
    settings: Settings,
    today: date | None = None,
    now: datetime | None = None,
) -> bool:
    """Validate the answers of a link and put them in the release pool; later submissions replace them.

    Returns True the first time, False for a change. The invitation row is locked first, so a double
    click or a replay keeps one set of answers.
    """
    now = now or utcnow()
    answers = validate_answers(raw, today or now.date())
    invitation = _by_token(session, token, now, lock=True)
    refs = _refs(settings, invitation.respondent_salt)
    created = not _standing(session, settings, refs).submitted
    change = {"ref": refs.response, "answers": _answers_payload(answers)}
    _upsert(session, SurveyPool, refs.pool, _seal(settings, change, refs.pool))
    session.execute(delete(SurveyDraft).where(SurveyDraft.ref == refs.draft))
    if invitation.submitted_at is None:
        invitation.submitted_at = now
    session.flush()
    release_if_ready(session, settings, now)
    return created


def withdraw(session: Session, token: str | None, settings: Settings, now: datetime | None = None) -> None:
    """Take one's answers back: they leave the figures with the next release (the draft is deleted at once)."""
    now = now or utcnow()
    invitation = _by_token(session, token, now, lock=True)
    if not _take_back(session, settings, invitation):
        raise DomainError("nothing_to_withdraw")
    invitation.submitted_at = None
    session.flush()
    release_if_ready(session, settings, now)


def _take_back(session: Session, settings: Settings, invitation: SurveyInvitation) -> bool:
    """Delete the draft and queue the withdrawal of the answers, if any; True when there were answers."""
    refs = _refs(settings, invitation.respondent_salt)
    standing = _standing(session, settings, refs)
    session.execute(delete(SurveyDraft).where(SurveyDraft.ref == refs.draft))
    if not standing.submitted:
        return False
    if standing.counted is None:
        # Never counted: the waiting answers are simply dropped.
        session.execute(delete(SurveyPool).where(SurveyPool.ref == refs.pool))
    else:
        change = {"ref": refs.response, "answers": None}
        _upsert(session, SurveyPool, refs.pool, _seal(settings, change, refs.pool))
    return True


def erase_invitation(session: Session, email: str, settings: Settings) -> int:
    """An access request's erasure: the invitation goes, and its draft and answers with it (through the pool)."""
    invitations = session.scalars(select(SurveyInvitation).where(SurveyInvitation.email == email).with_for_update())
    erased = 0
    for invitation in invitations:
        _take_back(session, settings, invitation)
        session.delete(invitation)
        erased += 1
    session.flush()
    release_if_ready(session, settings)
    return erased


# ---------------------------------------------------------------------------- release in groups


@dataclass(frozen=True)
class ReleaseState:
    """What the dashboard says about the figures' last move and the answers still waiting."""

    released_at: datetime | None
    last_group_size: int
    waiting: int
    k: int


def release_state(session: Session, k: int) -> ReleaseState:
    """When the figures last changed, and how many changes wait for the next group."""
    state = session.get(SurveyRelease, 1)
    waiting = session.scalar(select(func.count()).select_from(SurveyPool)) or 0
    if state is None:
        return ReleaseState(None, 0, waiting, k)
    return ReleaseState(state.released_at, state.last_group_size, waiting, k)


def release_if_ready(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Apply the waiting changes to the counted answers once at least k wait; returns how many were applied.

    Runs in the transaction of the submission that completes the group. The release row is locked
    first, so two submissions never apply the same changes twice.
    """
    state = session.get(SurveyRelease, 1, with_for_update=True)
    if state is None:  # (its row was deleted by hand: written again once, even by two submissions at once)
        statement = dialect_insert(session, SurveyRelease)
        session.execute(statement.values(id=1, groups=0, last_group_size=0).on_conflict_do_nothing())
        state = session.get(SurveyRelease, 1, with_for_update=True, populate_existing=True)
    waiting = session.execute(select(SurveyPool.ref, SurveyPool.sealed)).all()
    if len(waiting) < settings.disclosure_k:
        return 0
    changes = [_unseal(settings, sealed, ref) for ref, sealed in waiting]
    _SHUFFLE.shuffle(changes)
    refs = [change["ref"] for change in changes if change["ref"]]
    deltas: dict[tuple, Tally] = defaultdict(lambda: ZERO)
    replaced = session.scalars(select(SurveyResponse).where(SurveyResponse.respondent_ref.in_(refs))).all()
    for response in replaced:
        _count_deltas(_answers_of(response), Tally(-1, -response.record_key), deltas)
    if replaced:
        session.execute(delete(SurveyResponse).where(SurveyResponse.id.in_([r.id for r in replaced])))
    rows = []
    for change in changes:
        if change["answers"] is None:
            continue  # a withdrawal: the old answers are gone
        answers = _answers_from_payload(change["answers"])
        row = _response_row(answers, "invitation" if change["ref"] else "import", change["ref"])
        _count_deltas(answers, Tally(1, row["record_key"]), deltas)
        rows.append(row)
    # Core inserts on the table: the ORM's bulk path costs more than the rows themselves here.
    for start in range(0, len(rows), 5000):
        session.connection().execute(SurveyResponse.__table__.insert(), rows[start : start + 5000])
    session.execute(delete(SurveyPool).where(SurveyPool.ref.in_([ref for ref, _ in waiting])))
    _add_counts(session, deltas)
    # To the minute: what the dashboard shows, and no exact time to match against a first submission.
    state.released_at = (now or utcnow()).replace(second=0, microsecond=0)
    state.last_group_size = len(changes)
    state.groups += 1
    session.flush()
    return len(changes)


_SHUFFLE = random.SystemRandom()


def _response_row(answers: Answers, source: str, respondent_ref: str | None) -> dict[str, object]:
    """A new counted row: random id and record key, so neither follows the order of submissions."""
    return {
        "id": secrets.token_hex(16),
        "source": source,
        "respondent_ref": respondent_ref,
        "record_key": new_record_key(),
        **_response_values(answers),
    }


def _count_keys(answers: Answers) -> list[tuple[str, str]]:
    keys = [(RESPONDENTS, "")]
    for question in COUNTED_QUESTIONS:
        if question.kind == "multiple":
            keys += [(question.code, option) for option in answers.training_field]
            if answers.training_field:
                keys.append((ANSWERED_PREFIX + question.code, ""))
        else:
            keys.append((question.code, getattr(answers, question.code) or ""))
    return keys


def _add_counts(session: Session, deltas: dict[tuple, Tally]) -> None:
    """Add (or subtract) counts and key sums in the pre-aggregated table with one atomic upsert per cell."""
    rows = [
        {
            "question": q,
            "region": r,
            "department": d,
            "employer": e,
            "start_period": p,
            "option": o,
            "count": tally.count,
            "key_sum": tally.key_sum,
        }
        for (q, r, d, e, p, o), tally in sorted(deltas.items())
        if tally != ZERO
    ]
    if not rows:
        return
    # Core insert on the table (not the ORM bulk path): ~100 rows per answer, executed as one batch.
    table = SurveyCount.__table__
    statement = dialect_insert(session, table)
    session.connection().execute(
        statement.on_conflict_do_update(
            index_elements=["region", "department", "employer", "start_period", "question", "option"],
            set_={
                "count": table.c.count + statement.excluded.count,
                "key_sum": table.c.key_sum + statement.excluded.key_sum,
            },
        ),
        rows,
    )


ALL = "*"


def _rollup_keys(region: str, department: str, employer: str, period: str) -> list[tuple[str, str, str, str]]:
    """The key of a response and all its roll-ups ('*' = all)."""
    places = [(region, department), (region, ALL), (ALL, ALL)]
    return [(r, d, e, p) for r, d in places for e in (employer, ALL) for p in (period, ALL)]


def _count_deltas(answers: Answers, tally: Tally, deltas: dict[tuple, Tally]) -> None:
    keys = _rollup_keys(
        answers.region or "", answers.department or "", answers.employer or "", answers.start_period or ""
    )
    for question, option in _count_keys(answers):
        for key in keys:
            deltas[(question, *key, option)] += tally


def _response_values(answers: Answers) -> dict[str, object]:
    return {
        "start_month": answers.start_month,
        "start_period": answers.start_period,
        "employer": answers.employer,
        "gender": answers.gender,
        "experience": answers.experience,
        "diploma": answers.diploma,
        "training_field": "|".join(answers.training_field),
        "department": answers.department,
        "region": answers.region,
    }


# ---------------------------------------------------------------------------- CSV import and export


@dataclass(frozen=True)
class RowError:
    """A bad line of an imported file."""

    line: int
    reason: str


class ImportRejected(DomainError):
    """The file has bad rows: nothing was imported."""

    def __init__(self, errors: list[RowError]):
        super().__init__("import_rejected", count=len(errors))
        self.errors = errors


def read_responses_csv(text: str, today: date) -> list[Answers]:
    """Parse and validate a whole responses file; raise ImportRejected listing every bad row."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise ImportRejected([RowError(1, "fichier vide : la première ligne doit nommer les colonnes")])
    header = [cell.strip() for cell in header]
    if tuple(header) != CSV_COLUMNS:
        expected = ",".join(CSV_COLUMNS)
        raise ImportRejected([RowError(1, f"en-tête attendu « {expected} », trouvé « {','.join(header)} »")])
    answers: list[Answers] = []
    errors: list[RowError] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_COLUMNS):
            errors.append(RowError(line, f"{len(row)} colonnes au lieu de {len(CSV_COLUMNS)}"))
            continue
        raw: dict[str, object] = dict(zip(CSV_COLUMNS, row, strict=True))
        raw["training_field"] = [v for v in str(raw["training_field"]).split("|") if v.strip()]
        try:
            answers.append(validate_answers(raw, today, required=False))
        except InvalidAnswers as invalid:
            reasons = "; ".join(f"{code} : {french_message(error)}" for code, error in invalid.errors.items())
            errors.append(RowError(line, reasons))
    if errors:
        raise ImportRejected(errors)
    return answers


def import_responses(session: Session, answers: list[Answers], settings: Settings, now: datetime | None = None) -> int:
    """Add already validated past answers to the release pool (sealed), then release if a group is complete."""
    for answer in answers:
        ref = secrets.token_hex(32)  # imported answers have no link: a random key, found by nobody
        change = {"ref": None, "answers": _answers_payload(answer)}
        session.add(SurveyPool(ref=ref, sealed=_seal(settings, change, ref)))
    session.flush()
    release_if_ready(session, settings, now)
    return len(answers)


def export_responses_csv(session: Session) -> str:
    """Every response in the import format (raw anonymous answers, in a neutral order)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    columns = [getattr(SurveyResponse, code) for code in CSV_COLUMNS]
    # Sorted by the answers themselves: neither ids nor times, so rows cannot be matched to invitations.
    for row in session.execute(select(*columns).order_by(*columns)):
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


def recount(session: Session) -> int:
    """Rebuild the pre-aggregated counts from the responses (repair tool; also used by the benchmark).

    The finest cells are grouped from the responses, then every roll-up is summed from them.
    """
    session.execute(delete(SurveyCount))
    dims = [
        func.coalesce(getattr(SurveyResponse, name), "")
        for name in ("region", "department", "employer", "start_period")
    ]

    def finest(question: str, option: str = "", column=None, where=None):
        # Literals are rendered inline so that PostgreSQL knows their type in INSERT ... SELECT.
        option_expr = func.coalesce(column, "") if column is not None else literal(option, literal_execute=True)
        query = select(
            literal(question, literal_execute=True),
            *dims,
            option_expr,
            func.count(),
            func.sum(SurveyResponse.record_key),
        ).group_by(*dims)
        if column is not None:
            query = query.group_by(option_expr)
        return query.where(where) if where is not None else query

    queries = [finest(RESPONDENTS)]
    for question in COUNTED_QUESTIONS:
        if question.kind == "multiple":
            padded = literal("|") + SurveyResponse.training_field + literal("|")
            queries += [
                finest(question.code, option, where=padded.like(f"%|{option}|%")) for option in question.options
            ]
            queries.append(finest(ANSWERED_PREFIX + question.code, where=SurveyResponse.training_field != ""))
        else:
            queries.append(finest(question.code, column=getattr(SurveyResponse, question.code)))
    target = ["question", "region", "department", "employer", "start_period", "option", "count", "key_sum"]
    for query in queries:
        session.execute(insert(SurveyCount).from_select(target, query))

    # Roll-ups, summed from the finest cells (read before any roll-up row exists).
    star = literal(ALL, literal_execute=True)
    c = SurveyCount
    finest_rows = (c.region != ALL) & (c.department != ALL) & (c.employer != ALL) & (c.start_period != ALL)
    levels = []
    for place in ("finest", "region", "country"):
        for all_employers in (False, True):
            for all_periods in (False, True):
                if place == "finest" and not all_employers and not all_periods:
                    continue
                levels.append((place, all_employers, all_periods))
    selects = []
    for place, all_employers, all_periods in levels:
        region = star if place == "country" else c.region
        department = c.department if place == "finest" else star
        employer = star if all_employers else c.employer
        period = star if all_periods else c.start_period
        group = [c.question, *(col for col in (region, department, employer, period) if col is not star), c.option]
        selects.append(
            select(c.question, region, department, employer, period, c.option, func.sum(c.count), func.sum(c.key_sum))
            .where(finest_rows)
            .group_by(*group)
        )
    for query in selects:
        session.execute(insert(SurveyCount).from_select(target, query))
    return session.scalar(select(func.count()).select_from(SurveyCount))
