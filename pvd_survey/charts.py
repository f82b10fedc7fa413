"""Pure Altair chart builders (and the tables under them) for the protected survey figures."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import altair as alt
import pandas as pd

from pvd_survey import drawing, french
from pvd_survey.chart_style import HIDDEN_TEXT, SUBTITLE_COLOUR, TEXT_COLOUR, readable
from pvd_survey.clock import paris_from_utc
from pvd_survey.stats import ACTIVITY_KINDS, FigureStats, SurveyStats, stats_rows
from pvd_survey.survey_questions import BASELINE_RESPONDENTS

STATE_BLUE = "#000091"  # bleu France
MARIANNE_RED = "#E1000F"

# Columns of the accessible table under each chart (also the chart's data).
TABLE_COLUMNS = ["Réponse", "Effectif", "Part (%)", "Mai 2022 (%)", "Écart (points)"]
# Items named in a chart's text description before "and N more" (the table under the chart has them all).
DESCRIBED_ITEMS = 40

_Chart = TypeVar("_Chart", bound=alt.TopLevelMixin)


def _number(value) -> str:
    """A figure as French text (decimal comma, thin space between thousands), 'masqué' kept as is."""
    return french.number(value) if isinstance(value, int | float) else str(value)


def _items(pairs: list[tuple[str, str]], limit: int = DESCRIBED_ITEMS) -> str:
    """'a : 1 ; b : 2 ; et 3 autres' for a chart's description."""
    text = " ; ".join(f"{name} : {value}" for name, value in pairs[:limit])
    if len(pairs) > limit:
        text += f" ; et {len(pairs) - limit} autres (voir le tableau)"
    return text or "aucune donnée affichée"


def accessible(chart: _Chart, description: str) -> _Chart:
    """The chart as one image with a French text alternative (its aria-label, from Vega-Lite's description).

    Marks and axes leave the accessibility tree: Vega's automatic labels for them are in English, and an empty
    layer would be an unnamed image (axe: svg-img-alt). The description, and the table under the chart, carry
    the figures.
    """
    return chart.properties(description=description).configure(aria=False).configure_mark(aria=False)


def figure_frame(stats: SurveyStats, code: str) -> pd.DataFrame:
    """One figure as a table: label, count, share, 2022 share and difference; hidden cells say so."""
    rows = [row for row in stats_rows(stats) if row["question"] == code]
    if code in ("department", "region"):
        # 101 departments (18 regions) would drown the chart: keep those with respondents.
        rows = [row for row in rows if row["suppressed"] or row["count"]]
    frame = pd.DataFrame(
        {
            "Réponse": [row["option_label"] for row in rows],
            "Effectif": [HIDDEN_TEXT if row["suppressed"] else str(row["count"]) for row in rows],
            "Part (%)": [row["share"] for row in rows],
            "Mai 2022 (%)": [row["share_2022"] for row in rows],
            "Écart (points)": [row["difference_points"] for row in rows],
        },
        columns=TABLE_COLUMNS,
    )
    return frame


def _share_label(effectif: object, share: object) -> str:
    """The text at a bar's end: 'masqué', the share the French way ('45,5 %'), or nothing."""
    if effectif == HIDDEN_TEXT:
        return HIDDEN_TEXT
    if not isinstance(share, int | float) or pd.isna(share):
        return ""
    return f"{share:.1f}".replace(".", ",") + "\u00a0%"


