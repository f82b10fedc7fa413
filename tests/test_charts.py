"""Chart builders: the same figures as the table, the 2022 comparison, hidden cells, PNG export."""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import pandas as pd
import pytest

from pvd_survey import chart_style, charts, overview, stats, territory
from pvd_survey.disclosure import Cell
from pvd_survey.stats import FigureStats, SurveyStats

pytestmark = pytest.mark.database_independent  # pure: run once, on SQLite (see conftest)


def checked_spec(chart: alt.TopLevelMixin | dict) -> dict:
    """A builder's Vega-Lite dict, checked against the Vega-Lite schema (charts.vega_spec skips the check)."""
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    alt.Root.validate(spec)
    return spec


def sample(filters: stats.Filters | None = None) -> SurveyStats:
    gender = FigureStats(
        "gender",
        "Genre",
        False,
        20,
        {"femme": Cell(None, None), "homme": Cell(None, None), "autre": Cell(0, 0.0)},
    )
    training = FigureStats(
        "training_field",
        "Domaine(s) principal(aux) de formation",
        True,
        20,
        {"urbanisme_amenagement": Cell(15, 75.0), "architecture": Cell(9, 45.0)},
    )
    return SurveyStats(filters or stats.Filters(), 5, 20, {"gender": gender, "training_field": training})


def test_table_says_masqué_and_gives_2022_shares():
    frame = charts.figure_frame(sample(), "gender")
    assert list(frame.columns) == charts.TABLE_COLUMNS
    assert list(frame["Effectif"]) == ["masqué", "masqué", "0"]
    assert list(frame["Mai 2022 (%)"])[:2] == [70, 30]


def test_multi_choice_chart_says_shares_of_respondents_and_notes_filters():
    figures = sample(stats.Filters(region="27"))
    frame = charts.figure_frame(figures, "training_field")
    spec = checked_spec(charts.figure_chart(figures.figures["training_field"], frame, filters_active=True))
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "n = 20" in subtitle
    assert "parts des répondants, le total dépasse 100 %" in subtitle
    assert "filtres actifs, les deux populations diffèrent" in subtitle
    assert {layer["mark"]["type"] for layer in spec["layer"]} == {"bar", "tick", "text"}  # never a pie


def test_chart_exports_as_png():
    figures = sample()
    spec = charts.vega_spec(
        charts.figure_chart, figures.figures["gender"], charts.figure_frame(figures, "gender"), False
    )
    png = charts.chart_png(spec)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert spec["width"] == "container"  # the PNG's own width went to a copy: the shared spec is unchanged


def test_a_chart_spec_is_built_once_per_input_and_a_new_figure_gets_its_own(monkeypatch):
    """The live dashboard asks for the same charts every few seconds: same input, the same spec without building
    the chart again; any moved figure (a count, a label) builds a new one."""
    built = []

    def counted(frame):
        built.append(len(frame))
        return charts.funnel_chart(frame)

    monkeypatch.setattr(charts, "_specs", charts.OrderedDict())
    rows = [stats.FunnelRow("27", "Bourgogne-Franche-Comté", 12, 7), stats.FunnelRow("11", "Île-de-France", 9, None)]
    first = charts.vega_spec(counted, charts.funnel_frame(rows))
    again = charts.vega_spec(counted, charts.funnel_frame(list(rows)))
    assert again is first and built == [2]
    moved = charts.vega_spec(counted, charts.funnel_frame([rows[0], stats.FunnelRow("11", "Île-de-France", 9, 5)]))
    assert moved != first and built == [2, 2]
    assert "Île-de-France" in str(moved["datasets"]) and moved["description"] != first["description"]
    # Bounded: the oldest spec leaves first.
    monkeypatch.setattr(charts, "SPEC_CACHE_SIZE", 1)
    charts.vega_spec(counted, charts.funnel_frame(rows[:1]))
    assert list(charts._specs.values()) == [charts.vega_spec(counted, charts.funnel_frame(rows[:1]))]
    assert len(built) == 3


