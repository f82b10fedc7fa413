"""French numbers and dates: decimal comma, narrow no-break space between thousands, jj/mm/aaaa."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from pvd_survey import chart_style, charts, french, overview, stats

pytestmark = pytest.mark.database_independent  # pure: run once, on SQLite (see conftest)

N = "\u202f"  # the thin space between thousands


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1199, f"1{N}199"),
        (1646, f"1{N}646"),
        (12, "12"),
        (63.6, "63,6"),
        (89.74, "89,7"),
        (70.0, "70"),
        (12345.67, f"12{N}345,7"),
        (-3.5, "-3,5"),
        (-0.04, "0"),
        (1_000_000, f"1{N}000{N}000"),
    ],
)
def test_numbers_read_the_french_way(value, text):
    assert french.number(value) == text


@pytest.mark.parametrize(("value", "text"), [(3.5, "+3,5"), (-2, "-2"), (0, "0"), (1200, f"+1{N}200")])
def test_changes_are_signed(value, text):
    assert french.signed(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (float("nan"), ""),
        (True, "oui"),
        (date(2026, 12, 7), "07/12/2026"),
        (datetime(2026, 12, 7, 9, 5), "07/12/2026 09:05"),
        ("masqué", "masqué"),
        (2500.26, f"2{N}500,3"),
    ],
)
def test_table_cells_read_the_french_way(value, text):
    assert french.cell(value) == text


def test_a_table_shown_to_people_has_no_decimal_point():
    shown = french.frame(pd.DataFrame({"Part (%)": [63.6, 89.7, None], "Effectif": ["12", "masqué", "1199"]}))
    assert list(shown["Part (%)"]) == ["63,6", "89,7", ""]
    assert list(shown["Effectif"]) == ["12", "masqué", "1199"]  # text is kept as it is


def test_key_figures_and_map_values_read_the_french_way():
    figure = overview.KeyFigure("Réponses au questionnaire publiées", 1199.0, 1000.0)
    assert figure.text() == f"1{N}199" and figure.change_text() == "+199"
    delay = overview.KeyFigure("Délai médian publication → pourvu", 63.6, 60.1, unit="j")
    assert delay.text() == "63,6 j" and delay.change_text() == "+3,5 j"
    assert charts.map_value_text(overview.MapCell("21", "Côte-d'Or", 1234.5)) == f"1{N}234,5"


def test_chart_axes_and_legends_use_the_french_locale():
    spec = charts.vega_spec(charts.funnel_chart, charts.funnel_frame([]))
    assert spec["config"]["locale"]["number"]["decimal"] == ","
    assert spec["config"]["locale"]["number"]["thousands"] == N


def test_chart_tooltips_group_thousands_the_french_way():
    """A tooltip's number is formatted with the grouping format, read with the French locale (not bare)."""
    import vl_convert

    frame = charts.funnel_frame([stats.FunnelRow("27", "Bourgogne-Franche-Comté", 123_456, 100_000)])
    spec = charts.vega_spec(charts.funnel_chart, frame)
    vega = vl_convert.vegalite_to_vega(spec)
    tooltips = [mark["encode"]["update"]["tooltip"]["signal"] for mark in vega["marks"] if "tooltip" in str(mark)]
    assert tooltips and all(f'format(datum["Nombre"], "{chart_style.TOOLTIP_NUMBER_FORMAT}")' in t for t in tooltips)
    assert chart_style.TOOLTIP_NUMBER_FORMAT.startswith(",")  # d3-format's grouping: the locale's thin space
    assert vega["config"]["locale"]["number"]["thousands"] == N
