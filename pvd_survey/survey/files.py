"""CSV import and export of anonymous answers, and the repair tool that rebuilds the counts."""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.orm import Session

from pvd_survey.config import Settings
from pvd_survey.errors import DomainError, french_message
from pvd_survey.models import (
    SurveyCount,
    SurveyPool,
    SurveyResponse,
)
from pvd_survey.survey.links import _seal
from pvd_survey.survey.release import ALL, ANSWERED_PREFIX, RESPONDENTS, _answers_payload, release_if_ready
from pvd_survey.survey_questions import (
    COUNTED_QUESTIONS,
    CSV_COLUMNS,
    Answers,
    InvalidAnswers,
    validate_answers,
)

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