def _json_value(value: object) -> object:
    """A table cell as JSON: pandas' missing values become null."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return value


def figure_chart(figure: FigureStats, frame: pd.DataFrame, filters_active: bool) -> dict[str, Any]:
    """Live shares as bars, the May 2022 shares as red ticks, hidden cells labelled 'masqué'.

    Written as a Vega-Lite dict, not through Altair: the live dashboard rebuilds these charts after every release
    (Altair's objects cost about 30 ms a chart, this under one). tests/test_charts.py checks it against the schema.
    """
    subtitle = [f"n = {figure.answered} répondants à la question" if figure.answered is not None else "n masqué"]
    if figure.multiple:
        subtitle.append("Plusieurs réponses possibles : parts des répondants, le total dépasse 100 %.")
    if frame["Mai 2022 (%)"].notna().any():
        subtitle.append(f"Trait rouge : enquête de mai 2022 ({BASELINE_RESPONDENTS} répondants, tous territoires).")
        if filters_active:
            subtitle.append("Attention : filtres actifs, les deux populations diffèrent.")
    values = []
    for row in frame.itertuples(index=False):
        record = {column: _json_value(value) for column, value in zip(TABLE_COLUMNS, row, strict=True)}
        values.append({**record, "Libellé": _share_label(row[1], row[2])})
    y = {
        "field": "Réponse",
        "type": "nominal",
        "sort": list(frame["Réponse"]),
        "title": None,
        "axis": {"labelLimit": 260},
    }
    tooltip = [
        {"field": column, "type": "quantitative" if column in ("Part (%)", "Mai 2022 (%)") else "nominal"}
        for column in TABLE_COLUMNS
    ]
    share_axis = {"field": "Part (%)", "type": "quantitative"}
    return {
        "$schema": alt.SCHEMA_URL,
        "config": {
            "view": {"continuousWidth": 300, "continuousHeight": 300},
            "aria": False,
            "mark": {"aria": False},
            "axis": {"labelFontSize": 12, "titleFontSize": 12, "labelColor": TEXT_COLOUR, "titleColor": TEXT_COLOUR},
            "title": {"color": TEXT_COLOUR, "subtitleColor": SUBTITLE_COLOUR},
        },
        "data": {"values": values},
        "description": figure_description(figure, frame),
        "title": {"text": figure.label, "subtitle": subtitle, "anchor": "start"},
        "height": {"step": 26},
        "width": "container",
        "layer": [
            {
                "mark": {"type": "bar", "color": STATE_BLUE},
                "encoding": {
                    "x": {**share_axis, "title": "Part des répondants (%)", "scale": {"domain": [0, 100]}},
                    "y": y,
                    "tooltip": tooltip,
                },
            },
            {
                "mark": {"type": "tick", "color": MARIANNE_RED, "thickness": 3, "size": 18},
                "encoding": {"x": {"field": "Mai 2022 (%)", "type": "quantitative"}, "y": y, "tooltip": tooltip},
            },
            {
                "mark": {"type": "text", "align": "left", "dx": 4, "color": TEXT_COLOUR},
                "encoding": {
                    "x": {**share_axis, "impute": None},
                    "y": y,
                    "text": {"field": "Libellé", "type": "nominal"},
                },
                "transform": [{"calculate": "datum['Part (%)'] === null ? 0 : datum['Part (%)']", "as": "Part (%)"}],
            },
        ],
    }


def figure_description(figure: FigureStats, frame: pd.DataFrame) -> str:
    """The survey chart in words: what it shows, then each answer's share and its May 2022 share."""
    answered = f"{figure.answered} répondants" if figure.answered is not None else "nombre de répondants masqué"
    pairs = []
    for answer, count, share, share_2022 in zip(
        frame["Réponse"], frame["Effectif"], frame["Part (%)"], frame["Mai 2022 (%)"], strict=True
    ):
        value = HIDDEN_TEXT if count == HIDDEN_TEXT or share is None or pd.isna(share) else f"{_number(share)} %"
        if share_2022 is not None and not pd.isna(share_2022):
            value += f" (mai 2022 : {_number(share_2022)} %)"
        pairs.append((answer, value))
    return (
        f"Graphique en barres « {figure.label} » : part des répondants pour chaque réponse ({answered}), "
        f"comparée à l'enquête de mai 2022 (trait rouge). {_items(pairs)}."
    )


# Vega-Lite specs already built, by builder and input. The live dashboard draws the same charts every few seconds:
# building the Altair objects and checking them against the Vega-Lite schema was 95 % of a refresh's CPU.
SPEC_CACHE_SIZE = 256
_specs: OrderedDict[str, dict[str, Any]] = OrderedDict()
_specs_lock = threading.Lock()


def _input_key(value: object) -> str:
    if isinstance(value, pd.DataFrame):  # (a frame's repr elides rows: its full content in JSON instead)
        return value.to_json(orient="split", date_format="iso", default_handler=str)
    return repr(value)


def vega_spec(
    builder: Callable[..., alt.TopLevelMixin | dict[str, Any]], *args: object, **kwargs: object
) -> dict[str, Any]:
    """`builder(*args, **kwargs)` as a Vega-Lite dict, built once per distinct input and then reused (a bounded cache
    shared by every session; the dict must not be changed)."""
    digest = hashlib.sha256(f"{builder.__module__}.{builder.__qualname__}".encode())
    for value in (*args, *sorted(kwargs.items())):
        digest.update(_input_key(value).encode())
        digest.update(b"\x00")
    key = digest.hexdigest()
    with _specs_lock:
        spec = _specs.get(key)
        if spec is not None:
            _specs.move_to_end(key)
            return spec
    # Unchecked against the Vega-Lite schema here (half of the conversion's time): tests/test_charts.py checks every
    # builder's output against it.
    built = builder(*args, **kwargs)
    spec = readable(built if isinstance(built, dict) else built.to_dict(validate=False))
    with _specs_lock:
        _specs[key] = spec
        while len(_specs) > SPEC_CACHE_SIZE:
            _specs.popitem(last=False)
    return spec


def chart_png(spec: dict[str, Any], width: int | None = 640) -> bytes:
    """A chart's Vega-Lite spec as a PNG image, `width` px wide or at its own size, drawn in this process."""
    return drawing.png(spec, width)


FUNNEL_COLUMNS = ("Invitations", "Réponses publiées")


def funnel_frame(rows) -> pd.DataFrame:
    """Invitations and published answers by region (stats.invitation_funnel), hidden counts as None."""
    return pd.DataFrame(
        {
            "Région": [row.label for row in rows],
            "Invitations": [row.invited for row in rows],
            "Réponses publiées": [row.answered for row in rows],
        }
    )


def funnel_chart(frame: pd.DataFrame) -> alt.Chart:
    """Invitations and published answers by region, as grouped bars (hidden counts left out)."""
    steps = list(FUNNEL_COLUMNS)
    long = frame.melt(id_vars=["Région"], value_vars=steps, var_name="Étape", value_name="Nombre").dropna()
    pairs = [
        (
            row["Région"],
            ", ".join(f"{step.lower()} {HIDDEN_TEXT if pd.isna(row[step]) else _number(row[step])}" for step in steps),
        )
        for _, row in frame.iterrows()
    ]
    description = (
        "Barres groupées « Invitations et réponses par région » : invitations actives, et réponses publiées "
        f"reçues par lien, par région. {_items(pairs)}."
    )
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("Région:N", title=None, sort=list(frame["Région"])),
            x=alt.X("Nombre:Q", title="Personnes"),
            yOffset=alt.YOffset("Étape:N", sort=steps),
            color=alt.Color("Étape:N", sort=steps, scale=alt.Scale(range=["#CACAFB", STATE_BLUE])),
            tooltip=["Région", "Étape", "Nombre"],
        )
        .properties(title="Invitations et réponses par région", width="container")
    )
    return accessible(chart, description)


