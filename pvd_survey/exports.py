"""Spreadsheet-safe exports of tables of personal or business data (CSV with BOM, XLSX).

Every text cell a spreadsheet could read as a formula is neutralised (OWASP "CSV injection"): a cell
starting with =, +, -, @, tab, carriage return or line feed gets a leading apostrophe, which Excel and
LibreOffice show as plain text. Numbers, dates and booleans stay typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Cell = str | int | float | bool | date | datetime | None


def neutralise(value: Cell) -> Cell:
    """The value, with text that a spreadsheet would evaluate turned into inert text."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def table_csv(columns: Sequence[str], rows: Iterable[Sequence[Cell]], bom: bool = True) -> bytes:
    """A CSV file (UTF-8, with BOM by default so French Excel opens it) of neutralised cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(column) for column in columns])
    for row in rows:
        writer.writerow([neutralise(_text(value)) for value in row])
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8")


def table_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Cell]], sheet_title: str = "Export") -> bytes:
    """An XLSX workbook of one sheet: bold header, typed numbers and dates, neutralised text."""
    workbook = Workbook()
    sheet = workbook.active
    if not isinstance(sheet, Worksheet):  # a new workbook always starts with one worksheet, active
        raise RuntimeError(f"a new openpyxl workbook has no active worksheet: {sheet!r}")
    # Sheet titles are limited to 31 characters and may not hold []:*?/\ .
    sheet.title = " ".join("".join(" " if c in "[]:*?/\\" else c for c in sheet_title).split())[:31] or "Export"
    sheet.append([neutralise(column) for column in columns])
    widths = [len(column) for column in columns]
    for row in rows:
        # Control characters that XLSX cannot hold are dropped first, then the result is neutralised
        # (dropping them could otherwise bring a formula trigger to the front).
        cells = [neutralise(ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v) for v in row]
        sheet.append(cells)
        widths = [max(width, min(60, len(_text(value)))) for width, value in zip(widths, cells, strict=False)]
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width + 2
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