def test_only_the_first_half_of_2022_gets_the_may_2022_share():
    periods = FigureStats(
        "start_period",
        "Période de prise de poste",
        False,
        30,
        {"2021-S2": Cell(10, 33.3), "2022-S1": Cell(10, 33.3), "2022-S2": Cell(10, 33.3)},
    )
    rows = {
        row["option"]: row for row in stats.stats_rows(SurveyStats(stats.Filters(), 5, 30, {"start_period": periods}))
    }
    assert rows["2021-S2"]["share_2022"] == 61
    assert rows["2022-S1"]["share_2022"] == 24
    assert rows["2022-S2"]["share_2022"] is None and rows["2022-S2"]["difference_points"] is None


def _builders() -> dict[str, Callable[[], alt.TopLevelMixin | dict]]:
    """Every chart builder with small inputs, as the dashboard passes them."""
    figures = sample()
    funnel = charts.funnel_frame(
        [stats.FunnelRow("53", "Bretagne", 12, 8), stats.FunnelRow("28", "Normandie", None, None)]
    )
    activity = pd.DataFrame({"Semaine du": ["02/11/2026", "09/11/2026"]})
    for label in stats.ACTIVITY_KINDS.values():
        activity[label] = ["7", charts.HIDDEN_TEXT]
    meetings = pd.DataFrame(
        {"Rencontre": ["Rencontre de Dijon"], "Date": ["2026-12-20"], "Région": ["Bourgogne-Franche-Comté"]}
    ).assign(Places=80, Confirmés=64, **{"Remplissage (%)": 80.0, "Liste d'attente": 0, "Annulations": 1})
    attendance = pd.DataFrame(
        {"Région": ["Normandie", "Bretagne"], "Confirmés": ["58", "masqué"], "Présents": ["49", "masqué"]}
    ).assign(**{"Taux de présence (%)": ["84.5", "masqué"]})
    return {
        "figure_chart": lambda: charts.figure_chart(
            figures.figures["gender"], charts.figure_frame(figures, "gender"), False
        ),
        "funnel_chart": lambda: charts.funnel_chart(funnel),
        "activity_chart": lambda: charts.activity_chart(activity),
        "fill_rate_chart": lambda: charts.fill_rate_chart(meetings),
        "attendance_chart": lambda: charts.attendance_chart(attendance, "Région"),
        "postings_state_chart": lambda: charts.postings_state_chart(
            pd.DataFrame([("Bretagne", "Publiée", 3), ("Bretagne", "Close", 1)], columns=["Région", "État", "Offres"])
        ),
        "applications_per_posting_chart": lambda: charts.applications_per_posting_chart(
            pd.DataFrame([("0", 2), ("1 à 4", 5)], columns=["Candidatures par offre", "Offres"])
        ),
        "vacant_chart": lambda: charts.vacant_chart(
            pd.DataFrame([("21 – Côte-d'Or", 2)], columns=["Département", "Postes vacants"])
        ),
        "tile_map_chart": lambda: charts.tile_map_chart(
            overview.MapData(
                "respondents",
                "department",
                {
                    code: overview.MapCell(
                        code, territory.department_label(code), None if code == "2A" else 7, code == "2A"
                    )
                    for code in territory.DEPARTMENTS
                },
            )
        ),
    }


def test_every_chart_builder_is_checked_for_a_text_alternative():
    builders = {name for name, value in vars(charts).items() if name.endswith("_chart") and callable(value)}
    assert builders == set(_builders())


@pytest.mark.parametrize("name", sorted(_builders()))
def test_every_chart_has_a_french_description_and_no_unnamed_marks(name):
    spec = checked_spec(_builders()[name]())
    # Vega-Lite puts the top-level description in the chart's aria-label.
    description = spec["description"]
    assert description.startswith(("Graphique", "Barres", "Courbes", "Histogramme", "Carte")) and " : " in description
    # Marks and axes are left out of the accessibility tree (Vega's own labels for them are English).
    assert spec["config"]["aria"] is False and spec["config"]["mark"]["aria"] is False