# ---------------------------------------------------------------------------- activity


def activity_frame(rows) -> pd.DataFrame:
    """Weeks as rows, one column per kind of activity; hidden weeks read 'masqué'."""
    weeks = sorted({row.week for row in rows})
    cells = {(row.week, row.kind): row.count for row in rows}
    frame = pd.DataFrame({"Semaine du": [week.strftime("%d/%m/%Y") for week in weeks]})
    for kind, label in ACTIVITY_KINDS.items():
        frame[label] = [HIDDEN_TEXT if cells.get((week, kind)) is None else str(cells[(week, kind)]) for week in weeks]
    return frame


def activity_chart(frame: pd.DataFrame) -> alt.Chart:
    """One line per kind of activity, week by week (hidden weeks left as gaps)."""
    long = frame.melt(id_vars=["Semaine du"], var_name="Activité", value_name="Nombre")
    long = long[long["Nombre"] != HIDDEN_TEXT].astype({"Nombre": int})
    kinds = [column for column in frame.columns if column != "Semaine du"]
    pairs = [
        (f"semaine du {row['Semaine du']}", ", ".join(f"{kind.lower()} {row[kind]}" for kind in kinds))
        for _, row in frame.iterrows()
    ]
    description = (
        "Courbes « Activité des douze dernières semaines » : nombre par semaine de "
        f"{', '.join(kind.lower() for kind in kinds)}. {_items(pairs)}."
    )
    chart = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("Semaine du:N", sort=list(frame["Semaine du"]), title="Semaine du"),
            y=alt.Y("Nombre:Q", title="Par semaine"),
            color=alt.Color("Activité:N", scale=alt.Scale(range=[STATE_BLUE, MARIANNE_RED, "#18753C"])),
            tooltip=["Semaine du", "Activité", "Nombre"],
        )
        .properties(title="Activité des douze dernières semaines", width="container")
    )
    return accessible(chart, description)


# ---------------------------------------------------------------------------- meetings


