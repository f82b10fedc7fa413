"""CSV import and export of anonymous answers, and the repair tool that rebuilds the totals."""

from __future__ import annotations

import csv
import io
import itertools
import secrets
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import BinaryIO

import numpy
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pvd_survey import exports
from pvd_survey.config import Settings
from pvd_survey.disclosure import KEY_SPACE, new_record_key
from pvd_survey.errors import ImportRejected, InvalidAnswers, RowError
from pvd_survey.models import SurveyPool, SurveyResponse
from pvd_survey.survey import totals as totals_store
from pvd_survey.survey.links import SEALED_SIZES, _seal
from pvd_survey.survey.release import (
    RESPONDENTS,
    CountedRecord,
    _answers_payload,
    _insert_rows,
    _locked_state,
    add_counted,
    open_response,
    rebuild_totals,
    seal_response,
)
from pvd_survey.survey.totals import CELL_INDEX
from pvd_survey.survey_questions import CSV_COLUMNS, Answers, validate_answers

# ---------------------------------------------------------------------------- CSV import

# A physical line longer than this is refused without being held whole (an answer line is under 200 bytes).
MAX_LINE_BYTES = 1 << 20
# Only the first errors are listed (a wrong file may be wrong on every line); the rest are counted.
MAX_LISTED_ERRORS = 50
_SHOWN_VALUE = 60  # characters of a wrong value quoted back in a message
_IMPORT_BATCH = 5000  # rows per INSERT (executemany)
_WIDTH = 7  # the import's columns
if len(CSV_COLUMNS) != _WIDTH:
    raise ImportError(f"CheckedFile.answers reads {_WIDTH} columns; the survey has {len(CSV_COLUMNS)}")
if KEY_SPACE != 256:
    raise ImportError("import_checked draws record keys as bytes: KEY_SPACE must be 256")
_CELL_CACHE = 20_000  # distinct cells remembered per column (a valid file has a few hundred)


class _Stop(Exception):
    """A problem after which the rest of the file cannot be read meaningfully (encoding, CSV syntax)."""

    def __init__(self, error: RowError):
        super().__init__(error.reason)
        self.error = error


def file_lines(stream: BinaryIO, encoding: str = "utf-8") -> Iterator[str]:
    """The lines of an open binary file, decoded one at a time (a bad byte or an endless line names its line).

    `encoding` must write line ends and delimiters as ASCII does (UTF-8, cp1252, latin-1): lines split on bytes.
    """
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise _Stop(RowError(number, "row_line_too_long", {"maximum": MAX_LINE_BYTES}))
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError as error:
            bad = raw[error.start : error.start + 1].hex().upper()
            raise _Stop(RowError(number, "row_bad_encoding", {"encoding": encoding, "byte": bad})) from None
        yield line.removeprefix("\ufeff") if number == 1 else line


@dataclass
class CheckedFile:
    """A validated responses file, held compactly: per row, one index per column into that column's values."""

    rows: int = 0
    codes: array = field(default_factory=lambda: array("I"))
    values: tuple[list, ...] = field(default_factory=lambda: tuple([] for _ in CSV_COLUMNS))

    def answers(self, row: int) -> Answers:
        """The answers of one row (0 = the first row under the header)."""
        at, codes, values = row * _WIDTH, self.codes, self.values  # (unrolled: called once per row)
        return Answers(
            values[0][codes[at]],
            values[1][codes[at + 1]],
            values[2][codes[at + 2]],
            values[3][codes[at + 3]],
            values[4][codes[at + 4]],
            values[5][codes[at + 5]],
            values[6][codes[at + 6]],
        )


class _Checker:
    """Validates cells column by column, remembering each distinct cell (the rules look at one cell at a time)."""

    def __init__(self, today: date):
        self.today = today
        self.checked = CheckedFile()
        self._valid: list[dict[str, int]] = [{} for _ in CSV_COLUMNS]  # cell -> index of its value
        self._invalid: list[dict[str, list[RowError]]] = [{} for _ in CSV_COLUMNS]
        self._indexes: list[dict[object, int]] = [{} for _ in CSV_COLUMNS]

    def _check_cell(self, column: int, cell: str) -> int | list[RowError]:
        code = CSV_COLUMNS[column]
        text = exports.displayed(cell)
        raw: object = [v for v in text.split("|") if v.strip()] if code == "training_field" else text
        try:
            value = getattr(validate_answers({code: raw}, self.today, required=False), code)
        except InvalidAnswers as invalid:
            found = [
                RowError(0, error.code, {k: _shown(v) for k, v in error.params.items()}, name)
                for name, error in invalid.errors.items()
            ]
            if len(self._invalid[column]) < _CELL_CACHE:
                self._invalid[column][cell] = found
            return found
        values = self.checked.values[column]
        index = self._indexes[column].setdefault(value, len(values))
        if index == len(values):
            values.append(value)
        if len(self._valid[column]) < _CELL_CACHE:
            self._valid[column][cell] = index
        return index

    def row(self, line: int, cells: list[str]) -> list[RowError]:
        """Add one row's answers, or return what is wrong with it."""
        try:  # the common case: every cell seen before, and valid
            self.checked.codes.extend([known[cell] for known, cell in zip(self._valid, cells, strict=True)])
        except KeyError:
            pass
        else:
            self.checked.rows += 1
            return []
        found: list[int] = []
        errors: list[RowError] = []
        for column, cell in enumerate(cells):
            result: int | list[RowError] | None = self._valid[column].get(cell)
            if result is None:
                result = self._invalid[column].get(cell)
            if result is None:
                result = self._check_cell(column, cell)
            if isinstance(result, int):
                found.append(result)
            else:
                errors.extend(replace(error, line=line) for error in result)
        if not errors:
            self.checked.codes.extend(found)
            self.checked.rows += 1
        return errors


