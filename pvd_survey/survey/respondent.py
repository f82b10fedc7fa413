"""The respondent's side: opening a link, the draft, submitting, changing and withdrawing answers.

Anonymity by construction. The invitation (e-mail side) and the answers (answers side) share no id,
no foreign key and no time, and nothing here ever writes to the e-mail side: opening the link,
saving, submitting, changing and withdrawing leave the invitation row as it was (no time, no lock).
The personal link is the only bridge: its token finds the invitation through a SHA-256; the
invitation's random `respondent_salt`, hashed with the server key (settings, never the database)
under three separate purposes, gives the keys of the person's draft, waiting change and counted
answers, all sealed at a fixed size (AES-GCM, server key). Changes reach the counted answers only
through a release (survey/release.py), never in the person's own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import String, delete, literal, literal_column, select, union_all
from sqlalchemy.orm import Session

from pvd_survey import links
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.db import dialect_insert
from pvd_survey.errors import DomainError
from pvd_survey.models import AppSetting, SurveyDraft, SurveyInvitation, SurveyPool, SurveyResponse
from pvd_survey.survey.links import CLOSES_AT_KEY, SEALED_SIZES, _Refs, _refs, _seal, _unseal
from pvd_survey.survey.release import CountedRecord, _answers_from_payload, _answers_payload, open_response
from pvd_survey.survey_questions import CSV_COLUMNS, multiple_items, validate_answers


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


class _Link(NamedTuple):
    """What a valid personal link gives: the invitation's id and salt, and the survey's closing time."""

    invitation_id: int
    salt: str
    closes_at: datetime | None


def _by_token(session: Session, token: str | None, now: datetime) -> _Link:
    """The invitation of a link, with the closing time, in one read (no lock, no write: see the module)."""
    if not token or len(token) > 200:
        raise DomainError("invalid_link")
    closes = select(AppSetting.value).where(AppSetting.key == CLOSES_AT_KEY).scalar_subquery()
    row = session.execute(
        select(SurveyInvitation.id, SurveyInvitation.status, SurveyInvitation.respondent_salt, closes).where(
            SurveyInvitation.token_hash == links.token_hash(token)
        )
    ).one_or_none()
    if row is None:
        raise DomainError("invalid_link")
    invitation_id, status, salt, closes_value = row
    if status == "revoked":
        raise DomainError("revoked_link")
    closes_at = datetime.fromisoformat(closes_value) if closes_value else None
    if closes_at is not None and now >= closes_at:
        raise DomainError("survey_closed", closed=paris_time(closes_at, "%d/%m/%Y à %H:%M"))
    return _Link(invitation_id, salt, closes_at)


@dataclass(frozen=True)
class _Standing:
    """Where one person's answers are: draft, waiting change (answers, or None for a withdrawal), counted."""

    draft: dict | None
    waiting: dict | None  # {"answers": {...} or None}
    counted: CountedRecord | None

    @property
    def submitted(self) -> bool:
        if self.waiting is not None:
            return self.waiting["answers"] is not None
        return self.counted is not None


def _standing(session: Session, settings: Settings, refs: _Refs, lock: bool = False) -> _Standing:
    """The person's draft, waiting change and counted answers, in one read.

    With `lock`, first wait for a release that holds the person's waiting change, so that what is read
    after it is what that release left (a withdrawal must see answers counted a moment ago).
    """
    if lock:
        session.execute(select(SurveyPool.ref).where(SurveyPool.ref == refs.pool).with_for_update())
    rows = session.execute(
        union_all(
            select(literal("draft", String), SurveyDraft.sealed, literal("", String)).where(
                SurveyDraft.ref == refs.draft
            ),
            select(literal("pool", String), SurveyPool.sealed, literal("", String)).where(SurveyPool.ref == refs.pool),
            select(literal("counted", String), SurveyResponse.sealed, SurveyResponse.id).where(
                SurveyResponse.respondent_ref == refs.response
            ),
        )
    ).all()
    found = {kind: (sealed, row_id) for kind, sealed, row_id in rows}
    draft, pool, counted = found.get("draft"), found.get("pool"), found.get("counted")
    return _Standing(
        _unseal(settings, draft[0], refs.draft) if draft else None,
        _unseal(settings, pool[0], refs.pool) if pool else None,
        open_response(settings, counted[1], counted[0]) if counted else None,
    )


