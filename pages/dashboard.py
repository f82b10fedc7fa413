"""Live dashboard of the programme direction: a summary (key figures, map, report) and sections one click away."""

import pandas as pd
import streamlit as st

from pvd_survey import (
    chart_style,
    charts,
    dashboard,
    disclosure,
    exports,
    french,
    overview,
    report,
    stats,
    territory,
    ui,
)
from pvd_survey.clock import paris_time, paris_today, utcnow
from pvd_survey.errors import DomainError
from pvd_survey.survey_questions import BASELINE_SOURCE, EMPLOYER, option_label, period_options

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


def draw(builder, *args, **kwargs) -> dict:
    """A chart from its Vega-Lite spec, built once per distinct figures (charts.vega_spec)."""
    spec = charts.vega_spec(builder, *args, **kwargs)
    st.vega_lite_chart(spec=spec, width="stretch")
    return spec


def masked_chart(title: str) -> None:
    """A sentence where a chart would draw nothing but its axes (every figure in it is hidden)."""
    st.info(
        f"**{title}** : tous les chiffres de ce graphique sont masqués (moins de {k} personnes chacun), il n'est "
        "donc pas tracé. Le tableau ci-dessous le montre case par case."
    )


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


REPORT_KEY = "dashboard_report_pdf"


def render_report() -> None:
    """The steering committee's PDF, for exactly the filters on screen."""
    request = report.ReportRequest.of(filters)
    with st.container(border=True):
        st.markdown("**Rapport pour le comité de pilotage**")
        st.caption(
            f"Un PDF ({request.filters.describe() if filters.active else 'France entière'}, 30 derniers jours) : vue "
            "d'ensemble, cartes, chaque graphique avec son tableau, sources et protection des données ; les chiffres "
            "sont protégés exactement comme à l'écran."
        )
        if st.button("Préparer le rapport (PDF)", key="dashboard_report_build", icon=":material/picture_as_pdf:"):
            with st.status("Préparation du rapport…", expanded=True) as status:
                with ui.read() as session:
                    pdf = report.build_report(session, request, k=k, progress=status.write, settings=settings)
                status.update(label="Rapport prêt.", state="complete", expanded=False)
            st.session_state[REPORT_KEY] = (request, pdf)
        ready = st.session_state.get(REPORT_KEY)
        if ready and ready[0] == request:
            st.download_button(
                "Télécharger le rapport (PDF)",
                ready[1],
                file_name=f"pvd-rapport-{paris_today().isoformat()}.pdf",
                mime="application/pdf",
                key="dashboard_report_download",
                on_click="ignore",
                icon=":material/download:",
            )


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
    render_report()
    return chosen


# ---------------------------------------------------------------------------- sections one click away


def figure_table(frame: pd.DataFrame, key: str, title: str = "Tableau des chiffres"):
    """The table under a chart: its figures for screen readers and copying, one click away on screen; returns the
    expander (for the chart's image download)."""
    expander = st.expander(title)
    expander.dataframe(french.frame(frame), hide_index=True, width="stretch", key=key)
    return expander


