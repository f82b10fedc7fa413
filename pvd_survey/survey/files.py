"""CSV import and export of anonymous answers, and the repair tool that rebuilds the totals."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvd_survey import exports
from pvd_survey.config import Settings
from pvd_survey.disclosure import new_record_key
from pvd_survey.errors import ImportRejected, InvalidAnswers, RowError
from pvd_survey.models import SurveyPool, SurveyResponse
from pvd_survey.survey.links import SEALED_SIZES, _seal
from pvd_survey.survey.release import (
    RESPONDENTS,
    CountedRecord,
    _answers_payload,
    add_counted,
    open_response,
    rebuild_totals,
)
from pvd_survey.survey.totals import CELL_INDEX
from pvd_survey.survey_questions import CSV_COLUMNS, Answers, validate_answers

# ---------------------------------------------------------------------------- CSV import and export


def read_responses_csv(text: str, today: date) -> list[Answers]:
    """Parse and validate a whole responses file; raise ImportRejected listing every problem of every bad row."""
    text = text.lstrip("\ufeff")
    # The import format is exports.TOOLS (`,`); a file written for French Excel (exports.PEOPLE, or saved by it)
    # has `;`, and may carry the writer's invisible guards, which are not part of any answer.
    delimiter = ";" if ";" in text.split("\n", 1)[0] else ","
    reader = ([exports.displayed(cell) for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter))
    header = next(reader, None)
    if header is None:
        raise ImportRejected([RowError(1, "row_empty_file")])
    header = [cell.strip() for cell in header]
    if tuple(header) != CSV_COLUMNS:
        found = {"expected": ",".join(CSV_COLUMNS), "found": ",".join(header)}
        raise ImportRejected([RowError(1, "row_bad_header", found)])
    answers: list[Answers] = []
    errors: list[RowError] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_COLUMNS):
            errors.append(RowError(line, "row_column_count", {"found": len(row), "expected": len(CSV_COLUMNS)}))
            continue
        raw: dict[str, object] = dict(zip(CSV_COLUMNS, row, strict=True))
        raw["training_field"] = [v for v in str(raw["training_field"]).split("|") if v.strip()]
        try:
            answers.append(validate_answers(raw, today, required=False))
        except InvalidAnswers as invalid:
            errors.extend(RowError(line, error.code, error.params, column) for column, error in invalid.errors.items())
    if errors:
        raise ImportRejected(errors)
    return answers


def import_responses(session: Session, answers: list[Answers], settings: Settings, now: datetime | None = None) -> int:
    """Count already validated past answers (no link, no time): at once when at least k, else through the pool.

    Imported answers belong to nobody who could be found, so a group of at least k is counted in this
    transaction, shuffled; a smaller one waits in the pool for a release with at least k changes from links
    (the direction may know imported answers: they never complete a group around one person's answers).
    """
    if len(answers) >= settings.disclosure_k:
        add_counted(session, settings, [CountedRecord(answer, new_record_key(), False) for answer in answers])
        return len(answers)
    for answer in answers:
        ref = secrets.token_hex(32)  # imported answers have no link: a random key, found by nobody
        change = {"ref": None, "answers": _answers_payload(answer)}
        session.add(SurveyPool(ref=ref, sealed=_seal(settings, change, ref, SEALED_SIZES["pool"])))
    session.flush()
    return len(answers)


def counted_records(session: Session, settings: Settings) -> list[CountedRecord]:
    """Every counted set of answers, opened with the server key (export, repair, tests)."""
    rows = session.execute(select(SurveyResponse.id, SurveyResponse.sealed))
    return [open_response(settings, row_id, sealed) for row_id, sealed in rows]


def export_responses_csv(session: Session, settings: Settings, dialect: exports.CsvDialect = exports.TOOLS) -> str:
    """Every counted response in the import format (raw anonymous answers, in a neutral order), by the app's one
    export writer: exports.TOOLS (`,`) by default, exports.PEOPLE (`;`, BOM) for French Excel; both import back."""
    lines = [
        ["" if value is None else ("|".join(value) if isinstance(value, tuple) else value) for value in values]
        for values in (
            [getattr(record.answers, code) for code in CSV_COLUMNS] for record in counted_records(session, settings)
        )
    ]
    # Sorted by the answers themselves: neither ids nor times, so rows cannot be matched to invitations.
    return exports.csv_text(CSV_COLUMNS, sorted(lines), dialect)


def recount(session: Session, settings: Settings) -> int:
    """Rebuild the sealed totals from the counted answers (repair tool); returns how many answers are counted."""
    totals = rebuild_totals(session, settings)
    return int(totals.counts[..., CELL_INDEX[(RESPONDENTS, "")]].sum())