def meetings_frame(figures) -> pd.DataFrame:
    """One row per meeting: places, confirmed, fill rate, waiting list, cancellations, present."""
    return pd.DataFrame(
        {
            "Rencontre": [line.meeting.title for line in figures.meetings],
            "Date": [french.day(paris_from_utc(line.meeting.starts_at).date()) for line in figures.meetings],
            "Région": [line.meeting.region_label for line in figures.meetings],
            "Places": [line.meeting.capacity for line in figures.meetings],
            "Confirmés": [line.meeting.confirmed for line in figures.meetings],
            "Remplissage (%)": [line.fill_rate for line in figures.meetings],
            "Liste d'attente": [line.meeting.waiting for line in figures.meetings],
            "Annulations": [line.cancellations for line in figures.meetings],
            "Présents": [line.present for line in figures.meetings],
        }
    )


MEETINGS_EXPORT_COLUMNS = (
    "Rencontre",
    "Date",
    "Région",
    "Places",
    "Confirmés",
    "Remplissage (%)",
    "Liste d'attente",
    "Annulations",
    "Présents",
)


def meetings_export_rows(figures) -> list[tuple[object, ...]]:
    """The meetings table as typed rows for exports.table (the day a real date, in French time)."""
    return [
        (
            line.meeting.title,
            paris_from_utc(line.meeting.starts_at).date(),
            line.meeting.region_label,
            line.meeting.capacity,
            line.meeting.confirmed,
            line.fill_rate,
            line.meeting.waiting,
            line.cancellations,
            line.present,
        )
        for line in figures.meetings
    ]


def fill_rate_chart(frame: pd.DataFrame) -> alt.Chart:
    """Fill rate per meeting (horizontal bars, 100 % marked), waiting list in the tooltip."""
    bars = (
        alt.Chart(frame)
        .mark_bar(color=STATE_BLUE)
        .encode(
            y=alt.Y("Rencontre:N", title=None, sort=list(frame["Rencontre"])),
            x=alt.X(
                "Remplissage (%):Q", title="Places confirmées (% de la capacité)", scale=alt.Scale(domain=[0, 100])
            ),
            tooltip=[
                "Rencontre",
                "Date",
                "Région",
                "Places",
                "Confirmés",
                "Remplissage (%)",
                # A quote in a field name must be escaped, or Vega cannot read the field and draws nothing.
                alt.Tooltip("Liste d\\'attente:Q", title="Liste d'attente"),
            ],
        )
    )
    pairs = [
        (row["Rencontre"], f"{_number(row['Remplissage (%)'])} % de {row['Places']} places")
        for _, row in frame.iterrows()
    ]
    description = (
        "Barres « Remplissage des rencontres » : places confirmées en pourcentage de la capacité, "
        f"par rencontre. {_items(pairs)}."
    )
    return accessible(bars.properties(title="Remplissage des rencontres", width="container"), description)


def attendance_frame(rows, group_title: str) -> pd.DataFrame:
    """Attendance of past meetings by group; hidden groups say so (as text, so the column has one type)."""
    return pd.DataFrame(
        {
            group_title: [row.group for row in rows],
            "Confirmés": [HIDDEN_TEXT if row.confirmed is None else str(row.confirmed) for row in rows],
            "Présents": [HIDDEN_TEXT if row.present is None else str(row.present) for row in rows],
            "Taux de présence (%)": [HIDDEN_TEXT if row.rate is None else str(row.rate) for row in rows],
        }
    )


def attendance_chart(frame: pd.DataFrame, group_title: str) -> alt.Chart:
    """Attendance rate by group (hidden groups left out)."""
    shown = frame[frame["Taux de présence (%)"] != HIDDEN_TEXT].astype({"Taux de présence (%)": float})
    pairs = [
        (
            row[group_title],
            HIDDEN_TEXT
            if row["Taux de présence (%)"] == HIDDEN_TEXT
            else f"{_number(float(row['Taux de présence (%)']))} %",
        )
        for _, row in frame.iterrows()
    ]
    description = (
        f"Barres « Taux de présence par {group_title.lower()} » : présents en pourcentage des confirmés, "
        f"rencontres passées. {_items(pairs)}."
    )
    chart = (
        alt.Chart(shown)
        .mark_bar(color=STATE_BLUE)
        .encode(
            y=alt.Y(f"{group_title}:N", title=None),
            x=alt.X("Taux de présence (%):Q", title="Présents / confirmés (%)", scale=alt.Scale(domain=[0, 100])),
            tooltip=[group_title, "Confirmés", "Présents", "Taux de présence (%)"],
        )
        .properties(title=f"Taux de présence par {group_title.lower()}", width="container")
    )
    return accessible(chart, description)


