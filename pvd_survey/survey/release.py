"""Release in groups: waiting changes reach the counted answers and the pre-aggregated counts together."""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pvd_survey.config import Settings
from pvd_survey.db import dialect_insert
from pvd_survey.disclosure import ZERO, Tally, new_record_key
from pvd_survey.models import (
    SurveyCount,
    SurveyPool,
    SurveyRelease,
    SurveyResponse,
    utcnow,
)
from pvd_survey.survey.links import _unseal
from pvd_survey.survey_questions import (
    COUNTED_QUESTIONS,
    CSV_COLUMNS,
    Answers,
)

RESPONDENTS = "_respondents"
ANSWERED_PREFIX = "_answered:"


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