def test_description_gives_the_figures_and_says_masqué():
    figures = sample()
    gender = checked_spec(charts.figure_chart(figures.figures["gender"], charts.figure_frame(figures, "gender"), False))
    assert "Femme : masqué (mai 2022 : 70 %)" in gender["description"]
    assert "Autre : 0 %" in gender["description"]
    training = charts.figure_frame(figures, "training_field")
    text = charts.figure_description(figures.figures["training_field"], training)
    assert "Urbanisme et aménagement : 75 % (mai 2022 : 64 %)" in text and "20 répondants" in text


def test_survey_bars_say_shares_the_french_way_and_masqué_where_hidden():
    figures = sample()
    spec = checked_spec(
        charts.figure_chart(figures.figures["training_field"], charts.figure_frame(figures, "training_field"), False)
    )
    labels = {row["Réponse"]: row["Libellé"] for row in spec["data"]["values"]}
    assert labels == {"Urbanisme et aménagement": "75,0\u00a0%", "Architecture": "45,0\u00a0%"}
    gender = checked_spec(charts.figure_chart(figures.figures["gender"], charts.figure_frame(figures, "gender"), False))
    assert [row["Libellé"] for row in gender["data"]["values"]] == ["masqué", "masqué", "0,0\u00a0%"]
    # The text the chart draws is dark enough on white (4.5:1 at least; Vega's default grey is 3.7:1).
    assert spec["config"]["axis"]["labelColor"] == spec["config"]["title"]["color"] == charts.TEXT_COLOUR


def test_funnel_shows_invitations_and_published_answers_only():
    frame = charts.funnel_frame([stats.FunnelRow("53", "Bretagne", 12, 8), stats.FunnelRow("", "Autre", 7, None)])
    assert list(frame.columns) == ["Région", "Invitations", "Réponses publiées"]
    description = charts.funnel_chart(frame).to_dict()["description"]
    assert "Bretagne : invitations 12, réponses publiées 8" in description and "réponses publiées masqué" in description
    # No opened or answered step per person, no date: only what the funnel publishes.
    assert not {"Ouverts", "Répondus", "Invités"} & set(frame.columns)


def test_attendance_description_reads_rates_the_french_way():
    frame = pd.DataFrame(
        {"Profil": ["Élu", "Partenaire"], "Confirmés": ["12", "masqué"], "Présents": ["10", "masqué"]}
    ).assign(**{"Taux de présence (%)": ["83.3", "masqué"]})
    description = charts.attendance_chart(frame, "Profil").to_dict()["description"]
    assert "Élu : 83,3 % ; Partenaire : masqué." in description


@pytest.mark.parametrize("name", sorted(_builders()))
def test_every_chart_renders(name):
    # What the browser draws: a field Vega cannot read (e.g. an unescaped quote) fails here, not silently.
    import vl_convert

    svg = vl_convert.vegalite_to_svg(checked_spec(_builders()[name]()))
    assert svg.startswith("<svg")


@pytest.mark.parametrize(
    ("values", "masked"),
    [
        ([None, None], True),  # the funnel of a fresh programme: every region hidden
        ([charts.HIDDEN_TEXT, charts.HIDDEN_TEXT], True),
        ([float("nan"), charts.HIDDEN_TEXT], True),
        ([None, 8], False),
        (["7", charts.HIDDEN_TEXT], False),
        ([], False),  # no row: nothing hidden, nothing to say about masking
    ],
)
def test_a_chart_whose_every_figure_is_hidden_is_told_apart(values, masked):
    # The dashboard then writes a sentence instead of drawing bare axes (« 0.000000 »).
    frame = pd.DataFrame({"Région": ["x"] * len(values), "Nombre": values})
    assert chart_style.fully_masked(frame, ["Nombre"]) is masked


def _luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[index : index + 2], 16) / 255 for index in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_on_white(colour: str) -> float:
    """WCAG's contrast ratio of a #RRGGBB colour on white."""
    return 1.05 / (_luminance(colour) + 0.05)