# ---------------------------------------------------------------------------- recruitment


def recruitment_frames(figures) -> dict[str, pd.DataFrame]:
    """The recruitment figures (recruitment.RecruitmentFigures) as tables; hidden counts read 'masqué'."""
    return {
        "states": pd.DataFrame(figures.postings_by_region_state, columns=["Région", "État", "Offres"]),
        "applications": pd.DataFrame(
            [
                (region, postings, HIDDEN_TEXT if applications is None else str(applications))
                for region, postings, applications in figures.applications_by_region
            ],
            columns=["Région", "Offres publiées", "Candidatures"],
        ),
        "per_posting": pd.DataFrame(figures.applications_per_posting, columns=["Candidatures par offre", "Offres"]),
        "vacant": pd.DataFrame(figures.vacant_by_department, columns=["Département", "Postes vacants"]),
    }


def postings_state_chart(frame: pd.DataFrame) -> alt.Chart:
    """Postings by region, stacked by state."""
    order = ["Publiée", "Close", "Pourvue", "Brouillon"]
    by_region: dict[str, list[str]] = {}
    for _, row in frame.iterrows():
        by_region.setdefault(row["Région"], []).append(f"{row['État'].lower()} {row['Offres']}")
    description = (
        "Barres empilées « Offres par région et par état » : nombre d'offres publiées, closes, pourvues et en "
        f"brouillon, par région. {_items([(region, ', '.join(states)) for region, states in by_region.items()])}."
    )
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("Région:N", title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("Offres:Q", title="Offres"),
            color=alt.Color(
                "État:N", sort=order, scale=alt.Scale(domain=order, range=[STATE_BLUE, "#6A6AF4", "#18753C", "#CACAFB"])
            ),
            order=alt.Order("État:N"),
            tooltip=["Région", "État", "Offres"],
        )
        .properties(title="Offres par région et par état", width="container")
    )
    return accessible(chart, description)


def applications_per_posting_chart(frame: pd.DataFrame) -> alt.Chart:
    """How many postings received 0, 1 to 4, 5 to 9... applications (counts of postings, not of people)."""
    pairs = [
        (f"{row['Candidatures par offre']} candidatures", f"{row['Offres']} offres") for _, row in frame.iterrows()
    ]
    description = (
        "Histogramme « Nombre de candidatures reçues par offre » : nombre d'offres publiées selon le nombre de "
        f"candidatures reçues. {_items(pairs)}."
    )
    chart = (
        alt.Chart(frame)
        .mark_bar(color=STATE_BLUE)
        .encode(
            x=alt.X("Candidatures par offre:N", sort=list(frame["Candidatures par offre"]), title="Candidatures"),
            y=alt.Y("Offres:Q", title="Offres publiées"),
            tooltip=["Candidatures par offre", "Offres"],
        )
        .properties(title="Nombre de candidatures reçues par offre", width="container")
    )
    return accessible(chart, description)