def _shown(value: object) -> object:
    """A value quoted back in a message: cut short (a cell may hold a paragraph), control characters as �."""
    if not isinstance(value, str):
        return value
    shown = "".join(char if char.isprintable() else "�" for char in value[:_SHOWN_VALUE])  # (no NUL to a terminal)
    return shown + "…" if len(value) > _SHOWN_VALUE else shown


def _next_row(reader: Iterator[list[str]], line: int) -> list[str] | None:
    """The next CSV row, or None at the end; a row the CSV reader refuses (the header too) stops the reading."""
    try:
        return next(reader, None)
    except csv.Error as error:
        if "field larger" in str(error):
            raise _Stop(RowError(line, "row_field_too_long", {"maximum": csv.field_size_limit()})) from None
        raise _Stop(RowError(line, "row_bad_csv")) from None


def check_responses(lines: Iterable[str], today: date) -> CheckedFile:
    """Read and validate a responses file line by line; raise ImportRejected listing the problems with their lines.

    The file is read once, as a stream; what is kept is a few bytes per row (CheckedFile), so a large file
    fits in memory. Problems after which the file cannot be read on (a byte of another encoding, a broken
    CSV quote, a field longer than the CSV reader's limit) end the reading and are listed last.
    """
    errors: list[RowError] = []
    bad_lines = 0
    checker = _Checker(today)
    lines = iter(lines)
    try:
        first = next(lines, None)
        if first is None or not first.strip():
            raise _Stop(RowError(1, "row_empty_file"))
        # The import format is exports.TOOLS (`,`); a file written for French Excel (exports.PEOPLE, or saved by
        # it) has `;`, and may carry the writer's invisible guards, which are not part of any answer.
        reader = csv.reader(itertools.chain([first], lines), delimiter=";" if ";" in first else ",")
        header = [exports.displayed(cell).strip() for cell in _next_row(reader, 1) or []]
        if tuple(header) != CSV_COLUMNS:
            found = {"expected": ",".join(CSV_COLUMNS), "found": _shown(",".join(header))}
            raise _Stop(RowError(1, "row_bad_header", found))
        while True:
            line = reader.line_num + 1  # where the row starts (a quoted cell may hold line breaks)
            row = _next_row(reader, line)
            if row is None:
                break
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(CSV_COLUMNS):
                found_errors = [RowError(line, "row_column_count", {"found": len(row), "expected": len(CSV_COLUMNS)})]
            else:
                found_errors = checker.row(line, row)
            if found_errors:
                bad_lines += 1
                errors.extend(found_errors[: max(0, MAX_LISTED_ERRORS - len(errors))])
    except _Stop as stop:
        bad_lines += 1
        errors.append(stop.error)
    if not errors and checker.checked.rows == 0:
        errors.append(RowError(2, "row_no_rows"))
        bad_lines = 1
    if errors:
        raise ImportRejected(errors, lines=bad_lines)
    return checker.checked


def read_responses_csv(text: str, today: date) -> list[Answers]:
    """Parse and validate a whole responses text; raise ImportRejected listing every problem with its line."""
    checked = check_responses(io.StringIO(text.lstrip("\ufeff")), today)
    return [checked.answers(row) for row in range(checked.rows)]


def import_checked(session: Session, checked: CheckedFile, settings: Settings) -> int:
    """Count a checked file's answers in batches (each an executemany), in a random order over the whole file.

    At least k: counted in this transaction, as import_responses does; fewer wait in the pool.
    """
    if checked.rows < settings.disclosure_k:
        return import_responses(session, [checked.answers(row) for row in range(checked.rows)], settings)
    _locked_state(session)  # (first: no release may move the totals read below before this commits)
    totals = totals_store.current_totals(session, settings).copy()
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # The rows' random ids go all over the primary key's index: with SQLite's 2 MB page cache, each batch
        # would spill and re-read its pages. 64 MB holds the index of a million rows (for this connection).
        session.execute(text("PRAGMA cache_size=-65536"))
    try:
        # A random order over the whole file (a few bytes per row): rows are stored in no order the file had.
        order = numpy.random.default_rng(secrets.randbits(128)).permutation(checked.rows)
        for start in range(0, checked.rows, _IMPORT_BATCH):
            rows = order[start : start + _IMPORT_BATCH]
            # One byte of the system's randomness per record key (KEY_SPACE is 256): one call per batch.
            keys = secrets.token_bytes(len(rows))
            records = [
                CountedRecord(checked.answers(int(row)), key, False) for row, key in zip(rows, keys, strict=True)
            ]
            totals.add_many([(record.answers, record.record_key, record.linked) for record in records])
            _insert_rows(session, [seal_response(settings, record, None) for record in records])
        totals_store.store(session, settings, totals)
    finally:
        if sqlite:
            session.execute(text("PRAGMA cache_size=-2000"))  # SQLite's default, for the pool's next user
    return checked.rows


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


# ---------------------------------------------------------------------------- CSV export


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