def render_survey() -> None:
    """Survey figures: charts two by two, each with its table and image."""
    figures, release = live.survey, live.release
    head = st.columns([3, 2, 2], vertical_alignment="center")
    head[0].subheader("Questionnaire de profil")
    top = st.columns([1, 6])
    top[0].metric("Répondants", "masqué" if figures.isolated else french.number(figures.respondents))
    released = (
        f"Chiffres publiés le {paris_time(release.released_at, '%d/%m/%Y à %H:%M')}"
        if release.released_at
        # (imported answers are counted at once, outside the schedule: they may be shown before any release)
        else "Aucun groupe de réponses publié pour l'instant"
    )
    top[1].caption(
        f"{released}. Les chiffres ne changent qu'à heures fixes (toutes les {settings.survey_release_minutes} "
        f"minutes), par groupes d'au moins {k} réponses nouvelles, modifiées ou retirées, jamais au moment "
        f"d'une réponse. Population : {filters.describe()}. Comparaison : {BASELINE_SOURCE}."
        + (
            " Les répondants suivent ici tous les filtres ; la synthèse compte les réponses publiées du territoire, "
            "tous employeurs et toutes périodes."
            if filters.employer or filters.start_period
            else ""
        )
        + f"  \nProtection des répondants : aucun chiffre portant sur moins de {k} personnes (zéro compris) n'est "
        f"affiché, et chaque chiffre est perturbé de {disclosure.MAX_NOISE} au plus (méthode des clés de cellule de "
        "l'ONS et de l'ABS) ; un même chiffre a toujours la même valeur, à l'écran comme dans les téléchargements."
    )
    if figures.isolated:
        st.warning(
            f"Ces filtres portent sur moins de {k} personnes (peut-être aucune) : aucun chiffre n'est affiché pour "
            "protéger l'anonymat. Élargissez la sélection."
        )
        return
    for place, fmt, label, key in (
        (head[1], exports.CSV, "Télécharger tous les chiffres (CSV)", "dashboard_csv"),
        (head[2], exports.CSV_TOOLS, exports.TOOLS_LABEL, "dashboard_csv_outils"),
    ):
        dialect = exports.PEOPLE if fmt == exports.CSV else exports.TOOLS
        ui.export_button(
            place,
            fmt,
            label,
            lambda dialect=dialect: stats.stats_csv(figures, dialect).encode("utf-8"),
            "pvd-questionnaire-chiffres",
            key,
        )
    grid = st.columns(2)
    for number, (code, figure) in enumerate(figures.figures.items()):
        frame = charts.figure_frame(figures, code)
        with grid[number % 2].container(border=True):
            if frame.empty:
                st.markdown(f"**{figure.label}** : aucune réponse.")
                continue
            if code in ("department", "region"):
                # One bar per department (or region) would be taller than a screen: the map draws them.
                st.markdown(f"**{figure.label}**")
                st.caption(
                    "Voir la carte de la synthèse, mesure « Répondants au questionnaire », niveau « "
                    + ("Département" if code == "department" else "Région")
                    + " »."
                )
                figure_table(frame, f"dashboard_table_{code}")
                continue
            spec = draw(charts.figure_chart, figure, frame, filters.active)
            figure_table(frame, f"dashboard_table_{code}", "Tableau des chiffres et image").download_button(
                "Image du graphique (PNG)",
                lambda spec=spec: charts.chart_png(spec),
                file_name=f"pvd-{code}.png",
                mime="image/png",
                key=f"dashboard_png_{code}",
                on_click="ignore",
                icon=":material/image:",
            )


def render_invitations() -> None:
    """Invitations and published answers by region, and the national activity per week."""
    st.header("Invitations et activité")
    left, right = st.columns(2, gap="medium")
    with left:
        st.subheader("Invitations")
        st.caption(
            "Invitations actives par région du département indiqué à l'envoi, et réponses publiées reçues par lien "
            "par région du département indiqué dans la réponse (les filtres ne s'appliquent pas). Chaque case est "
            f"protégée seule : une région sous {k} personnes est masquée même quand le total national est affiché, "
            "et les réponses importées d'un fichier ne sont pas comptées ici."
        )
        if not live.funnel:
            st.info("Aucune invitation envoyée pour l'instant.")
        else:
            frame = charts.funnel_frame(live.funnel)
            if chart_style.fully_masked(frame, charts.FUNNEL_COLUMNS):
                masked_chart("Invitations et réponses par région")
            else:
                draw(charts.funnel_chart, frame)
            table = frame.copy()
            for column in charts.FUNNEL_COLUMNS:  # whole numbers as text, hidden ones "masqué"
                table[column] = [charts.HIDDEN_TEXT if pd.isna(value) else str(int(value)) for value in table[column]]
            figure_table(table, "dashboard_funnel")
    with right:
        st.subheader("Activité")
        st.caption(
            f"Toutes régions, par semaine (les filtres ne s'appliquent pas). Une semaine comptant moins de {k} "
            "réponses, candidatures ou inscriptions est masquée."
        )
        frame = charts.activity_frame(live.activity)
        if chart_style.fully_masked(frame, [column for column in frame.columns if column != "Semaine du"]):
            masked_chart("Activité des douze dernières semaines")
        else:
            draw(charts.activity_chart, frame)
        figure_table(frame, "dashboard_activity")


