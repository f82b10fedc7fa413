"""Live dashboard of the programme direction: a summary (key figures, map, report) and sections one click away."""

import streamlit as st

from pvd_survey import (
    charts,
    dashboard,
    french,
    overview,
    stats,
    territory,
    ui,
)
from pvd_survey.clock import paris_time, paris_today, utcnow
from pvd_survey.errors import DomainError
from pvd_survey.survey_questions import EMPLOYER, option_label, period_options
from pvd_survey.ui import dashboard_sections as sections

ui.guard("dashboard")
settings = ui.settings()
k = settings.disclosure_k

heading = st.columns([2, 3], vertical_alignment="center")
heading[0].title("Tableau de bord")
# Filters and section start from the URL (shareable), are checked, and are written back to it.
params = st.query_params
try:
    initial = stats.make_filters(
        params.get("region"), params.get("departement"), params.get("employeur"), params.get("periode")
    )
except DomainError as error:
    ui.show_error(error)
    st.caption("Les filtres de l'adresse ont été ignorés.")
    initial = stats.Filters()

ALL = None


def _start_index(key: str, choices: list, value: object) -> int:
    """Where a filter box starts: from the URL when it is new; once it exists its own state wins (a map click
    sets it), and index 0 keeps Streamlit from warning about a value set both ways."""
    if key in st.session_state:
        return 0
    return choices.index(value) if value in choices else 0


columns = st.columns(4)
region = columns[0].selectbox(
    "Région",
    [ALL, *territory.REGIONS],
    format_func=lambda r: "Toutes" if r is None else territory.REGIONS[r],
    index=_start_index("dashboard_region", [ALL, *territory.REGIONS], initial.region),
    key="dashboard_region",
)
departments = territory.departments_of_region(region) if region else list(territory.DEPARTMENTS)
# "" rather than None for "all departments": a map click sets this box, and None set in its state would read
# as "nothing chosen".
department_choices = ["", *departments]
department = columns[1].selectbox(
    "Département",
    department_choices,
    format_func=lambda d: territory.department_label(d) if d else "Tous",
    index=_start_index("dashboard_department", department_choices, initial.department),
    key="dashboard_department",
)
employer_choices = [ALL, *EMPLOYER.options]
employer = columns[2].selectbox(
    "Employeur",
    employer_choices,
    format_func=lambda e: "Tous" if e is None else EMPLOYER.options[e],
    index=employer_choices.index(initial.employer),
    key="dashboard_employer",
)
period_choices = [ALL, *period_options(paris_today())]
period = columns[3].selectbox(
    "Période de prise de poste",
    period_choices,
    format_func=lambda p: "Toutes" if p is None else option_label("start_period", p),
    index=period_choices.index(initial.start_period) if initial.start_period in period_choices else 0,
    key="dashboard_period",
)
filters = stats.make_filters(region, department, employer, period)

# One section drawn per run (st.tabs would draw them all): the summary, or the section the URL or a click names.
SECTION_KEY = "dashboard_section"
if SECTION_KEY not in st.session_state:
    st.session_state[SECTION_KEY] = dashboard.section_from(params.get("section"))
    if params.get("section") and params.get("section") not in dashboard.SECTIONS:  # a link cut or mistyped
        ui.show_error(DomainError("unknown_section", value=params.get("section")))
section = st.segmented_control(
    "Rubrique",
    list(dashboard.SECTIONS),
    format_func=dashboard.SECTIONS.get,
    required=True,
    key=SECTION_KEY,
    label_visibility="collapsed",
    width="stretch",
)
section = dashboard.section_from(section)

# The chosen section's figures in one read; the watcher below redraws the page when one of them moves.
with ui.read() as session:
    live = dashboard.live_figures(session, filters, k, settings=settings, section=section)
FULL_RUN_KEY = "dashboard_full_run"
DRAWN_KEY = "dashboard_drawn"
st.session_state[DRAWN_KEY] = live.fingerprint()
st.session_state[FULL_RUN_KEY] = True


view = sections.View(live, filters, k, settings)


@st.fragment(run_every=None if st.session_state.get("dashboard_paused") else settings.dashboard_refresh_seconds)
def watch_figures() -> None:
    """Every few seconds: the shown section's figures read again, and the whole page redrawn only when one of them
    moved (an unchanged refresh costs one read, not the page's charts)."""
    with ui.live_part():  # a refresh during an outage: a French message here, the next refresh tries again
        ui.recheck("dashboard")  # a session that ended meanwhile stops the live figures
        if not st.session_state.pop(FULL_RUN_KEY, False):  # (in the page's own run, the figures were just read)
            with ui.read() as session:
                latest = dashboard.live_figures(session, filters, k, settings=settings, section=section)
            if latest.fingerprint() != st.session_state.get(DRAWN_KEY):
                st.rerun(scope="app")
        paused = st.session_state.get("dashboard_paused")
        st.caption(
            f"Chiffres vérifiés à {paris_time(utcnow(), '%H:%M:%S')}"
            + ("." if paused else f", actualisés automatiquement toutes les {settings.dashboard_refresh_seconds} s.")
        )


