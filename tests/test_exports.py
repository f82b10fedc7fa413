"""Exports neutralise every cell a spreadsheet could evaluate, in CSV and in XLSX."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from pvd_survey.exports import FORMULA_TRIGGERS, neutralise, table_csv, table_xlsx

pytestmark = pytest.mark.database_independent  # pure: run once, on SQLite (see conftest)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\n=1", "'\n=1"),
        ("Chef de projet", "Chef de projet"),
        ("a=b", "a=b"),
        (42, 42),
        (None, None),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _xlsx_rows(data: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(data)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _newlines(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def _dangerous(text: object) -> bool:
    return isinstance(text, str) and text.startswith(FORMULA_TRIGGERS)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from("=+-@\t\r\nab1 ;,\"'"), min_size=1, max_size=12), min_size=1, max_size=6)
)
def test_no_exported_cell_can_start_a_formula(values):
    columns = [f"c{i}" for i in range(len(values))]
    for rows in (_csv_rows(table_csv(columns, [values]))[1:], _xlsx_rows(table_xlsx(columns, [values]))[1:]):
        assert len(rows) == 1
        for original, exported in zip(values, rows[0], strict=True):
            assert not _dangerous(exported)
            # Nothing else changes (XML stores a carriage return as a line feed).
            expected = "'" + original if _dangerous(original) else original
            assert _newlines(exported) == _newlines(expected)


def test_xlsx_keeps_numbers_and_dates_typed_and_header_first():
    data = table_xlsx(["Nom", "Places", "Date"], [["=1+1", 3, date(2026, 5, 4)]], sheet_title="Inscrits: mai/juin")
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.active
    assert sheet.title == "Inscrits mai juin"
    rows = _xlsx_rows(data)
    assert rows[0] == ["Nom", "Places", "Date"]
    assert rows[1][0] == "'=1+1" and rows[1][1] == 3 and rows[1][2].date() == date(2026, 5, 4)


def test_csv_writes_dates_and_booleans_readably():
    rows = _csv_rows(table_csv(["Date", "Présent"], [[date(2026, 5, 4), True], [None, False]]))
    assert rows == [["Date", "Présent"], ["2026-05-04", "oui"], ["", "non"]]