def render_meetings() -> None:
    """Meetings: fill rate, waiting lists, cancellations, and attendance of past meetings."""
    st.header("Rencontres")
    figures = live.meetings
    if not figures.meetings:
        st.info("Aucune rencontre pour l'instant.")
        return
    frame = charts.meetings_frame(figures)
    draw(charts.fill_rate_chart, frame)
    st.dataframe(french.frame(frame), hide_index=True, width="stretch", key="dashboard_meetings")
    downloads = st.columns(2)
    for column, fmt, label, key in (
        (downloads[0], exports.CSV, "Chiffres des rencontres (CSV)", "dashboard_meetings_csv"),
        (downloads[1], exports.CSV_TOOLS, exports.TOOLS_LABEL, "dashboard_meetings_csv_outils"),
    ):
        column.download_button(
            label,
            exports.table(fmt, charts.MEETINGS_EXPORT_COLUMNS, charts.meetings_export_rows(figures)),
            file_name=exports.file_name("pvd-rencontres-chiffres", fmt),
            mime=exports.MEDIA_TYPES[fmt],
            key=key,
            on_click="ignore",
            icon=":material/download:" if fmt == exports.CSV else ":material/data_object:",
        )
    st.subheader("Présence aux rencontres passées")
    st.caption(f"Présents / confirmés. Un groupe de moins de {k} personnes n'est pas affiché.")
    if not figures.by_role:
        st.info("Aucune rencontre passée pour l'instant.")
        return
    for column, (rows, title) in zip(
        st.columns(2, gap="medium"), ((figures.by_region, "Région"), (figures.by_role, "Profil")), strict=True
    ):
        with column:
            attendance = charts.attendance_frame(rows, title)
            if chart_style.fully_masked(attendance, ["Taux de présence (%)"]):
                masked_chart(f"Taux de présence par {title.lower()}")
            else:
                draw(charts.attendance_chart, attendance, title)
            figure_table(attendance, f"dashboard_attendance_{title}")


def render_recruitment() -> None:
    """Postings by region and state, applications per posting, time to fill, vacant posts by department."""
    st.header("Recrutement des chefs de projet")
    recruiting = live.recruitment
    frames = charts.recruitment_frames(recruiting)
    if frames["states"].empty:
        st.info("Aucune offre d'emploi pour l'instant.")
        return
    top = st.columns(3)
    top[0].metric("Offres", french.number(int(frames["states"]["Offres"].sum())))
    top[1].metric("Postes vacants", french.number(int(frames["vacant"]["Postes vacants"].sum())))
    top[2].metric(
        "Délai médian publication → pourvu",
        "—" if recruiting.median_days_to_fill is None else f"{french.number(recruiting.median_days_to_fill)} j",
        help=f"Sur {french.number(recruiting.filled_count)} offre(s) pourvue(s).",
    )
    st.caption("Toutes régions (les filtres ne s'appliquent pas) ; les offres ne décrivent pas des personnes.")
    left, right = st.columns(2, gap="medium")
    with left:
        draw(charts.postings_state_chart, frames["states"])
        draw(charts.applications_per_posting_chart, frames["per_posting"])
        st.caption(f"Candidatures par région : un nombre inférieur à {k} est masqué, comme pour le questionnaire.")
        figure_table(frames["applications"], "dashboard_recruit_applications")
    with right:
        if frames["vacant"].empty:
            st.info("Aucun poste vacant.")
        else:
            draw(charts.vacant_chart, frames["vacant"])


measure, level = params.get("mesure"), params.get("niveau")  # kept in the URL while another section is shown
if section == dashboard.SUMMARY:
    measure, level = render_summary()
    measure = measure if measure != next(iter(overview.MEASURES)) else None
    level = level if level != next(iter(overview.LEVELS)) else None
else:
    {
        "questionnaire": render_survey,
        "invitations": render_invitations,
        "rencontres": render_meetings,
        "recrutement": render_recruitment,
    }[section]()

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
