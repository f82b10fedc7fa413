"""Numbers and dates the way French readers expect them, in one place: decimal comma, a narrow no-break space
between thousands, days as jj/mm/aaaa. Used on screen (tables, metrics, chart labels through VEGA_LOCALE), in the
PDF report and in chart descriptions. Files for tools keep the machine forms (exports.TOOLS); the CSV for people
writes a decimal comma and jj/mm/aaaa but no thousands separator, so that a spreadsheet still reads a number.

Light on purpose (the standard library, and pandas only for `frame`), like clock.py.
"""

from __future__ import annotations

import math
import numbers
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

THOUSANDS = "\u202f"  # NARROW NO-BREAK SPACE (espace fine insécable)
DECIMAL = ","
DAY_FORMAT = "%d/%m/%Y"
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

# Vega-Lite's `config.locale`: axis labels, legends and formatted tooltips in French (d3-format and d3-time-format).
VEGA_LOCALE: dict[str, dict[str, object]] = {
    "number": {"decimal": DECIMAL, "thousands": THOUSANDS, "grouping": [3], "currency": ["", "\u00a0€"]},
    "time": {
        "dateTime": "%A %e %B %Y à %X",
        "date": DAY_FORMAT,
        "time": "%H:%M:%S",
        "periods": ["", ""],
        "days": ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
        "shortDays": ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
        "months": list(MONTHS),
        "shortMonths": [
            "janv.",
            "févr.",
            "mars",
            "avr.",
            "mai",
            "juin",
            "juil.",
            "août",
            "sept.",
            "oct.",
            "nov.",
            "déc.",
        ],
    },
}


def number(value: float, decimals: int = 1) -> str:
    """A number as French text: '12 345,6' (at most `decimals` decimals, none written when they are zeros)."""
    if isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}".replace(",", THOUSANDS)
    figure = float(value)
    if not math.isfinite(figure):
        return ""
    text = f"{figure:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    text = text.replace(",", THOUSANDS).replace(".", DECIMAL)
    return "0" if text == "-0" else text


def count(value: int, singular: str, plural: str | None = None) -> str:
    """A number of things in French: '1 place', '0 place', '100 000 places' (plural: `singular` + 's' unless given)."""
    return f"{number(value)} {singular if abs(value) < 2 else plural or singular + 's'}"


def signed(value: float, decimals: int = 1) -> str:
    """A change as French text, always signed: '+1 200', '-3,5', '0'."""
    text = number(value, decimals)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def day(value: date) -> str:
    """A day as jj/mm/aaaa."""
    return value.strftime(DAY_FORMAT)


def cell(value: object) -> str:
    """A table cell as a person reads it: numbers and dates the French way, nothing for a missing value."""
    if value is None or isinstance(value, bool):
        return "" if value is None else ("oui" if value else "non")
    if isinstance(value, numbers.Real):
        return "" if isinstance(value, float) and math.isnan(value) else number(float(value))
    if isinstance(value, datetime):
        return value.strftime(f"{DAY_FORMAT} %H:%M")
    if isinstance(value, date):
        return day(value)
    return str(value)


def frame(table: pd.DataFrame) -> pd.DataFrame:
    """A table to show people: every cell as French text (see `cell`)."""
    return table.astype(object).apply(lambda column: column.map(cell)) if len(table) else table
