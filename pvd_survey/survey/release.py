"""Release in groups, on a schedule: waiting changes reach the counted answers and the totals together.

New, changed and withdrawn answers wait sealed in the pool. They are released by the background work
(`schedule.run_due_work`: each app process's thread, `send-mail`), never by a submission: only at the
schedule's moments (every `PVD_SURVEY_RELEASE_MINUTES` minutes on the clock, UTC), only once at least
k changes wait, in a transaction of their own. No single submission decides when the figures move,
and the release's rows share no transaction, time or order with any submission.

A release applies the group in shuffled order: the person's old counted answers (if any) leave the
totals, the new ones are sealed into rows with random ids and new record keys, and a new sealed
snapshot of the totals is written (survey/totals.py).
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from pvd_survey.clock import utcnow
from pvd_survey.config import Settings
from pvd_survey.db import dialect_insert
from pvd_survey.disclosure import KEY_SPACE, new_record_key
from pvd_survey.errors import DomainError
from pvd_survey.models import SurveyPool, SurveyRelease, SurveyReleaseLog, SurveyResponse
from pvd_survey.survey import totals as totals_store
from pvd_survey.survey.links import SEALED_SIZES, _seal, _unseal
from pvd_survey.survey.totals import ANSWERED_PREFIX, LINK_RESPONDENTS, RESPONDENTS, Totals
from pvd_survey.survey_questions import CSV_COLUMNS, Answers

log = logging.getLogger(__name__)

__all__ = ["ANSWERED_PREFIX", "LINK_RESPONDENTS", "RESPONDENTS"]

_SHUFFLE = random.SystemRandom()
_BATCH = 5000


def _answers_payload(answers: Answers) -> dict[str, object]:
    return {code: getattr(answers, code) for code in CSV_COLUMNS} | {"training_field": list(answers.training_field)}


def _answers_from_payload(payload: dict) -> Answers:
    return Answers(**{**payload, "training_field": tuple(payload["training_field"])})


@dataclass(frozen=True)
class CountedRecord:
    """One counted set of answers, opened with the server key."""

    answers: Answers
    record_key: int
    linked: bool  # given through a personal link (False: imported)


def seal_response(settings: Settings, record: CountedRecord, respondent_ref: str | None) -> dict[str, object]:
    """A new survey_response row: random id, the answers sealed at a fixed size and bound to that id."""
    row_id = secrets.token_hex(16)
    payload = {"answers": _answers_payload(record.answers), "record_key": record.record_key, "linked": record.linked}
    return {
        "id": row_id,
        "respondent_ref": respondent_ref,
        "sealed": _seal(settings, payload, row_id, SEALED_SIZES["response"]),
    }


def open_response(settings: Settings, row_id: str, sealed: bytes) -> CountedRecord:
    """Open a counted row; DomainError('survey_key_mismatch') if it was sealed by another key or changed."""
    payload = _unseal(settings, sealed, row_id)
    return CountedRecord(_answers_from_payload(payload["answers"]), int(payload["record_key"]), bool(payload["linked"]))


# ---------------------------------------------------------------------------- the schedule


def release_moment(now: datetime, minutes: int) -> datetime:
    """The latest moment of the schedule at or before `now` (UTC, naive): a multiple of `minutes` since midnight."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = int((now - midnight).total_seconds() // 60)
    return midnight + timedelta(minutes=elapsed - elapsed % minutes)


@dataclass(frozen=True)
class ReleaseState:
    """What the dashboard says about the figures' last move, and what the operator's tools say of the pool."""

    released_at: datetime | None
    groups: int
    waiting: int
    k: int
    next_moment: datetime