def test_contrast_is_computed_as_wcag_does():
    assert round(contrast_on_white("#808495"), 2) == 3.72  # Vega's and Streamlit's grey: what issue 22 measured
    assert round(contrast_on_white("#767676"), 1) == 4.5


@pytest.mark.parametrize("name", sorted(_builders()))
def test_every_chart_text_reads_at_least_4_5_to_1_on_white(name):
    built = _builders()[name]()
    spec = charts.readable(built if isinstance(built, dict) else built.to_dict())
    config = spec["config"]
    # Every text the chart may draw has its colour set here (none left to Vega's or Streamlit's grey).
    for part, keys in {
        "axis": ("labelColor", "titleColor"),
        "legend": ("labelColor", "titleColor"),
        "title": ("color", "subtitleColor"),
    }.items():
        for key in keys:
            assert contrast_on_white(config[part][key]) >= 4.5, (part, key)


def test_the_dashboard_and_the_report_get_the_readable_colours():
    frame = charts.funnel_frame([stats.FunnelRow("53", "Bretagne", 12, 8)])
    spec = charts.vega_spec(charts.funnel_chart, frame)
    assert spec["config"]["axis"]["labelColor"] == charts.TEXT_COLOUR
    assert spec["config"]["aria"] is False  # the builder's own config kept


def test_the_map_says_masqué_about_people_only():
    cells = {code: overview.MapCell(code, territory.department_label(code), 7) for code in territory.DEPARTMENTS}
    people, postings = (overview.MapData(measure, "department", cells) for measure in ("registered", "days_to_fill"))
    people_title = checked_spec(charts.tile_map_chart(people, k=5))["title"]["subtitle"][0]
    postings_title = checked_spec(charts.tile_map_chart(postings, k=5))["title"]["subtitle"][0]
    assert "moins de 5 personnes" in people_title
    assert postings_title.startswith("Gris : sans donnée.") and "personnes" not in postings_title


# ---------------------------------------------------------------------------- the report's drawing processes

BIG_CHART = {
    "data": {"values": [{"a": n, "b": n % 97} for n in range(3000)]},
    "mark": "point",
    "encoding": {"x": {"field": "a", "type": "quantitative"}, "y": {"field": "b", "type": "quantitative"}},
}


def _kill_drawing_processes() -> list[int]:
    import os
    import signal

    from pvd_survey import drawing

    assert drawing._pool is not None
    pids = list(drawing._pool._processes)  # (the executor's own table of its workers)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def test_drawing_processes_killed_while_idle_are_replaced_before_the_next_chart():
    """An out-of-memory kill or an operator's `kill` between two reports must not fail the next report."""
    from pvd_survey import drawing

    first = [future.result(timeout=60) for future in drawing.draw_all([BIG_CHART] * 2)]
    assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in first)
    killed = _kill_drawing_processes()
    import time

    deadline = time.monotonic() + 30
    while drawing._pool is not None and not drawing._pool._broken and time.monotonic() < deadline:
        time.sleep(0.05)  # the executor notices its dead workers on its own thread
    again = [future.result(timeout=60) for future in drawing.draw_all([BIG_CHART] * 3)]
    assert again == [first[0]] * 3  # the same chart, the same image, drawn by new processes
    assert drawing._pool is not None and not set(drawing._pool._processes) & set(killed)


def test_drawing_processes_killed_while_drawing_fail_those_charts_and_the_next_ones_are_drawn():
    from concurrent.futures import CancelledError
    from concurrent.futures.process import BrokenProcessPool

    from pvd_survey import drawing

    [drawing.draw_all([BIG_CHART])[0].result(timeout=60)]  # started
    futures = drawing.draw_all([BIG_CHART] * 12)
    _kill_drawing_processes()
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(timeout=60)[:4])
        except (BrokenProcessPool, CancelledError):  # failed, or never started once the pool was ended
            outcomes.append("cassé")
    assert "cassé" in outcomes  # twelve charts cannot all have been drawn in the instant before the kill
    assert all(png[:4] == b"\x89PNG" for png in (f.result(timeout=60) for f in drawing.draw_all([BIG_CHART] * 2)))
