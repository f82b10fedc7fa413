"""The respondent's side: opening a link, the draft, submitting, changing and withdrawing answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pvd_survey.config import Settings
from pvd_survey.db import dialect_insert
from pvd_survey.errors import DomainError
from pvd_survey.models import (
    SurveyDraft,
    SurveyInvitation,
    SurveyPool,
    SurveyResponse,
    paris_time,
    utcnow,
)
from pvd_survey.survey.invitations import closing_time, is_closed
from pvd_survey.survey.links import _Refs, _refs, _seal, _token_hash, _unseal
from pvd_survey.survey.release import _answers_from_payload, _answers_of, _answers_payload, release_if_ready
from pvd_survey.survey_questions import (
    CSV_COLUMNS,
    validate_answers,
)

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
