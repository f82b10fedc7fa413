"""The territorial view (issue 12): tile map coordinates, map figures per measure with their protection, the
overview, the steering committee's PDF report and the `report` command, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import (
    accounts,
    charts,
    db,
    disclosure,
    meetings,
    overview,
    recruitment,
    report,
    stats,
    survey,
    territory,
)
from pvd_survey.config import Settings
from pvd_survey.disclosure import MAX_NOISE, Tally
from pvd_survey.errors import DomainError
from pvd_survey.models import Meeting, Registration, utcnow
from tests.conftest import STRONG_PASSWORD
from tests.factories import load_survey, meeting_form, person, posting_input, run_cli

K = 5


def near(published: float | None, true: int) -> bool:
    """A published count is the true one moved by the documented perturbation at most."""
    return published is not None and abs(published - true) <= MAX_NOISE


# ---------------------------------------------------------------------------- tiles


@pytest.mark.database_independent
def test_every_department_has_its_own_tile() -> None:
    assert set(territory.TILES) == set(territory.DEPARTMENTS)
    assert len(territory.TILES) == 101
    assert len(set(territory.TILES.values())) == 101, "two departments share a tile"
    for column, row in territory.TILES.values():
        assert 0 <= column < territory.TILE_COLUMNS and 0 <= row < territory.TILE_ROWS
    # Overseas departments: a row of insets below everything else; Corsica at the bottom right.
    overseas = {code for code in territory.DEPARTMENTS if len(code) == 3}
    lowest_metropolitan = max(row for code, (_, row) in territory.TILES.items() if code not in overseas)
    assert all(territory.TILES[code][1] > lowest_metropolitan + 1 for code in overseas)
    assert (
        territory.TILES["2A"][0] == territory.TILE_COLUMNS - 1
        and territory.TILES["2B"][0] == territory.TILE_COLUMNS - 1
    )


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("north", "south"), [("59", "13"), ("62", "75"), ("75", "63"), ("2B", "2A"), ("67", "68"), ("22", "56")]
)
@pytest.mark.parametrize("west_east", [("29", "67"), ("33", "06"), ("64", "66"), ("78", "77")])
def test_tiles_keep_the_shape_of_france(north: str, south: str, west_east: tuple[str, str]) -> None:
    assert territory.TILES[north][1] < territory.TILES[south][1]
    west, east = west_east
    assert territory.TILES[west][0] < territory.TILES[east][0]


# ---------------------------------------------------------------------------- data helpers


def recruiter(session: Session, settings: Settings, department: str = "21") -> accounts.UserInfo:
    organisation = accounts.create_organisation(session, f"Commune test {department}", "commune", department)
    return accounts.create_user(
        session,
        email=f"rh{department.lower()}@commune.fr",
        display_name="Recrutement",
        role="recruteur",
        settings=settings,
        organisation_id=organisation.id,
        password=STRONG_PASSWORD,
        notify=False,
    )


def posting(
    session: Session,
    actor: accounts.UserInfo,
    settings: Settings,
    published_days_ago: int,
    filled_days_ago: int | None = None,
) -> int:
    published_at = utcnow() - timedelta(days=published_days_ago)
    data = posting_input(deadline=(published_at + timedelta(days=200)).date())
    created = recruitment.create_posting(session, actor, data, now=published_at)
    recruitment.publish_posting(session, actor, created.id, now=published_at)
    if filled_days_ago is not None:
        filled_at = utcnow() - timedelta(days=filled_days_ago)
        recruitment.mark_filled(session, actor, created.id, settings, now=filled_at)
    return created.id


def meeting_with(
    session: Session, settings: Settings, people: dict[str, int], present: dict[str, int], past: bool = False
) -> int:
    """A meeting with `people[d]` confirmed participants from department d, `present[d]` of them checked in."""
    meeting_id = meetings.create_meeting(session, meeting_form(capacity=200))
    number = 0
    for department, count in people.items():
        checked = 0
        for _ in range(count):
            number += 1
            outcome = meetings.register(session, meeting_id, person(number, department=department), settings)
            assert outcome.status == "confirmed"
            if checked < present.get(department, 0):
                roster = {p.reference: p for p in meetings.roster(session, meeting_id).confirmed}
                meetings.set_present(session, meeting_id, roster[outcome.reference].id, True)
                checked += 1
    if past:  # moved to last week, as if it had taken place
        meeting = session.get(Meeting, meeting_id)
        for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
            setattr(meeting, name, getattr(meeting, name) - timedelta(days=17))
    return meeting_id


# ---------------------------------------------------------------------------- the map, measure by measure


def test_map_covers_every_department_and_region_for_every_measure(session: Session, settings: Settings) -> None:
    for measure in overview.MEASURES:
        for level, codes in (("department", territory.DEPARTMENTS), ("region", territory.REGIONS)):
            data = overview.map_data(session, measure, level, K, settings=settings)
            assert set(data.cells) == set(codes), (measure, level)
            frame = charts.map_frame(data)
            # Every department drawn once, overseas included, each on its own tile.
            assert sorted(frame["department"]) == sorted(territory.DEPARTMENTS)
            assert not frame.duplicated(["column", "row"]).any()
            # Clicking selects the tile's department (or region): the dashboard turns it into filters.
            spec = json.dumps(charts.tile_map_chart(data).to_dict())
            assert f'"fields": ["{level}"]' in spec and '"name": "carte"' in spec


def test_unknown_measure_or_level_is_refused(session: Session, settings: Settings) -> None:
    with pytest.raises(DomainError) as refused:
        overview.map_data(session, "salaires", settings=settings)
    assert refused.value.code == "unknown_filter"
    with pytest.raises(DomainError):
        overview.map_data(session, "vacant", "commune", settings=settings)


def test_survey_respondents_use_the_protected_survey_counts(session: Session, settings: Settings) -> None:
    load_survey(session, settings, {"21": 12, "71": 9, "35": 8, "29": 3})
    data = overview.map_data(session, "respondents", "department", K, settings=settings)
    assert data.cells["29"].hidden and data.cells["29"].value is None  # 3 people: fewer than k
    # The department with 3 hidden people would be given away by the total minus the others: the next smallest
    # (35, 8 people) is hidden too, exactly as in the survey's own department figure.
    assert data.cells["35"].hidden
    assert near(data.cells["21"].value, 12) and near(data.cells["71"].value, 9)
    assert data.cells["75"].hidden  # nobody: hidden like a small group, never shown as 0
    survey_figure = stats.survey_stats(session, stats.Filters(), k=K, settings=settings).figures["department"]
    assert {code: cell.value for code, cell in data.cells.items()} == {
        code: cell.count for code, cell in survey_figure.cells.items()
    }
    regions = overview.map_data(session, "respondents", "region", K, settings=settings)
    assert near(regions.cells["27"].value, 21) and regions.cells["53"].hidden is False
    assert regions.cells["11"].hidden
    # Filters that are not places apply; the map still covers the country.
    commune_only = overview.map_data(
        session, "respondents", "department", K, stats.Filters(employer="commune"), settings=settings
    )
    assert all(cell.hidden for cell in commune_only.cells.values())


def test_table_under_the_map_says_masked_and_never_prints_the_hidden_count(session: Session, settings) -> None:
    load_survey(session, settings, {"21": 12, "71": 9, "35": 8, "29": 3})
    table = charts.map_table(overview.map_data(session, "respondents", "department", K, settings=settings))
    assert len(table) == 101
    finistere = table[table["Département"] == "29 – Finistère"].iloc[0]
    assert finistere["Répondants au questionnaire"] == "masqué"
    region_table = charts.map_table(overview.map_data(session, "respondents", "region", K, settings=settings))
    assert len(region_table) == 18


def test_meeting_participants_are_protected_with_their_record_keys(session: Session, settings: Settings) -> None:
    meeting_with(session, settings, {"21": 9, "25": 6, "29": 2}, present={"21": 7, "25": 1})
    registered = overview.map_data(session, "registered", "department", K, settings=settings)
    assert near(registered.cells["21"].value, 9)
    assert registered.cells["29"].hidden  # 2 people
    assert registered.cells["25"].hidden  # secondary: 29's two people must not be 17 - 9 - 6
    present = overview.map_data(session, "present", "department", K, settings=settings)
    # One person present from 25: hidden, and then 21's 7 too (their sum is the people present on the
    # attendance figures); 29, with nobody present, hidden like a small group.
    assert present.cells["25"].hidden and present.cells["21"].hidden and present.cells["29"].hidden
    # Perturbed with the cell keys: asking again gives the same value.
    assert overview.map_data(session, "registered", "department", K, settings=settings) == registered
    meeting_with(session, settings, {"21": 1, "71": 6, "35": 5}, present={"21": 1, "71": 6})
    present = overview.map_data(session, "present", "department", K, settings=settings)
    # 25's one person present still hides the next smallest department (71, 6 present), not 21 (8).
    assert near(present.cells["21"].value, 8) and present.cells["71"].hidden and present.cells["25"].hidden
    by_region = overview.map_data(session, "registered", "region", K, settings=settings)
    assert near(by_region.cells["27"].value, 22) and near(by_region.cells["53"].value, 7)
    assert by_region.cells["84"].hidden


def test_postings_vacant_and_time_to_fill_by_department(session: Session, settings: Settings) -> None:
    dijon, quimper = recruiter(session, settings, "21"), recruiter(session, settings, "29")
    posting(session, dijon, settings, published_days_ago=10)
    posting(session, dijon, settings, published_days_ago=90, filled_days_ago=50)  # 40 days to fill
    posting(session, dijon, settings, published_days_ago=80, filled_days_ago=60)  # 20 days
    posting(session, quimper, settings, published_days_ago=3)
    closed = posting(session, quimper, settings, published_days_ago=60)
    recruitment.close_posting(session, quimper, closed, settings)
    open_ = overview.map_data(session, "postings_open", "department", K, settings=settings)
    assert (open_.cells["21"].value, open_.cells["29"].value, open_.cells["75"].value) == (1, 1, 0)
    vacant = overview.map_data(session, "vacant", "department", K, settings=settings)
    assert (vacant.cells["21"].value, vacant.cells["29"].value) == (1, 2)  # closed unfilled: still vacant
    days = overview.map_data(session, "days_to_fill", "department", K, settings=settings)
    assert days.cells["21"].value == pytest.approx(30, abs=0.1)  # median of 40 and 20
    assert days.cells["29"].value is None and not days.cells["29"].hidden  # nothing to measure: not "masqué"
    assert charts.map_frame(days).set_index("department").loc["29", "Valeur"] == "—"
    regions = overview.map_data(session, "vacant", "region", K, settings=settings)
    assert (regions.cells["27"].value, regions.cells["53"].value) == (1, 2)


# ---------------------------------------------------------------------------- overview


def test_overview_key_figures_and_their_change_over_a_month(session: Session, settings: Settings) -> None:
    dijon = recruiter(session, settings, "21")
    posting(session, dijon, settings, published_days_ago=5)
    posting(session, dijon, settings, published_days_ago=12, filled_days_ago=2)  # 10 days, filled this month
    posting(session, dijon, settings, published_days_ago=45)
    posting(session, dijon, settings, published_days_ago=100, filled_days_ago=40)  # 60 days, last month
    load_survey(session, settings, {"21": 12})
    past_meeting = meeting_with(session, settings, {"21": 8}, present={"21": 6}, past=True)
    upcoming = meetings.create_meeting(session, meeting_form(capacity=10))
    for number in range(4):
        meetings.register(session, upcoming, person(100 + number), settings)
    span, figures = overview.overview(session, K, settings=settings)
    by_label = {figure.label: figure for figure in figures}
    assert span.label == "sur les 30 derniers jours"
    assert (by_label["Offres publiées"].value, by_label["Offres publiées"].previous) == (2, 1)
    assert (by_label["Offres pourvues"].value, by_label["Offres pourvues"].previous) == (1, 1)
    assert by_label["Délai médian publication → pourvu"].value == pytest.approx(35, abs=0.1)  # 10 and 60
    assert by_label["Délai médian publication → pourvu"].previous == pytest.approx(60, abs=0.1)
    assert by_label["Délai médian publication → pourvu"].change_text() == "-25 j"
    assert (by_label["Postes vacants"].value, by_label["Postes vacants"].previous) == (2, 1)
    assert near(by_label["Réponses au questionnaire publiées"].value, 12)
    # Imported answers are not new answers: nobody answered through a link, nothing was released.
    assert by_label["Nouvelles réponses publiées"].text() == "masqué"
    assert by_label["Rencontres à venir"].value == 1
    assert by_label["Remplissage des rencontres à venir"].text() == "40 %"
    attendance = by_label["Taux de présence aux rencontres passées"]
    # 6 / 8, both counts perturbed as the attendance charts publish them (each by at most MAX_NOISE).
    registrations = session.scalars(select(Registration).where(Registration.meeting_id == past_meeting)).all()
    confirmed = Tally(len(registrations), sum(r.record_key for r in registrations))
    arrived = [r for r in registrations if r.checked_in_at is not None]
    present = Tally(len(arrived), sum(r.record_key for r in arrived))
    published = 100 * disclosure.perturb(present, K) / disclosure.perturb(confirmed, K)
    assert attendance.value == round(min(100.0, published), 1)
    assert 100 * 4 / 10 <= attendance.value <= 100
    # A region without anything: zeros for postings, hidden for people.
    _, corsica = overview.overview(session, K, stats.Filters(region="94"), settings=settings)
    corsica_by_label = {figure.label: figure for figure in corsica}
    assert corsica_by_label["Offres publiées"].value == 0
    assert "Nouvelles réponses publiées (France entière)" in corsica_by_label  # releases are national
    assert corsica_by_label["Réponses au questionnaire publiées"].text() == "masqué"
    assert corsica_by_label["Taux de présence aux rencontres passées"].text() == "masqué"


def test_new_answers_in_the_overview_move_only_with_a_release(session: Session, settings: Settings) -> None:
    from pvd_survey import mail

    survey.invite(session, survey.parse_invitation_list("\n".join(f"cp{n}@example.fr;21" for n in range(7))), settings)
    tokens = [m.link.split("jeton=")[1] for m in mail.list_messages(session) if m.kind == "survey_invitation"]
    answers = {
        "start_month": "2021-09",
        "employer": "epci",
        "gender": "femme",
        "experience": "5to20",
        "diploma": "bac4_5",
        "training_field": ["autre"],
        "department": "21",
    }
    for token in tokens:
        survey.submit(session, token, answers, settings)

    def new_answers():
        by_label = {figure.label: figure for figure in overview.overview(session, K, settings=settings)[1]}
        return by_label["Nouvelles réponses publiées"], by_label["Réponses au questionnaire publiées"]

    received, published = new_answers()
    assert received.text() == published.text() == "masqué"  # 7 submissions, no release: nothing moved
    assert survey.release_due(session, settings).applied == 7
    received, published = new_answers()
    assert near(received.value, 7) and near(published.value, 7)


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("month", "start", "end", "previous"),
    [
        ("2026-03", datetime(2026, 3, 1), datetime(2026, 4, 1), datetime(2026, 2, 1)),
        ("2026-01", datetime(2026, 1, 1), datetime(2026, 2, 1), datetime(2025, 12, 1)),
        ("2025-12", datetime(2025, 12, 1), datetime(2026, 1, 1), datetime(2025, 11, 1)),
    ],
)
def test_a_calendar_month_and_the_one_before(month: str, start: datetime, end: datetime, previous: datetime) -> None:
    span = overview.period(overview.parse_month(month), now=datetime(2026, 11, 1))
    assert (span.previous, span.start, span.end) == (previous, start, end)


@pytest.mark.database_independent
@pytest.mark.parametrize("text", ["2026-13", "2026-3", "mars", "2026/03", "", "2026-03-01"])
def test_bad_months_are_refused(text: str) -> None:
    with pytest.raises(DomainError) as refused:
        overview.parse_month(text)
    assert refused.value.code == "bad_month"


# ---------------------------------------------------------------------------- the PDF report


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def test_report_has_every_part_and_prints_no_hidden_figure(session: Session, settings: Settings) -> None:
    load_survey(session, settings, {"21": 12, "71": 9, "35": 8, "29": 3})
    dijon = recruiter(session, settings, "21")
    posting(session, dijon, settings, published_days_ago=5)
    meeting_with(session, settings, {"21": 9, "25": 6, "29": 2}, present={"21": 7})
    steps: list[str] = []
    data = report.build_report(session, report.ReportRequest(), k=K, progress=steps.append, settings=settings)
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(data))
    texts = [page.extract_text() for page in reader.pages]
    whole = "\n".join(texts)
    assert len(texts) >= 8 and steps[0].startswith("Page de garde")
    # The charts are drawn together at the end, and the dashboard says how far that is.
    drawing = steps[[step.startswith("Sources") for step in steps].index(True) + 1 :]
    charts_printed = sum(len(page.images) for page in reader.pages)
    assert drawing == [
        f"Graphiques dessinés : {charts_printed // 2} sur {charts_printed}",
        f"Graphiques dessinés : {charts_printed} sur {charts_printed}",
    ]
    # Cover with the filters and the date, the overview with the reference figures and their source.
    assert "rapport au comité de pilotage" in texts[0].lower() or "Rapport au comité de pilotage" in texts[0]
    assert "Territoire : France entière" in texts[0] and "Édité le" in texts[0]
    assert "Vue d'ensemble" in whole and "1 646" in whole and "871" in whole and "environ 90 %" in whole
    assert "point d'avancement du programme" in whole
    # The maps (images), then the table by region; each chart as an image with its table.
    map_page = next(number for number, text in enumerate(texts) if text.startswith("Cartes"))
    assert len(reader.pages[map_page].images) >= 2
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 6 + 8 + 2  # six maps, eight survey charts, funnel and activity at least
    assert "Chiffres par région" in whole and "Questionnaire de profil" in whole and "Genre\n" in whole
    assert "Sources" in whole and "Protection des personnes" in whole and "clés de cellule" in whole
    # Every French character printed (DejaVu embedded).
    assert "Île-de-France" in whole and "21 – Côte-d'Or" in whole and "Écart (points)" in whole and "→" in whole
    # No hidden figure printed: Finistère (3 respondents) and Ille-et-Vilaine (hidden by secondary
    # suppression) read "masqué" in the survey's department table, never a number.
    for name in ("29 – Finistère", "35 – Ille-et-Vilaine"):
        lines = [line for line in whole.splitlines() if line.startswith(name)]
        assert lines and all(re.fullmatch(rf"{name} masqué.*", line) for line in lines), lines


def test_report_for_a_region_and_a_month(session: Session, settings: Settings) -> None:
    load_survey(session, settings, {"21": 12, "71": 9})
    month = date.today().replace(day=1)
    data = report.build_report(session, report.ReportRequest(region="27", month=month), k=K, settings=settings)
    texts = pdf_pages(data)
    assert "Territoire : Bourgogne-Franche-Comté" in texts[0]
    assert f"{month:%m/%Y}" in texts[0]
    whole = "\n".join(texts)
    assert "Chiffres par département" in whole and "21 – Côte-d'Or" in whole and "Population : région" in whole


def test_report_honours_every_dashboard_filter_and_prints_french_dates(session: Session, settings: Settings) -> None:
    load_survey(session, settings, {"21": 12, "71": 9})
    meeting_with(session, settings, {"21": 9}, present={})
    filters = stats.Filters(region="27", department="21", employer="epci")
    data = report.build_report(session, report.ReportRequest.of(filters), k=K, settings=settings)
    texts = pdf_pages(data)
    assert "Territoire : 21 – Côte-d'Or" in texts[0]
    assert "Filtres : " in texts[0] and "employeur un epci" in texts[0].lower()
    whole = "\n".join(texts)
    # The survey's respondents: those of the dashboard with the same filters (21 only, not 71's).
    respondents = stats.survey_stats(session, filters, k=K, settings=settings).respondents
    assert f"Population : {filters.describe()}. Répondants : {respondents}." in whole.replace("\n", " ")
    # The table by territory: the chosen department alone (not the other departments of its region).
    table = report.territory_table(session, report.ReportRequest.of(filters), K, settings=settings)
    assert list(table["Département"]) == ["21 – Côte-d'Or"]
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", whole)  # no ISO date: days as jj/mm/aaaa
    # The meetings table: its day as jj/mm/aaaa, its fill rate with a decimal comma (9 of 200 places).
    assert re.search(r"\d\d/\d\d/20\d\d Bourgogne-Franche-Comté 200 9 4,5 ", whole)


# ---------------------------------------------------------------------------- the command


def test_report_command_writes_the_pdf(database_url: str, factory: sessionmaker[Session], tmp_path: Path) -> None:
    out = tmp_path / "rapport.pdf"
    result = run_cli(
        database_url, "report", "--region", "27", "--month", date.today().strftime("%Y-%m"), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert f"Rapport écrit dans {out}" in result.stdout
    texts = pdf_pages(out.read_bytes())
    assert "Bourgogne-Franche-Comté" in texts[0]
    assert not list(tmp_path.glob(".*partiel"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--region", "99"], "région inconnue « 99 »"),
        (["--region", "Bourgogne"], "région inconnue « Bourgogne »"),
        (["--month", "2026-13"], "Date attendue au format AAAA-MM"),
        (["--month", "mars"], "Date attendue au format AAAA-MM"),
        (["--month", "2999-01"], "n'a pas encore commencé"),
    ],
)
def test_report_command_refuses_bad_arguments_and_writes_nothing(
    database_url: str, tmp_path: Path, arguments: list[str], message: str
) -> None:
    out = tmp_path / "rapport.pdf"
    result = run_cli(database_url, "report", *arguments, "--out", str(out))
    assert result.returncode == 2
    assert message in result.stderr and "Erreur dans les arguments" in result.stderr
    assert not list(tmp_path.iterdir())


def test_report_command_takes_the_dashboards_other_filters(
    database_url: str, factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    with factory.begin() as session:
        load_survey(session, settings, {"21": 12, "71": 9})
    out = tmp_path / "rapport.pdf"
    result = run_cli(database_url, "report", "--department", "21", "--employer", "commune", "--out", str(out))
    assert result.returncode == 0, result.stderr
    first_page = pdf_pages(out.read_bytes())[0]
    assert territory.department_label("21") in first_page and "Saône-et-Loire" not in first_page
    # A department outside the region, or an unknown employer: said in French, nothing written.
    for arguments, message in (
        (["--region", "11", "--department", "21"], "n'appartient pas à la région choisie"),
        (["--employer", "mairie"], "« mairie »"),
    ):
        refused = run_cli(database_url, "report", *arguments, "--out", str(tmp_path / "autre.pdf"))
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rapport.pdf"]


def test_report_command_needs_a_pdf_path_in_an_existing_folder(database_url: str, tmp_path: Path) -> None:
    for out, message in (
        (tmp_path / "rapport.txt", "doit finir par .pdf"),
        (tmp_path / "nulle/part.pdf", "n'existe pas"),
    ):
        result = run_cli(database_url, "report", "--out", str(out))
        assert result.returncode == 2 and message in result.stderr
    assert run_cli(database_url, "report").returncode == 2  # --out is required
    assert not list(tmp_path.iterdir())


def test_report_figures_match_the_dashboard_figures(factory: sessionmaker[Session], settings: Settings) -> None:
    with factory.begin() as session:
        load_survey(session, settings, {"21": 12, "71": 9})
    with db.read_only(factory) as session:
        table = report.territory_table(session, report.ReportRequest(region="27"), K, settings=settings)
        on_screen = overview.map_data(session, "respondents", "department", K, settings=settings)
    row = table[table["Département"] == "21 – Côte-d'Or"].iloc[0]
    assert row["Répondants au questionnaire"] == charts.map_value_text(on_screen.cells["21"])
