"""The app's one export writer: CSV for people (`;`, BOM) and for tools (`,`), XLSX; no cell is ever a formula.

The pure tests (`database_independent`) drive exports.py with hostile cells; the others go through the real
exports on the test database, and check what a person opening the file sees.
"""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from pvd_survey import charts, exports, meetings, recruitment, stats, survey
from pvd_survey.clock import paris_from_utc
from pvd_survey.config import Settings
from pvd_survey.exports import FORMULA_TRIGGERS, GUARD, displayed, neutralise
from tests.factories import application_input, load_survey, make_world, meeting_form, person, published

pure = pytest.mark.database_independent  # run once, on SQLite (see conftest)

# A fragment that starts with a trigger yet is no formula: a negative number the writer wrote for a number cell
# (-3,5 in a `;` file reads -3 and 5 when split on `,`).
PLAIN_NUMBER = re.compile(r"-\d+(?:[.,]\d+)?(?:e[+-]\d+)?")


def fragments(text: str, separator: str) -> list[str]:
    """What a naive reader makes of a text: lines cut at every line end, then at the separator, ignoring any
    quoting, each fragment with the spaces and quotes some readers trim taken off."""
    return [part.strip().strip('"').strip() for line in text.splitlines() for part in line.split(separator)]


def formula_fragments(text: str) -> list[str]:
    """The fragments of a text that would start a formula, whether it is split on `;` or on `,`."""
    return [
        part
        for separator in (";", ",")
        for part in fragments(text, separator)
        if part.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(part)
    ]


def csv_rows(data: bytes, separator: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=separator))


def xlsx_sheet(data: bytes):
    return load_workbook(io.BytesIO(data)).active


def xlsx_rows(data: bytes) -> list[list]:
    return [list(row) for row in xlsx_sheet(data).iter_rows(values_only=True)]


def shown(text: str) -> str:
    """A text as a person sees it once exported: guards invisible, unwritable characters gone, LF line breaks."""
    return displayed(exports.clean_text(text))


# ---------------------------------------------------------------------------- the writer, with hostile cells


@pure
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x;=1+1;", f"x;{GUARD}=1+1;"),
        ("+33 6 12 34 56 78", f"{GUARD}+33 6 12 34 56 78"),
        ('=HYPERLINK("http://x")', f'{GUARD}=HYPERLINK("http://x")'),
        ("Dupont, -2+3", f"Dupont, {GUARD}-2+3"),
        ('a;"@SUM(A1)', f'a;"{GUARD}@SUM(A1)'),
        ("\t=1", f"{GUARD}\t{GUARD}=1"),
        ("- un\n- deux", f"{GUARD}- un\n{GUARD}- deux"),
        ("Jean-Pierre a=b, c+d", "Jean-Pierre a=b, c+d"),
        ("", ""),
    ],
)
def test_neutralise_guards_every_fragment_a_reader_could_cut(text, expected):
    assert neutralise(text) == expected
    assert displayed(neutralise(text)) == text


HOSTILE_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("=+-@\t\r\n;,\"' a1\u00a0\u2028\x85\x0b\x00\u200b\ufffe")),
        st.characters(codec="utf-8"),
    ),
    max_size=16,
)
CELLS = st.one_of(
    HOSTILE_TEXT,
    HOSTILE_TEXT.map(lambda text: "=" + text),  # always some cells that start with a trigger
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(-1e6, 1e6),
    st.just(math.nan),
    st.dates(date(1950, 1, 1), date(2100, 12, 31)),
    st.datetimes(datetime(1950, 1, 1), datetime(2100, 12, 31)).map(lambda moment: moment.replace(microsecond=0)),
)


