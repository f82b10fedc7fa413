"""The one export writer of the app: tables of personal or business data as CSV (two dialects) or XLSX.

Formats, by the name callers and pages use:
- `csv` (PEOPLE): what French Excel opens into columns: `;` separator, UTF-8 with a BOM, CRLF line ends,
  decimal comma, dates jj/mm/aaaa and times jj/mm/aaaa hh:mm.
- `csv_outils` (TOOLS): for programs, labelled « CSV pour les outils (séparateur virgule) » on the pages: `,`
  separator, UTF-8 without BOM, LF line ends, decimal point, ISO dates (aaaa-mm-jj, aaaa-mm-jj hh:mm).
- `xlsx`: one sheet, bold frozen header; text in string cells, numbers as numbers, dates and times as real date
  cells shown jj/mm/aaaa (hh:mm).
In all three: booleans read « oui » / « non », None is an empty cell, and a text cell holds the same characters
(control characters an XLSX file cannot hold are dropped, line breaks inside a cell are LF, in CSV too).

No cell is ever a formula, whichever separator a reader splits on (OWASP "CSV injection").
Quoting is not enough: the CSV writer quotes a cell only for its own separator, so in a `;` file the cell
`Dupont, =1+1` is written bare and a reader splitting on `,` (Excel in another locale, an import wizard) gets the
cell `=1+1`; and a reader that ignores quotes (a naive `split(";")`, a wizard with the text qualifier off) cuts the
quoted `"x;=1+1;"` into `"x`, `=1+1`, `"`. So text is neutralised inside the cell (`neutralise`): at its start and
after every character a reader may cut at (`;`, `,`, tab, line ends), past the spaces and quotes some readers trim,
a formula trigger (= + - @ tab CR LF) gets an invisible U+200B ZERO WIDTH SPACE in front of it.
Why this guard rather than the usual apostrophe or rewriting the separators:
- the apostrophe shows in a CSV cell (`'+33 6…`) and in the middle of text (`x;'=1+1`, notes with "- " bullets);
- replacing `;` and `,` inside text (by look-alikes or anything else) changes what people wrote (an address
  "Dupont, Marie", a note), and look-alike characters mislead once copied elsewhere;
- U+200B is invisible in Excel, LibreOffice and browsers, is not whitespace (no reader trims it away), and a
  fragment starting with it is plain text: the data reads exactly as typed. `displayed` removes it (tests, imports).
Phones: a phone written "+33 6 12 34 56 78" starts with "+", a trigger: it gets the same invisible lead, so Excel
shows +33 6 12 34 56 78 as text, without a visible apostrophe and without evaluating it, in CSV and in XLSX (where
it is also a string cell). In the PEOPLE CSV, text a spreadsheet would turn into a number or a date (a department
"01", "06 12 34 56 78", "2021-09") gets the same lead so that it stays the text it is; XLSX cells are typed, so
nothing more is needed there. A caller that means a number passes an int or a float, never text.
The price of the guard: it is copied with the text (a search for "+33" still finds the phone; a formula comparing
the whole cell with "+33 6 12 34 56 78" does not). Numbers are written by the writer (digits, sign, decimal
separator), so they need no guard, except a negative number first in its row (see `csv_text`).
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
GUARD = "\u200b"  # ZERO WIDTH SPACE: invisible, not whitespace, never the start of a formula
# Where a reader may cut a cell into fragments: both CSV separators, tab and every line end str.splitlines knows
# (after cleaning, which drops the control characters among them).
CUTS = ";,\t\r\n\x85\u2028\u2029"
# Before a trigger, past a cut: whitespace that is not a cut, and quotes (readers trim both).
_DANGER = re.compile(r"(?:^|(?<=[" + CUTS + r"]))(?:[^\S" + CUTS + r"]|\")*(?=[=+\-@\t\r\n])")
# Starts of text a spreadsheet may read as a number, a date or a time (digits, .5, ,5, (5), currencies).
_NUMBER_LIKE = tuple("0123456789.,($€£")

# Characters no XLSX (XML) file may hold: control characters (openpyxl's ILLEGAL_CHARACTERS_RE, written out so that
# openpyxl is imported only to write a workbook; a test checks they agree) and the non-characters U+FFFE/F.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YES, NO = "oui", "non"
XLSX_DATE_FORMAT = "DD/MM/YYYY"  # French Excel shows the format as jj/mm/aaaa
XLSX_DATETIME_FORMAT = "DD/MM/YYYY HH:MM"


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file writes its separator, line ends, numbers and dates."""

    separator: str
    bom: bool
    line_end: str
    decimal: str
    date_format: str
    datetime_format: str
    keep_text: bool  # lead number-like text with GUARD so that a spreadsheet keeps it as text


PEOPLE = CsvDialect(";", True, "\r\n", ",", "%d/%m/%Y", "%d/%m/%Y %H:%M", True)
TOOLS = CsvDialect(",", False, "\n", ".", "%Y-%m-%d", "%Y-%m-%d %H:%M", False)

CSV = "csv"
CSV_TOOLS = "csv_outils"
XLSX = "xlsx"
FORMATS = (CSV, CSV_TOOLS, XLSX)
TOOLS_LABEL = "CSV pour les outils (séparateur virgule)"
MEDIA_TYPES = {CSV: CSV_MEDIA_TYPE, CSV_TOOLS: CSV_MEDIA_TYPE, XLSX: XLSX_MEDIA_TYPE}


def file_name(stem: str, fmt: str) -> str:
    """The download's file name: stem.csv, stem-outils.csv or stem.xlsx."""
    return {CSV: f"{stem}.csv", CSV_TOOLS: f"{stem}-outils.csv", XLSX: f"{stem}.xlsx"}[fmt]