with heading[1]:
    watch_figures()
    st.toggle("Mettre en pause l'actualisation automatique", key="dashboard_paused")


# ---------------------------------------------------------------------------- summary: key figures, map, report

MAP_KEY = "dashboard_map"


def _on_map_click() -> None:
    """A click on a tile filters the whole dashboard by that department (or region), through the URL."""
    chosen = overview.clicked_territory(st.session_state.get(MAP_KEY))
    if chosen is None:
        return
    chosen_region, chosen_department = chosen
    # The filter boxes take the click (the URL follows them at the end of the run).
    st.session_state["dashboard_region"] = chosen_region
    st.session_state["dashboard_department"] = chosen_department or ""  # a region: all its departments


def render_key_figures() -> None:
    """Key figures of the last 30 days with their change, and why two of them may seem to disagree."""
    st.subheader("Vue d'ensemble")
    place = filters.describe() if (filters.region or filters.department) else "France entière"
    st.caption(
        f"Chiffres {live.period.label} ({place}), évolution par rapport aux 30 jours précédents. Un nombre de "
        f"personnes inférieur à {k} est masqué."
    )
    columns = st.columns(2)
    for number, figure in enumerate(live.key_figures):
        columns[number % 2].metric(
            figure.label,
            figure.text(),
            # No arrow for "no change"; fewer vacant posts and a shorter delay are good news (green).
            delta=figure.change_text() if figure.change else None,
            delta_color="inverse" if figure.lower_is_better else "normal",
            help=figure.note or None,
            border=True,
        )
    for note in overview.apparent_contradictions(live.key_figures, k):
        st.caption(note)


def render_map() -> tuple[str, str]:
    """The map of France (a click filters the dashboard); returns the measure and level chosen."""
    st.subheader("Carte")
    measure_choices, level_choices = list(overview.MEASURES), list(overview.LEVELS)
    controls = st.columns([1, 1])
    measure = controls[0].selectbox(
        "Mesure",
        measure_choices,
        format_func=overview.MEASURES.get,
        index=measure_choices.index(params.get("mesure")) if params.get("mesure") in measure_choices else 0,
        key="dashboard_measure",
    )
    level = controls[1].radio(
        "Niveau",
        level_choices,
        format_func=overview.LEVELS.get,
        index=level_choices.index(params.get("niveau")) if params.get("niveau") in level_choices else 0,
        horizontal=True,
        key="dashboard_level",
    )
    with ui.read() as session:
        map_figures = overview.map_data(session, measure, level, k, filters, settings=settings)
    st.vega_lite_chart(
        spec=charts.vega_spec(
            charts.tile_map_chart,
            map_figures,
            filters.department if level == "department" else filters.region,
            tile=dashboard.MAP_TILE,
            k=k,
        ),
        on_select=_on_map_click,
        selection_mode="carte",
        key=MAP_KEY,
        width="content",  # square tiles: the grid keeps its own size
    )
    st.caption(
        "Cliquez sur un département pour filtrer tout le tableau de bord (double-clic : annuler la sélection)."
        + (" Les répondants suivent les filtres employeur et période." if measure == "respondents" else "")
    )
    with st.expander(f"Tableau de la carte : {map_figures.label.lower()}, chaque valeur"):
        st.dataframe(
            french.frame(charts.map_table(map_figures)), hide_index=True, width="stretch", key="dashboard_map_table"
        )
    return measure, level


def render_summary() -> tuple[str, str]:
    """Key figures and the map side by side (the first screen), then the reference figures and the report."""
    left, right = st.columns([1, 1], gap="medium")
    with left:
        render_key_figures()
    with right:
        chosen = render_map()
    with st.container(border=True):
        st.markdown("**Chiffres de référence du programme**")
        reference = st.columns(len(overview.REFERENCE_FIGURES))
        for column, (label, value) in zip(reference, overview.REFERENCE_FIGURES, strict=True):
            column.metric(label, value)
        st.caption(f"Source : {overview.REFERENCE_SOURCE}")
    sections.render_report(view)
    return chosen


measure, level = params.get("mesure"), params.get("niveau")  # kept in the URL while another section is shown
if section == dashboard.SUMMARY:
    measure, level = render_summary()
    measure = measure if measure != next(iter(overview.MEASURES)) else None
    level = level if level != next(iter(overview.LEVELS)) else None
else:
    sections.SECTIONS[section](view)

wanted = {
    "section": section if section != dashboard.SUMMARY else None,
    "region": region,
    "departement": department,
    "employeur": employer,
    "periode": period,
    "mesure": measure,
    "niveau": level,
}
st.query_params.from_dict({key: value for key, value in wanted.items() if value})