def expected_csv(value, dialect: exports.CsvDialect) -> str:
    """What a person reads in a CSV cell of that dialect (guards are invisible)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int | float):
        return str(value).replace(".", dialect.decimal)
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M" if dialect is exports.PEOPLE else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y" if dialect is exports.PEOPLE else "%Y-%m-%d")
    return shown(value)


@pure
@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=4, max_size=4), min_size=1, max_size=4))
def test_no_export_format_yields_a_formula_and_each_reads_back_as_shown(rows):
    columns = ["Nom", "=Colonne", "Téléphone", "Date"]
    for fmt, dialect, separator in (
        (exports.CSV, exports.PEOPLE, ";"),
        (exports.CSV_TOOLS, exports.TOOLS, ","),
    ):
        data = exports.table(fmt, columns, rows)
        assert data.startswith("\ufeff".encode()) == dialect.bom
        text = data.decode("utf-8-sig")
        assert formula_fragments(text) == []
        # Through Python's csv module, with the file's separator: the same values as a person reads them.
        read = csv_rows(data, separator)
        assert [[displayed(cell) for cell in row] for row in read] == [  # (a negative number first is text)
            [expected_csv(value, dialect) for value in row] for row in [columns, *rows]
        ]
        if dialect is exports.PEOPLE:
            # Text is never read as a number or a date: what starts like one carries the invisible lead.
            texts = [
                cell
                for row, typed in zip(read[1:], rows, strict=True)
                for cell, value in zip(row, typed, strict=True)
                if isinstance(value, str)
            ]
            assert not [cell for cell in texts if re.match("[0-9.,(]", cell)]

    data = exports.table(exports.XLSX, columns, rows, sheet_title="Export: x/y")
    sheet = xlsx_sheet(data)
    assert sheet.title == "Export x y"
    cells = sheet.iter_rows(max_row=len(rows) + 1, max_col=len(columns))  # (an empty last row is not stored)
    for row_cells, typed in zip(cells, [columns, *rows], strict=True):
        for cell, value in zip(row_cells, typed, strict=True):
            if isinstance(value, bool):
                assert (cell.data_type, cell.value) == ("s", "oui" if value else "non")
            elif isinstance(value, str):
                assert cell.data_type == "s" if exports.clean_text(value) else cell.value is None
                assert formula_fragments(cell.value or "") == []
                assert displayed(cell.value or "") == shown(value)
            elif isinstance(value, datetime):
                assert cell.is_date and cell.value == value and cell.number_format == "DD/MM/YYYY HH:MM"
            elif isinstance(value, date):
                assert cell.is_date and cell.value.date() == value and cell.number_format == "DD/MM/YYYY"
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                assert cell.value is None
            else:
                # (Excel keeps 15 significant digits, and openpyxl writes no more)
                assert cell.data_type == "n" and math.isclose(cell.value, value, rel_tol=1e-14)


@pure
def test_the_candidate_named_like_a_formula_and_a_phone_read_as_typed():
    columns = ["Nom", "Téléphone", "Reçue le", "Accepte d'être contacté·e", "Part (%)", "Département"]
    row = ["x;=1+1;", "+33 6 12 34 56 78", datetime(2026, 5, 4, 14, 30), False, 12.5, "01"]
    people = exports.table(exports.CSV, columns, [row])
    text = people.decode("utf-8-sig")
    assert people.startswith(b"\xef\xbb\xbf") and text.splitlines()[0].split(";") == columns
    # Split as French Excel does (`;`, honouring quotes), then naively, on `;` and on `,`.
    [cells] = csv_rows(people, ";")[1:]
    assert [displayed(cell) for cell in cells] == [
        "x;=1+1;",
        "+33 6 12 34 56 78",  # no apostrophe, and not a formula: the lead is invisible
        "04/05/2026 14:30",
        "non",
        "12,5",
        "01",  # stays text: French Excel would otherwise read 1
    ]
    assert not [cell for cell in cells if cell.startswith("'")] and formula_fragments(text) == []
    assert "=1+1" not in [part for separator in ";," for part in fragments(text, separator)]

    tools = exports.table(exports.CSV_TOOLS, columns, [row]).decode("utf-8")
    assert tools.splitlines()[1] == f"x;{GUARD}=1+1;,{GUARD}+33 6 12 34 56 78,2026-05-04 14:30,non,12.5,01"

    sheet = xlsx_sheet(exports.table(exports.XLSX, columns, [row]))
    name, phone, received, consent, share, department = sheet[2]
    assert [cell.data_type for cell in (name, phone, consent, department)] == ["s"] * 4
    assert (displayed(name.value), displayed(phone.value), consent.value, department.value) == (
        "x;=1+1;",
        "+33 6 12 34 56 78",
        "non",
        "01",
    )
    assert received.is_date and received.value == datetime(2026, 5, 4, 14, 30)
    assert share.value == 12.5
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"


@pure
def test_unknown_format_and_file_names():
    with pytest.raises(ValueError):
        exports.table("ods", ["a"], [])
    assert [exports.file_name("liste", fmt) for fmt in exports.FORMATS] == [
        "liste.csv",
        "liste-outils.csv",
        "liste.xlsx",
    ]


# ---------------------------------------------------------------------------- the real exports, on the database


def test_applications_export_reads_as_typed_in_every_format(session: Session, settings: Settings):
    world = make_world(session, settings)
    recruiter = world.users["recruteur"]
    posting_id = published(session, recruiter, title="Cheffe de projet")
    recruitment.apply(
        session,
        posting_id,
        application_input(full_name="x;=1+1;", phone="+33 6 12 34 56 78", consent_contact=True),
        settings,
    )
    recruitment.apply(session, posting_id, application_input("b@example.fr", full_name="- Béa, -2+3"), settings)
    [first, second] = recruitment.list_applications(session, recruiter, posting_id)
    recruitment.set_notes(session, recruiter, first.id, "- rappeler\n=à voir; @lundi")

    people = recruitment.export_applications(session, recruiter, posting_id, exports.CSV)
    text = people.decode("utf-8-sig")
    assert people.startswith(b"\xef\xbb\xbf") and formula_fragments(text) == []
    header, *rows = [[displayed(cell) for cell in row] for row in csv_rows(people, ";")]
    assert header == list(recruitment.EXPORT_COLUMNS)
    seen = [dict(zip(header, row, strict=True)) for row in rows]
    assert [row["Nom"] for row in seen] == ["x;=1+1;", "- Béa, -2+3"]
    assert seen[0]["Téléphone"] == "+33 6 12 34 56 78" and seen[1]["Téléphone"] == "+33 6 12 34 56 78"
    assert seen[0]["Notes"] == "- rappeler\n=à voir; @lundi"
    assert [row["Accepte d'être contacté·e"] for row in seen] == ["oui", "non"]
    assert re.fullmatch(r"\d\d/\d\d/20\d\d \d\d:\d\d", seen[0]["Reçue le"])
    assert seen[0]["Référence"] == first.reference and seen[0]["CV"] == "cv-lea.pdf"

    tools = recruitment.export_applications(session, recruiter, posting_id, exports.CSV_TOOLS).decode("utf-8")
    assert not tools.startswith("\ufeff") and formula_fragments(tools) == []
    [tools_header, *tools_rows] = list(csv.reader(io.StringIO(tools, newline="")))
    assert tools_header == list(recruitment.EXPORT_COLUMNS)
    assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d", tools_rows[0][6]) and tools_rows[0][11] == "oui"

    sheet = xlsx_sheet(recruitment.export_applications(session, recruiter, posting_id, exports.XLSX))
    assert sheet.title == "Cheffe de projet"
    cells = {column: [row[index] for row in list(sheet.iter_rows())[1:]] for index, column in enumerate(header)}
    assert [c.data_type for c in cells["Téléphone"]] == ["s", "s"]
    assert [displayed(c.value) for c in cells["Téléphone"]] == ["+33 6 12 34 56 78"] * 2
    assert [displayed(c.value) for c in cells["Nom"]] == ["x;=1+1;", "- Béa, -2+3"]
    assert all(c.is_date and c.number_format == "DD/MM/YYYY HH:MM" for c in cells["Reçue le"])
    assert [c.value for c in cells["Accepte d'être contacté·e"]] == ["oui", "non"]
    strings = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert [value for value in strings if formula_fragments(value)] == []
    assert second.id != first.id


def test_meetings_export_reads_as_typed_in_every_format(session: Session, settings: Settings):
    meeting_id = meetings.create_meeting(session, meeting_form(capacity=1))
    meetings.register(
        session,
        meeting_id,
        person(1, full_name="=1+1;-2", department="01", needs="Végétarien, -sans gluten", organisation="@Mairie"),
        settings,
    )
    meetings.register(session, meeting_id, person(2), settings)  # waiting list
    rows = meetings.export_rows(meetings.roster(session, meeting_id))

    people = exports.table(exports.CSV, meetings.EXPORT_COLUMNS, rows)
    text = people.decode("utf-8-sig")
    assert formula_fragments(text) == []
    header, *lines = [[displayed(cell) for cell in row] for row in csv_rows(people, ";")]
    confirmed, waiting = (dict(zip(header, line, strict=True)) for line in lines)
    assert (confirmed["Nom"], confirmed["Département"], confirmed["Organisation ou commune"]) == (
        "=1+1;-2",
        "01",
        "@Mairie",
    )
    assert confirmed["Besoins (accessibilité, repas)"] == "Végétarien, -sans gluten"
    assert re.fullmatch(r"\d\d/\d\d/20\d\d \d\d:\d\d", confirmed["Inscrit le"]) and confirmed["Annulé le"] == ""
    assert (confirmed["Présent"], waiting["Présent"], waiting["Position d'attente"]) == ("non", "", "1")

    sheet = xlsx_sheet(exports.table(exports.XLSX, meetings.EXPORT_COLUMNS, rows, sheet_title="Inscrits"))
    values = dict(zip(header, list(sheet.iter_rows())[1], strict=True))
    assert values["Inscrit le"].is_date and values["Inscrit le"].number_format == "DD/MM/YYYY HH:MM"
    assert values["Département"].data_type == "s" and values["Département"].value == "01"
    assert displayed(values["Nom"].value) == "=1+1;-2" and values["Présent"].value == "non"
    assert values["Position d'attente"].value is None

    tools = exports.table(exports.CSV_TOOLS, meetings.EXPORT_COLUMNS, rows).decode("utf-8")
    assert tools.splitlines()[0].startswith("Référence,Statut,") and formula_fragments(tools) == []


def test_dashboard_meetings_figures_export_a_real_date_and_decimal_commas(session: Session, settings: Settings):
    meeting_id = meetings.create_meeting(session, meeting_form(capacity=3, title="-Rencontre, =Dijon"))
    meetings.register(session, meeting_id, person(1), settings)
    figures = meetings.dashboard_figures(session)
    rows = charts.meetings_export_rows(figures)
    day = paris_from_utc(meetings.get_meeting(session, meeting_id).starts_at).date()

    people = exports.table(exports.CSV, charts.MEETINGS_EXPORT_COLUMNS, rows)
    assert formula_fragments(people.decode("utf-8-sig")) == []
    header, line = [[displayed(cell) for cell in row] for row in csv_rows(people, ";")]
    seen = dict(zip(header, line, strict=True))
    assert (seen["Rencontre"], seen["Date"], seen["Confirmés"], seen["Remplissage (%)"]) == (
        "-Rencontre, =Dijon",
        day.strftime("%d/%m/%Y"),
        "1",
        "33,3",
    )
    tools = exports.table(exports.CSV_TOOLS, charts.MEETINGS_EXPORT_COLUMNS, rows).decode("utf-8")
    assert f",{day.isoformat()}," in tools and ",33.3," in tools and formula_fragments(tools) == []
    sheet = xlsx_sheet(exports.table(exports.XLSX, charts.MEETINGS_EXPORT_COLUMNS, rows))
    assert sheet["B2"].is_date and sheet["B2"].value.date() == day and sheet["B2"].number_format == "DD/MM/YYYY"
    assert sheet["F2"].value == 33.3


def test_survey_csvs_for_people_and_for_tools(session: Session, settings: Settings):
    load_survey(session, settings, {"01": 7, "21": 6})
    tools = survey.export_responses_csv(session, settings)
    people = survey.export_responses_csv(session, settings, exports.PEOPLE)
    assert tools.splitlines()[0] == ",".join(survey.CSV_COLUMNS) and not tools.startswith("\ufeff")
    assert people.startswith("\ufeff" + ";".join(survey.CSV_COLUMNS) + "\r\n")
    assert f";{GUARD}01" in people  # French Excel keeps the department 01 as text
    # Either file imports back to the same answers.
    today = date.today()
    assert survey.read_responses_csv(people, today) == survey.read_responses_csv(tools, today)
    assert formula_fragments(people) == [] and formula_fragments(tools) == []

    figures = stats.survey_stats(session, stats.make_filters(), k=5, settings=settings)
    table = stats.stats_csv(figures, exports.PEOPLE)
    rows = list(csv.DictReader(io.StringIO(table.lstrip("\ufeff"), newline=""), delimiter=";"))
    department = next(row for row in rows if row["question"] == "department" and displayed(row["option"]) == "01")
    assert department["suppressed"] in ("oui", "non")
    shares = [row["share"] for row in rows if row["share"]]
    assert shares and all("." not in share for share in shares)
    assert formula_fragments(table.lstrip("\ufeff")) == []
    machine = list(csv.DictReader(io.StringIO(stats.stats_csv(figures), newline="")))
    assert [row["count"] for row in machine] == [row["count"] for row in rows]
    assert all("," not in row["share"] for row in machine)


@pytest.mark.database_independent
def test_the_characters_removed_from_cells_are_exactly_those_openpyxl_refuses_plus_two_non_characters():
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    refused = {chr(code) for code in range(0x10000) if ILLEGAL_CHARACTERS_RE.search(chr(code))} | {"\ufffe", "\uffff"}
    # (a guard the text brought is dropped too, see clean_text)
    removed = {chr(code) for code in range(0x10000) if exports.clean_text(f"a{chr(code)}b") == "ab"} - {GUARD}
    assert removed == refused