def release_state(session: Session, settings: Settings, now: datetime | None = None) -> ReleaseState:
    """When the figures last moved, the next moment they may move, and (for the operator) how many changes wait."""
    now = now or utcnow()
    state = session.get(SurveyRelease, 1)
    waiting = session.scalar(select(func.count()).select_from(SurveyPool)) or 0
    minutes = settings.survey_release_minutes
    next_moment = release_moment(now, minutes) + timedelta(minutes=minutes)
    if state is None:
        return ReleaseState(None, 0, waiting, settings.disclosure_k, next_moment)
    return ReleaseState(state.released_at, state.groups, waiting, settings.disclosure_k, next_moment)


def _locked_state(session: Session) -> SurveyRelease:
    state = session.get(SurveyRelease, 1, with_for_update=True)
    if state is None:  # (a new database, or its row deleted by hand: written once, even by two servers at once)
        statement = dialect_insert(session, SurveyRelease)
        session.execute(statement.values(id=1, groups=0, last_group_size=0).on_conflict_do_nothing())
        state = session.get_one(SurveyRelease, 1, with_for_update=True, populate_existing=True)
    return state


# ---------------------------------------------------------------------------- releasing


@dataclass(frozen=True)
class ReleaseReport:
    """What one release did."""

    applied: int
    refused: int  # sealed rows that did not open (another key, or changed by hand): left aside, never counted


def release_due(
    session: Session, settings: Settings, now: datetime | None = None, force: bool = False
) -> ReleaseReport:
    """Release the waiting changes at the first pass after a moment of the schedule, if at least k wait then.

    `force` releases at once (at least k still needed): imports, which carry no link, and operators' tools.
    The release row is locked first, so two servers never apply the same changes twice.
    """
    now = now or utcnow()
    moment = release_moment(now, settings.survey_release_minutes)
    # A cheap look first (every background pass calls this): no lock when this moment was already looked at.
    looked = session.scalar(select(SurveyRelease.looked_at).where(SurveyRelease.id == 1))
    if not force and looked is not None and looked >= moment:
        return ReleaseReport(0, 0)
    state = _locked_state(session)
    if not force:
        if state.looked_at is not None and state.looked_at >= moment:
            return ReleaseReport(0, 0)
        # Only the first pass after a moment may release: with fewer than k waiting then, the group waits for
        # the next moment, even if the k-th answer comes a minute later (it would decide when figures move).
        state.looked_at = moment
        session.flush()
    if (session.scalar(select(func.count()).select_from(SurveyPool)) or 0) < settings.disclosure_k:
        return ReleaseReport(0, 0)
    # Locked too: a person changing their answers during the release waits for it, then writes a new change.
    pool = session.execute(select(SurveyPool.ref, SurveyPool.sealed).with_for_update()).all()
    changes: list[tuple[str, dict]] = []
    refused = 0
    for ref, sealed in pool:
        try:
            changes.append((ref, _unseal(settings, sealed, ref)))
        except DomainError:
            refused += 1
    replaced: dict[str, tuple[str, CountedRecord]] = {}
    response_refs = [change["ref"] for _, change in changes if change["ref"]]
    for start in range(0, len(response_refs), _BATCH):
        rows = session.execute(
            select(SurveyResponse.id, SurveyResponse.respondent_ref, SurveyResponse.sealed).where(
                SurveyResponse.respondent_ref.in_(response_refs[start : start + _BATCH])
            )
        )
        for row_id, respondent_ref, sealed in rows:
            if respondent_ref is None:  # matched by the IN above
                raise ValueError("a counted row found by its respondent reference has none")
            try:
                replaced[respondent_ref] = (row_id, open_response(settings, row_id, sealed))
            except DomainError:
                # Counted answers that do not open cannot be taken out of the totals: that person's change
                # stays waiting, and the row is reported rather than guessed at.
                refused += 1
                changes = [(ref, change) for ref, change in changes if change["ref"] != respondent_ref]
    if refused:
        log.error("survey release: %d sealed row(s) could not be opened (another key or changed): not counted", refused)
    # Imported answers (no link: `ref` None) never complete a group of people answering through their links:
    # the direction may know them (it handed the file over), and k - 1 of them beside one answer would make
    # that release one person's answers. A group is k changes from links, or imports alone.
    linked = sum(1 for _, change in changes if change["ref"] is not None)
    if len(changes) < settings.disclosure_k or 0 < linked < settings.disclosure_k:
        return ReleaseReport(0, refused)
    _SHUFFLE.shuffle(changes)
    applied = _apply(session, settings, [change for _, change in changes], replaced, moment)
    session.execute(delete(SurveyPool).where(SurveyPool.ref.in_([ref for ref, _ in changes])))
    # The schedule's moment, not the clock: what the dashboard shows says nothing a submission decided.
    state.released_at = moment
    if state.looked_at is None or state.looked_at < moment:  # (a forced release: this slot is looked at too)
        state.looked_at = moment
    state.last_group_size = len(changes)
    state.groups += 1
    session.flush()
    return ReleaseReport(applied, refused)


