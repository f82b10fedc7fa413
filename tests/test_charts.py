"""Chart builders: the same figures as the table, the 2022 comparison, hidden cells, PNG export."""

from __future__ import annotations

from pvd_survey import charts, stats
from pvd_survey.disclosure import Cell
from pvd_survey.stats import FigureStats, SurveyStats


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
    spec = charts.figure_chart(figures.figures["training_field"], frame, filters_active=True).to_dict()
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "n = 20" in subtitle
    assert "parts des répondants, le total dépasse 100 %" in subtitle
    assert "filtres actifs, les deux populations diffèrent" in subtitle
    assert {layer["mark"]["type"] for layer in spec["layer"]} == {"bar", "tick", "text"}  # never a pie


def test_chart_exports_as_png():
    figures = sample()
    chart = charts.figure_chart(figures.figures["gender"], charts.figure_frame(figures, "gender"), False)
    png = charts.chart_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