def vacant_chart(frame: pd.DataFrame, limit: int = 25) -> alt.Chart:
    """Vacant posts (published, or closed without being filled) by department, the most first."""
    top = frame.head(limit)
    pairs = [(row["Département"], str(row["Postes vacants"])) for _, row in top.iterrows()]
    description = (
        f"Barres « Postes vacants par département » : les {len(top)} départements qui en comptent le plus "
        f"(offres publiées, ou closes sans être pourvues). {_items(pairs)}."
    )
    chart = (
        alt.Chart(top)
        .mark_bar(color=MARIANNE_RED)
        .encode(
            y=alt.Y("Département:N", sort=list(top["Département"]), title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("Postes vacants:Q", title="Postes vacants"),
            tooltip=["Département", "Postes vacants"],
        )
        .properties(title="Postes vacants par département", width="container")
    )
    return accessible(chart, description)


# ---------------------------------------------------------------------------- map of France (tile grid)

MAP_TABLE_COLUMNS = {"department": ["Département", "Région", "Valeur"], "region": ["Région", "Valeur"]}


def map_value_text(cell) -> str:
    """A map value as shown: 'masqué' when protected, '—' when there is nothing to measure, else in French."""
    if cell.hidden:
        return HIDDEN_TEXT
    return "—" if cell.value is None else french.number(cell.value)


def map_frame(data) -> pd.DataFrame:
    """One row per department: its tile, its region and the measure (overview.MapData at either level).

    At region level each department takes its region's value, so the same tiles draw the regions.
    """
    from pvd_survey import territory

    rows = []
    for code, (column, row) in territory.TILES.items():
        region = territory.region_of_department(code)
        cell = data.cells[code if data.level == "department" else region]
        rows.append(
            {
                "department": code,
                "region": region,
                "column": column,
                "row": row,
                "Département": territory.department_label(code),
                "Région": territory.REGIONS[region],
                "value": cell.value,
                "Valeur": map_value_text(cell),
            }
        )
    return pd.DataFrame(rows)


def map_table(data) -> pd.DataFrame:
    """The table under the map: one row per department (or region), largest values first, hidden ones last."""
    frame = map_frame(data)
    columns = MAP_TABLE_COLUMNS[data.level]
    if data.level == "region":
        frame = frame.drop_duplicates("region")
    frame = frame.sort_values(["value", columns[0]], ascending=[False, True], na_position="last")
    return frame[columns].rename(columns={"Valeur": data.label}).reset_index(drop=True)


def tile_map_chart(
    data, selected: str | None = None, selectable: bool = True, tile: int = 34, k: int = 5
) -> alt.LayerChart:
    """France as a tile grid coloured by the measure (hidden and empty tiles grey), clickable by department."""
    from pvd_survey import territory

    frame = map_frame(data)
    field = "department" if data.level == "department" else "region"
    frame["selected"] = frame[field] == selected if selected else False
    x = alt.X("column:O", axis=None, scale=alt.Scale(domain=list(range(territory.TILE_COLUMNS))))
    y = alt.Y("row:O", axis=None, scale=alt.Scale(domain=list(range(territory.TILE_ROWS))))
    tooltip = ["Département:N", "Région:N", alt.Tooltip("Valeur:N", title=data.label)]
    top = frame["value"].max()
    color = alt.Color(
        "value:Q",
        title=None,  # (the chart's title names the measure: a narrower legend keeps the map beside the key figures)
        # From zero, and a top of at least 1, so that a map of zeros reads pale, not mid-blue.
        scale=alt.Scale(scheme="blues", domainMin=0, domainMax=float(top) if pd.notna(top) and top > 1 else 1),
        # Whole numbers only on the legend (a gradient legend ignores tickMinStep).
        legend=alt.Legend(format="d", tickCount=int(min(5, max(1, top if pd.notna(top) else 1)))),
    )
    base = alt.Chart(frame).encode(x=x, y=y)
    # invalid="show": tiles without a value (hidden or no data) are drawn grey rather than dropped.
    tiles = base.mark_rect(cornerRadius=3, invalid="show").encode(
        color=color,
        stroke=alt.when(alt.datum.selected).then(alt.value(MARIANNE_RED)).otherwise(alt.value("white")),
        strokeWidth=alt.when(alt.datum.selected).then(alt.value(3)).otherwise(alt.value(1.5)),
        tooltip=tooltip,
    )
    if selectable:
        tiles = tiles.add_params(alt.selection_point(name="carte", fields=[field], on="click", clear="dblclick"))
    # Codes readable on dark and light tiles alike.
    threshold = frame["value"].max() / 2 if frame["value"].notna().any() else 0
    labels = base.mark_text(fontSize=9).encode(
        text="department:N",
        color=alt.when(alt.datum.value > threshold).then(alt.value("white")).otherwise(alt.value("#161616")),
        tooltip=tooltip,
    )
    level = "département" if data.level == "department" else "région"
    shown = map_table(data)
    description = (
        f"Carte de France par {level} : {data.label}. Le tableau sous la carte donne chaque valeur. "
        + _items([(str(row.iloc[0]), str(row.iloc[-1])) for _, row in shown.head(10).iterrows()])
        + "."
    )
    chart = (
        alt.layer(tiles, labels)
        .properties(
            title=alt.TitleParams(
                f"{data.label} par {level}",
                subtitle=[
                    (
                        f"Gris : masqué (moins de {k} personnes) ou sans donnée."
                        if data.counts_people
                        else "Gris : sans donnée."
                    )
                    + " En bas : outre-mer ; à droite : Corse."
                ],
                anchor="start",
            ),
            width=tile * territory.TILE_COLUMNS,
            height=tile * territory.TILE_ROWS,
            # Tiles keep their size (the legend and title are added around them), so they stay square.
            autosize=alt.AutoSizeParams(type="pad"),
        )
        .configure_scale(invalid={"color": {"value": "#E5E5E5"}})
    )
    return accessible(chart, description).configure_view(strokeWidth=0)