def _apply(
    session: Session,
    settings: Settings,
    changes: list[dict],
    replaced: dict[str, tuple[str, CountedRecord]],
    moment: datetime,
) -> int:
    """Apply changes (already shuffled) to the counted rows and the totals, and log the release."""
    totals = totals_store.current_totals(session, settings).copy()
    for _, record in replaced.values():
        totals.add(record.answers, record.record_key, record.linked, sign=-1)
    if replaced:
        session.execute(
            delete(SurveyResponse).where(SurveyResponse.id.in_([row_id for row_id, _ in replaced.values()]))
        )
    rows = []
    new_respondents = new_key_sum = 0
    for change in changes:
        if change["answers"] is None:
            continue  # a withdrawal: the old answers are gone
        record = CountedRecord(_answers_from_payload(change["answers"]), new_record_key(), change["ref"] is not None)
        rows.append(seal_response(settings, record, change["ref"]))
        totals.add(record.answers, record.record_key, record.linked)
        if record.linked and change["ref"] not in replaced:
            new_respondents += 1
            new_key_sum += record.record_key
    _insert_rows(session, rows)
    totals_store.store(session, settings, totals)
    session.add(
        SurveyReleaseLog(
            released_at=moment,
            changes=len(changes),
            new_respondents=new_respondents,
            new_key_sum=new_key_sum % KEY_SPACE,
        )
    )
    return len(changes)


def _insert_rows(session: Session, rows: list[dict[str, object]]) -> None:
    # Core inserts on the table: the ORM's bulk path costs more than the rows themselves here.
    table = SurveyResponse.__table__
    if not isinstance(table, Table):  # declared with its columns, the model maps one table
        raise TypeError(f"the survey responses' model maps a {type(table).__name__}, not a table")
    for start in range(0, len(rows), _BATCH):
        session.connection().execute(table.insert(), rows[start : start + _BATCH])


def add_counted(session: Session, settings: Settings, records: list[CountedRecord]) -> None:
    """Count records with no link at once (an import of at least k past answers), in shuffled order."""
    records = list(records)
    _SHUFFLE.shuffle(records)
    totals = totals_store.current_totals(session, settings).copy()
    _locked_state(session)
    for record in records:
        totals.add(record.answers, record.record_key, record.linked)
    _insert_rows(session, [seal_response(settings, record, None) for record in records])
    totals_store.store(session, settings, totals)


def rebuild_totals(session: Session, settings: Settings) -> Totals:
    """Rebuild the sealed totals from the counted rows (repair tool); rows that do not open are reported."""
    totals = Totals.empty()
    refused = 0
    for row_id, sealed in session.execute(select(SurveyResponse.id, SurveyResponse.sealed)):
        try:
            record = open_response(settings, row_id, sealed)
        except DomainError:
            refused += 1
            continue
        totals.add(record.answers, record.record_key, record.linked)
    if refused:
        log.error("survey recount: %d sealed row(s) could not be opened (another key or changed): not counted", refused)
    _locked_state(session)
    totals_store.store(session, settings, totals)
    return totals
