"""What every chart shares: text dark enough on white, French number formats, and whether a chart has anything
to draw. Applied to each chart's Vega-Lite spec by charts.vega_spec (the dashboard) and by the report."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pvd_survey import french

HIDDEN_TEXT = "masqué"
# Text colours of every chart (contrast on white at least 4.5:1: Vega's and Streamlit's grey #808495 is 3.7:1).
TEXT_COLOUR = "#161616"  # 17.7:1
SUBTITLE_COLOUR = "#3A3A3A"  # 11.4:1
# Applied to every chart by `readable` (vega_spec, the report): axes, legends and titles, none left to the defaults.
TEXT_CONFIG: dict[str, dict[str, str]] = {
    "axis": {"labelColor": TEXT_COLOUR, "titleColor": TEXT_COLOUR},
    "legend": {"labelColor": TEXT_COLOUR, "titleColor": TEXT_COLOUR},
    "header": {"labelColor": TEXT_COLOUR, "titleColor": TEXT_COLOUR},
    "title": {"color": TEXT_COLOUR, "subtitleColor": SUBTITLE_COLOUR},
}


TOOLTIP_NUMBER_FORMAT = ",.2~f"  # d3-format: thousands grouped, trailing zeros dropped (« 1 234,5 », « 87 »)


def readable(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with its text in TEXT_CONFIG's colours (axes, legends, titles) and French number formats, the rest
    of its config kept."""
    config = dict(spec.get("config") or {})
    for part, colours in TEXT_CONFIG.items():
        config[part] = {**(config.get(part) or {}), **colours}
    config["locale"] = french.VEGA_LOCALE  # axis labels and legends: decimal comma, thin space for thousands
    # Tooltips: without a format, Vega-Lite writes a number bare (« 100000 »); grouped, at most two decimals.
    config["tooltipFormat"] = {**(config.get("tooltipFormat") or {}), "numberFormat": TOOLTIP_NUMBER_FORMAT}
    return {**spec, "config": config}


def fully_masked(frame: pd.DataFrame, columns) -> bool:
    """True when a chart of these columns would draw nothing but its axes: rows there, every value hidden."""
    cells = frame[list(columns)].to_numpy().ravel()
    return len(frame) > 0 and all(value is None or value == HIDDEN_TEXT or pd.isna(value) for value in cells)