def neutralise(text: str) -> str:
    """The text with GUARD before every formula trigger that starts it or follows a cut (see the module)."""
    return _DANGER.sub(lambda match: match.group(0) + GUARD, text)


def displayed(text: str) -> str:
    """What a person sees of an exported text: the text without its invisible guards."""
    return text.replace(GUARD, "")


def clean_text(text: str) -> str:
    """A text cell as every format writes it: no control characters XLSX cannot hold, LF line breaks, guarded.

    A GUARD already in the text (pasted from a web page) is dropped first: it shows nothing, and only then is
    `displayed` the exact inverse of the writer (a guard the text brought could not be told from the writer's).
    """
    text = _UNWRITABLE.sub("", text).replace(GUARD, "").replace("\r\n", "\n").replace("\r", "\n")
    return neutralise(text)


def _number(value: numbers.Real) -> int | float | None:
    """An int or float for a number of any type (numpy's too), None for NaN and infinities (no spreadsheet holds
    them: "-inf" would even read as a formula); raises TypeError otherwise."""
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    raise TypeError(value)


def csv_cell(value: object, dialect: CsvDialect = PEOPLE) -> str:
    """One cell as a CSV file of that dialect writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, numbers.Real):
        number = _number(value)
        return "" if number is None else str(number).replace(".", dialect.decimal)
    if isinstance(value, datetime):
        return value.strftime(dialect.datetime_format)
    if isinstance(value, date):
        return value.strftime(dialect.date_format)
    text = clean_text(str(value))
    if dialect.keep_text and text.startswith(_NUMBER_LIKE):
        return GUARD + text
    return text


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[object]], dialect: CsvDialect = PEOPLE) -> str:
    """A CSV document (with its BOM character when the dialect has one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=dialect.separator, lineterminator=dialect.line_end)
    for row in [columns, *rows]:
        cells = [csv_cell(value, dialect) for value in row]
        if cells and cells[0].startswith(FORMULA_TRIGGERS):
            # Only a negative number can get here. Alone, "-3" is no formula; but a reader splitting on the other
            # separator reads the line's first cell up to its next cut, across the following cells, which could
            # make "-1,1+cmd|…" of a tools file read by French Excel. No line starts with a trigger, then: such a
            # number, which no export puts first today, is written as text.
            cells[0] = GUARD + cells[0]
        writer.writerow(cells)
    return ("\ufeff" if dialect.bom else "") + buffer.getvalue()


def table_csv(columns: Sequence[str], rows: Iterable[Sequence[object]], dialect: CsvDialect = PEOPLE) -> bytes:
    """A CSV file, encoded in UTF-8 (PEOPLE by default: what French Excel opens)."""
    return csv_text(columns, rows, dialect).encode("utf-8")


def _xlsx_cell(value: object) -> tuple[str | int | float | date | None, str | None]:
    """The value an XLSX cell holds and its number format (None: general)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return (YES if value else NO), None
    if isinstance(value, numbers.Real):
        return _number(value), None
    if isinstance(value, datetime):
        return value, XLSX_DATETIME_FORMAT  # naive: openpyxl refuses a time zone, as it should
    if isinstance(value, date):
        return value, XLSX_DATE_FORMAT
    return clean_text(str(value)) or None, None  # (an empty text is an empty cell)


def sheet_name(title: str) -> str:
    """A sheet name Excel accepts: none of []:*?/\\, at most 31 characters, no apostrophe at either end, not the
    reserved « History »."""
    name = " ".join("".join(" " if c in "[]:*?/\\" else c for c in title).split())[:31].strip(" '")
    if name.casefold() == "history":
        name = "History (export)"
    return name or "Export"


def table_xlsx(columns: Sequence[str], rows: Iterable[Sequence[object]], sheet_title: str = "Export") -> bytes:
    """An XLSX workbook of one sheet: bold frozen header, text in string cells, typed numbers and dates."""
    from openpyxl import Workbook  # (here: a server start or a command that writes no workbook skips it)
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    workbook = Workbook()
    sheet = workbook.active
    if not isinstance(sheet, Worksheet):  # a new workbook always starts with one worksheet, active
        raise RuntimeError(f"a new openpyxl workbook has no active worksheet: {sheet!r}")
    # Sheet titles are limited to 31 characters and may not hold []:*?/\ .
    sheet.title = sheet_name(sheet_title)
    widths: list[int] = []
    for row_number, row in enumerate([columns, *rows], start=1):
        for column_number, raw in enumerate(row, start=1):
            value, number_format = _xlsx_cell(raw)
            cell = sheet.cell(row=row_number, column=column_number, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text: never a formula ("=…") nor an error value ("#N/A")
            if number_format:
                cell.number_format = number_format
            if row_number == 1:
                cell.font = Font(bold=True)
            shown = 16 if number_format else len(displayed(csv_cell(raw)))
            if column_number > len(widths):
                widths.append(0)
            widths[column_number - 1] = max(widths[column_number - 1], min(60, shown))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width + 2
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def table(fmt: str, columns: Sequence[str], rows: Iterable[Sequence[object]], sheet_title: str = "Export") -> bytes:
    """The table in one of FORMATS (ValueError for another)."""
    if fmt == CSV:
        return table_csv(columns, rows, PEOPLE)
    if fmt == CSV_TOOLS:
        return table_csv(columns, rows, TOOLS)
    if fmt == XLSX:
        return table_xlsx(columns, rows, sheet_title)
    raise ValueError(f"unknown export format: {fmt!r}")