def open_survey(session: Session, token: str | None, settings: Settings, now: datetime | None = None) -> SurveySession:
    """Open the survey from a personal link: what to prefill (nothing is written)."""
    now = now or utcnow()
    link = _by_token(session, token, now)
    standing = _standing(session, settings, _refs(settings, link.salt))
    if standing.draft is not None:
        form = standing.draft
    elif standing.waiting is not None:
        answers = standing.waiting["answers"]
        form = _answers_from_payload(answers).as_form() if answers else {}
    elif standing.counted is not None:
        form = standing.counted.answers.as_form()
    else:
        form = {}
    return SurveySession(
        link.invitation_id,
        form,
        standing.submitted,
        standing.waiting is not None,
        standing.draft is not None,
        link.closes_at,
    )


def _clean_draft(raw: dict[str, object]) -> dict[str, object]:
    draft: dict[str, object] = {}
    for code in CSV_COLUMNS:
        value = raw.get(code)
        if code == "training_field":
            draft[code] = [str(v)[:40] for v in multiple_items(value)][:20]
        elif value not in (None, ""):
            draft[code] = str(value)[:40]
    return draft


def _upsert(session: Session, model: type[SurveyDraft] | type[SurveyPool], ref: str, sealed: bytes) -> bool:
    """Write the person's row in one statement (a row deleted meanwhile by a release is simply written again).

    True when the row was new. SQLite runs one writer at a time, so it is always True there: the caller's
    read before decides. PostgreSQL says which of two simultaneous clicks inserted (`xmax = 0`).
    """
    statement = dialect_insert(session, model).values(ref=ref, sealed=sealed)
    statement = statement.on_conflict_do_update(index_elements=["ref"], set_={"sealed": sealed})
    if session.get_bind().dialect.name != "postgresql":
        session.execute(statement)
        return True
    return bool(session.execute(statement.returning(literal_column("xmax = 0"))).scalar())


def save_draft(
    session: Session, token: str | None, raw: dict[str, object], settings: Settings, now: datetime | None = None
) -> datetime:
    """Keep a half-filled form on the server against the link (survives refreshes and browser restarts)."""
    now = now or utcnow()
    refs = _refs(settings, _by_token(session, token, now).salt)
    _upsert(session, SurveyDraft, refs.draft, _seal(settings, _clean_draft(raw), refs.draft, SEALED_SIZES["draft"]))
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

    Returns True the first time, False for a change. One waiting change per person (the pool's key is
    the person's keyed reference, written by one upsert), so a double click or a replay keeps one set
    of answers. The answers reach the figures with the next release, never in this transaction.
    """
    now = now or utcnow()
    answers = validate_answers(raw, today or now.date())
    refs = _refs(settings, _by_token(session, token, now).salt)
    first = not _standing(session, settings, refs).submitted
    change = {"ref": refs.response, "answers": _answers_payload(answers)}
    inserted = _upsert(session, SurveyPool, refs.pool, _seal(settings, change, refs.pool, SEALED_SIZES["pool"]))
    created = first and inserted  # of two simultaneous first clicks, only the one that wrote the row
    session.execute(delete(SurveyDraft).where(SurveyDraft.ref == refs.draft))
    return created


def withdraw(session: Session, token: str | None, settings: Settings, now: datetime | None = None) -> None:
    """Take one's answers back: they leave the figures with the next release (the draft is deleted at once)."""
    now = now or utcnow()
    if not _take_back(session, settings, _by_token(session, token, now).salt):
        raise DomainError("nothing_to_withdraw")


def _take_back(session: Session, settings: Settings, salt: str) -> bool:
    """Delete the draft and queue the withdrawal of the answers, if any; True when there were answers."""
    refs = _refs(settings, salt)
    standing = _standing(session, settings, refs, lock=True)
    session.execute(delete(SurveyDraft).where(SurveyDraft.ref == refs.draft))
    if not standing.submitted:
        return False
    if standing.counted is None:
        # Never counted: the waiting answers are simply dropped.
        session.execute(delete(SurveyPool).where(SurveyPool.ref == refs.pool))
    else:
        change = {"ref": refs.response, "answers": None}
        _upsert(session, SurveyPool, refs.pool, _seal(settings, change, refs.pool, SEALED_SIZES["pool"]))
    return True


def erase_invitation(session: Session, email: str, settings: Settings) -> int:
    """An access request's erasure: the invitation goes, and its draft and answers with it (through the pool)."""
    invitations = session.scalars(select(SurveyInvitation).where(SurveyInvitation.email == email).with_for_update())
    erased = 0
    for invitation in invitations:
        _take_back(session, settings, invitation.respondent_salt)
        session.delete(invitation)
        erased += 1
    session.flush()
    return erased


def has_answered(session: Session, settings: Settings, salt: str) -> bool:
    """Whether the person behind an invitation has answers counted or waiting (the server alone can tell)."""
    return _standing(session, settings, _refs(settings, salt)).submitted
