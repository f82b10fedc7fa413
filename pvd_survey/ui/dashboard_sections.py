"""The dashboard page's parts drawn from its figures: charts with their tables, the steering committee's report, and
the sections one click away (survey, invitations, meetings, recruitment). The page (pages/dashboard.py) keeps its
filters, the live refresh and the summary's map."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from pvd_survey import chart_style, charts, dashboard, disclosure, exports, french, report, stats
from pvd_survey.clock import paris_time, paris_today
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.survey_questions import BASELINE_SOURCE
from pvd_survey.ui.core import read, show_error
from pvd_survey.ui.forms import export_button


@dataclass(frozen=True)
class View:
    """What the page drew its section from: the figures read in this run, the filters, the disclosure threshold."""

    live: dashboard.LiveFigures
    filters: stats.Filters
    k: int
    settings: Settings


def draw(builder, *args, **kwargs) -> dict:
    """A chart from its Vega-Lite spec, built once per distinct figures (charts.vega_spec)."""
    spec = charts.vega_spec(builder, *args, **kwargs)
    st.vega_lite_chart(spec=spec, width="stretch")
    return spec


def masked_chart(title: str, k: int) -> None:
    """A sentence where a chart would draw nothing but its axes (every figure in it is hidden)."""
    st.info(
        f"**{title}** : tous les chiffres de ce graphique sont masqués (moins de {k} personnes chacun), il n'est "
        "donc pas tracé. Le tableau ci-dessous le montre case par case."
    )


REPORT_KEY = "dashboard_report_pdf"


def render_report(view: View) -> None:
    """The steering committee's PDF, for exactly the filters on screen."""
    request = report.ReportRequest.of(view.filters)
    with st.container(border=True):
        st.markdown("**Rapport pour le comité de pilotage**")
        st.caption(
            f"Un PDF ({request.filters.describe() if view.filters.active else 'France entière'}, 30 derniers jours) : "
            "vue d'ensemble, cartes, chaque graphique avec son tableau, sources et protection des données ; les "
            "chiffres sont protégés exactement comme à l'écran."
        )
        if st.button("Préparer le rapport (PDF)", key="dashboard_report_build", icon=":material/picture_as_pdf:"):
            with st.status("Préparation du rapport…", expanded=True) as status:
                try:
                    with read() as session:
                        pdf = report.build_report(
                            session, request, k=view.k, progress=status.write, settings=view.settings
                        )
                    st.session_state[REPORT_KEY] = (request, pdf)
                    status.update(label="Rapport prêt.", state="complete", expanded=False)
                except DomainError as error:  # a chart that could not be drawn: said, and the page goes on
                    status.update(label="Le rapport n'a pas pu être préparé.", state="error")
                    show_error(error)
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


# ---------------------------------------------------------------------------- sections one click away


def figure_table(frame: pd.DataFrame, key: str, title: str = "Tableau des chiffres"):
    """The table under a chart: its figures for screen readers and copying, one click away on screen; returns the
    expander (for the chart's image download)."""
    expander = st.expander(title)
    expander.dataframe(french.frame(frame), hide_index=True, width="stretch", key=key)
    return expander


def render_survey(view: View) -> None:
    """Survey figures: charts two by two, each with its table and image."""
    k = view.k
    figures, release = view.live.survey, view.live.release
    assert figures is not None and release is not None  # (read for this section)
    head = st.columns([3, 2, 2], vertical_alignment="center")
    head[0].subheader("Questionnaire de profil")
    top = st.columns([1, 6])
    top[0].metric("Répondants", "masqué" if figures.respondents is None else french.number(figures.respondents))
    released = (
        f"Chiffres publiés le {paris_time(release.released_at, '%d/%m/%Y à %H:%M')}"
        if release.released_at
        # (imported answers are counted at once, outside the schedule: they may be shown before any release)
        else "Aucun groupe de réponses publié pour l'instant"
    )
    top[1].caption(
        f"{released}. Les chiffres ne changent qu'à heures fixes (toutes les {view.settings.survey_release_minutes} "
        f"minutes), par groupes d'au moins {k} réponses nouvelles, modifiées ou retirées, jamais au moment "
        f"d'une réponse. Population : {view.filters.describe()}. Comparaison : {BASELINE_SOURCE}."
        + (
            " Les répondants suivent ici tous les filtres ; la synthèse compte les réponses publiées du territoire, "
            "tous employeurs et toutes périodes."
            if view.filters.employer or view.filters.start_period
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

        def csv_bytes(dialect: exports.CsvDialect = dialect, figures: stats.SurveyStats = figures) -> bytes:
            return stats.stats_csv(figures, dialect).encode("utf-8")

        export_button(place, fmt, label, csv_bytes, "pvd-questionnaire-chiffres", key)
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
            spec = draw(charts.figure_chart, figure, frame, view.filters.active)
            figure_table(frame, f"dashboard_table_{code}", "Tableau des chiffres et image").download_button(
                "Image du graphique (PNG)",
                lambda spec=spec: charts.chart_png(spec),
                file_name=f"pvd-{code}.png",
                mime="image/png",
                key=f"dashboard_png_{code}",
                on_click="ignore",
                icon=":material/image:",
            )


def render_invitations(view: View) -> None:
    """Invitations and published answers by region, and the national activity per week."""
    k = view.k
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
        if not view.live.funnel:
            st.info("Aucune invitation envoyée pour l'instant.")
        else:
            frame = charts.funnel_frame(view.live.funnel)
            if chart_style.fully_masked(frame, charts.FUNNEL_COLUMNS):
                masked_chart("Invitations et réponses par région", k)
            else:
                draw(charts.funnel_chart, frame)
            table = frame.copy()
            for column in charts.FUNNEL_COLUMNS:  # whole numbers as text, hidden ones "masqué"
                table[column] = [
                    charts.HIDDEN_TEXT if pd.isna(value) else french.number(int(value)) for value in table[column]
                ]
            figure_table(table, "dashboard_funnel")
    with right:
        st.subheader("Activité")
        st.caption(
            f"Toutes régions, par semaine (les filtres ne s'appliquent pas). Une semaine comptant moins de {k} "
            "réponses, candidatures ou inscriptions est masquée."
        )
        frame = charts.activity_frame(view.live.activity)
        if chart_style.fully_masked(frame, [column for column in frame.columns if column != "Semaine du"]):
            masked_chart("Activité des douze dernières semaines", k)
        else:
            draw(charts.activity_chart, frame)
        figure_table(frame, "dashboard_activity")


def render_meetings(view: View) -> None:
    """Meetings: fill rate, waiting lists, cancellations, and attendance of past meetings."""
    k = view.k
    st.header("Rencontres")
    figures = view.live.meetings
    assert figures is not None  # (read for this section)
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
                masked_chart(f"Taux de présence par {title.lower()}", k)
            else:
                draw(charts.attendance_chart, attendance, title)
            figure_table(attendance, f"dashboard_attendance_{title}")


def render_recruitment(view: View) -> None:
    """Postings by region and state, applications per posting, time to fill, vacant posts by department."""
    k = view.k
    st.header("Recrutement des chefs de projet")
    recruiting = view.live.recruitment
    assert recruiting is not None  # (read for this section)
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


SECTIONS = {
    "questionnaire": render_survey,
    "invitations": render_invitations,
    "rencontres": render_meetings,
    "recrutement": render_recruitment,
}
