"""The steering committee's report (PDF): the dashboard's figures on paper, protected exactly as on screen.

One computation feeds the dashboard's "Télécharger le rapport (PDF)" and `python -m pvd_survey report`: a cover
with the filters and the date, the overview beside the programme's reference figures, the maps, each chart as
an image (vl-convert, offline) with its table, the sources and the disclosure note. DejaVu is embedded, so every
French character prints.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
from fpdf import FPDF
from sqlalchemy.orm import Session

from pvd_survey import chart_style, charts, disclosure, drawing, french, overview, stats, territory
from pvd_survey.clock import paris_time, utcnow
from pvd_survey.config import Settings
from pvd_survey.disclosure import DEFAULT_K
from pvd_survey.errors import DomainError
from pvd_survey.survey_questions import BASELINE_SOURCE

_FONTS = Path(__file__).resolve().parent / "fonts"
_PAGE_WIDTH = 180  # mm of A4 between the margins
_PAGE_BOTTOM = 282  # mm: below this, a new page
_MAP_HEIGHT = 114  # mm: two maps a page
log = logging.getLogger(__name__)
TERRITORY_SOURCE = "Insee, Code officiel géographique : 18 régions et 101 départements."


@dataclass(frozen=True)
class ReportRequest:
    """What a report covers: the dashboard's filters (region, department, employer, start period; None: all), and
    a month (or the last 30 days)."""

    region: str | None = None
    month: date | None = None
    department: str | None = None
    employer: str | None = None
    start_period: str | None = None

    @classmethod
    def of(cls, filters: stats.Filters, month: date | None = None) -> ReportRequest:
        """The report of exactly what the dashboard shows with these filters."""
        return cls(filters.region, month, filters.department, filters.employer, filters.start_period)

    @property
    def filters(self) -> stats.Filters:
        """The dashboard filters the report applies."""
        region = self.region or (territory.region_of_department(self.department) if self.department else None)
        return stats.Filters(region, self.department, self.employer, self.start_period)

    @property
    def place(self) -> str:
        """The territory covered, in French."""
        if self.department:
            return territory.department_label(self.department)
        return territory.REGIONS[self.region] if self.region else "France entière"


class _Draft:
    """The report as the list of calls to make on a `_Report`, and its charts' specs: `printed` draws the charts
    while it replays the calls, each image put in its place."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.specs: list[dict[str, Any]] = []

    def chart(self, chart: alt.TopLevelMixin | dict[str, Any], width: int | None = 640, **place: Any) -> None:
        """A chart (an Altair chart or its Vega-Lite dict) drawn `width` px wide, or at its own size (None)."""
        # (unchecked against the Vega-Lite schema here: tests/test_charts.py checks every builder against it)
        spec = chart_style.readable(chart if isinstance(chart, dict) else chart.to_dict(validate=False))
        self.specs.append({**spec, "width": width} if width else spec)
        self.calls.append(("image_png", (len(self.specs) - 1,), place))

    def __getattr__(self, name: str) -> Callable[..., None]:
        if not callable(getattr(_Report, name, None)):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))

    def printed(self, title: str, step: Callable[[str], None]) -> bytes:
        """The PDF: every call made on a real `_Report`, each chart's image taken as soon as it is drawn. The charts
        are drawn at once by the drawing processes (`drawing`, one per core) while the pages are laid out: drawing
        them, about 0.2 to 0.3 s each, was most of a report's time."""
        pdf = _Report(title)
        total = len(self.specs)
        drawn = drawing.draw_all(self.specs)
        try:
            for name, args, kwargs in self.calls:
                if name == "image_png":
                    index = args[0]
                    try:
                        args = (drawing.result(drawn[index]),)
                    except Exception as error:
                        log.exception("report chart %d of %d could not be drawn", index + 1, total)
                        raise DomainError("report_chart_failed") from error
                    if index + 1 in (total // 2, total):
                        step(f"Graphiques dessinés : {index + 1} sur {total}")
                getattr(pdf, name)(*args, **kwargs)
        finally:
            for future in drawn:  # after a failure, the charts not yet started are not drawn for nothing
                future.cancel()
        return bytes(pdf.output())


def _png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk of every PNG
    return width, height


class _Report(FPDF):
    def __init__(self, title: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report_title = title
        self.add_font("DejaVu", "", str(_FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(_FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(title)
        self.set_author("Programme Petites villes de demain (ANCT)")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.set_text_color(100)
        self.cell(0, 5, f"{self.report_title} — page {self.page_no()}", align="C")
        self.set_text_color(0)

    def heading(self, text: str, size: int = 14) -> None:
        if self.get_y() > _PAGE_BOTTOM - 40:
            self.add_page()
        self.set_font("DejaVu", "B", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")
        self.ln(1)

    def paragraph(self, text: str, size: int = 9) -> None:
        self.set_font("DejaVu", "", size)
        self.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT", align="L")
        self.ln(1)

    def image_png(self, data: bytes, width_mm: float = _PAGE_WIDTH, height_mm: float | None = None) -> None:
        """A PNG `width_mm` wide, or `height_mm` high (within the page's width) when given."""
        pixels_wide, pixels_high = _png_size(data)
        width = width_mm if height_mm is None else min(_PAGE_WIDTH, height_mm * pixels_wide / pixels_high)
        height = width * pixels_high / pixels_wide
        if height > _PAGE_BOTTOM - 20:  # taller than a page: shrink to fit
            width, height = width * (_PAGE_BOTTOM - 20) / height, _PAGE_BOTTOM - 20
        if self.get_y() + height > _PAGE_BOTTOM:
            self.add_page()
        self.image(io.BytesIO(data), x=self.l_margin + (_PAGE_WIDTH - width) / 2, w=width, h=height)
        self.ln(2)

    def frame_table(self, frame: pd.DataFrame) -> None:
        if self.get_y() > _PAGE_BOTTOM - 25:  # never a table's header alone at the foot of a page
            self.add_page()
        self.set_font("DejaVu", "", 8)
        text = frame.astype(object).where(frame.notna(), "")
        with self.table(line_height=4.5, repeat_headings=1, padding=0.8, text_align="LEFT") as table:
            table.row([str(column) for column in frame.columns])
            for row in text.itertuples(index=False):
                table.row([_cell_text(value) for value in row])
        self.ln(3)


def _cell_text(value: object) -> str:
    return french.cell(value)


def _overview_frame(figures: list[overview.KeyFigure]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Indicateur": [figure.label for figure in figures],
            "Valeur": [figure.text() for figure in figures],
            "Évolution sur un mois": [figure.change_text() for figure in figures],
            "Précision": [figure.note for figure in figures],
        }
    )


def territory_table(
    session: Session, request: ReportRequest, k: int = DEFAULT_K, *, settings: Settings
) -> pd.DataFrame:
    """Every map measure side by side: by region, or by department within the requested region."""
    region = request.filters.region
    level = "department" if region else "region"
    maps = {
        measure: overview.map_data(session, measure, level, k, request.filters, settings=settings)
        for measure in overview.MEASURES
    }
    if request.department:
        codes = [request.department]
    else:
        codes = territory.departments_of_region(region) if region else list(territory.REGIONS)
    title = "Département" if region else "Région"
    rows = []
    for code in codes:
        row: dict[str, object] = {title: territory.department_label(code) if region else territory.REGIONS[code]}
        for measure, data in maps.items():
            cell = data.cells[code]
            row[overview.MEASURES[measure]] = charts.map_value_text(cell)
        rows.append(row)
    return pd.DataFrame(rows)


def build_report(
    session: Session,
    request: ReportRequest,
    k: int = DEFAULT_K,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    settings: Settings,
) -> bytes:
    """The report as PDF bytes; `progress` is told each step (the dashboard shows them while it builds)."""
    now = now or utcnow()
    step = progress or (lambda _message: None)
    filters = request.filters
    place = request.place
    span, figures = overview.overview(session, k, filters, request.month, now, settings=settings)
    title = "Petites villes de demain — rapport au comité de pilotage"
    pdf = _Draft()  # every call below is replayed on a _Report once the charts are drawn

    step("Page de garde et vue d'ensemble")
    pdf.add_page()
    pdf.ln(50)
    pdf.set_font("DejaVu", "B", 22)
    pdf.multi_cell(0, 11, "Petites villes de demain", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, "Rapport au comité de pilotage : chefs de projet", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("DejaVu", "", 11)
    for line in (
        f"Territoire : {place}",
        *([f"Filtres : {filters.describe()}"] if filters.employer or filters.start_period else []),
        f"Période : {span.label} (du {span.start:%d/%m/%Y} au {span.end:%d/%m/%Y}), comparée à la précédente",
        f"Édité le {paris_time(now, '%d/%m/%Y à %H:%M')} (heure de Paris)",
        f"Protection des personnes : seuil k = {k}",
    ):
        pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(8)
    pdf.paragraph(
        "Agence nationale de la cohésion des territoires (ANCT). Chiffres issus de l'application du programme : "
        "questionnaire de profil des chefs de projet, recrutement, rencontres régionales."
    )

    pdf.add_page()
    pdf.heading("Vue d'ensemble")
    pdf.paragraph(f"Chiffres clés {span.label}, et leur évolution par rapport au mois précédent. Territoire : {place}.")
    pdf.frame_table(_overview_frame(figures))
    pdf.heading("Chiffres de référence du programme", 11)
    pdf.frame_table(pd.DataFrame(overview.REFERENCE_FIGURES, columns=["Indicateur", "Valeur"]))
    pdf.paragraph(f"Source : {overview.REFERENCE_SOURCE}", 8)

    step("Cartes par département")
    pdf.add_page()
    pdf.heading("Cartes")
    pdf.paragraph(
        "Un carré par département à sa place approximative ; outre-mer en bas, Corse à droite. Gris : masqué "
        f"(moins de {k} personnes) ou sans donnée." + (f" Territoire du rapport : {place}." if filters.region else "")
    )
    for measure in overview.MEASURES:
        data = overview.map_data(session, measure, "department", k, filters, settings=settings)
        chart = charts.tile_map_chart(data, selectable=False, tile=26, k=k)
        # At one height: a map's width follows its title's length, so a fixed width would make some taller.
        pdf.chart(chart, width=None, height_mm=_MAP_HEIGHT)
    pdf.heading("Chiffres par " + ("département" if filters.region else "région"), 11)
    pdf.frame_table(territory_table(session, request, k, settings=settings))

    step("Questionnaire")
    survey = stats.survey_stats(session, filters, k=k, settings=settings)
    pdf.add_page()
    pdf.heading("Questionnaire de profil des chefs de projet")
    pdf.paragraph(
        f"Population : {filters.describe()}. Répondants : "
        f"{charts.HIDDEN_TEXT if survey.isolated else french.number(survey.respondents or 0)}. "
        f"Comparaison : {BASELINE_SOURCE}."
    )
    if survey.isolated:
        pdf.paragraph(f"Moins de {k} personnes (peut-être aucune) : aucun chiffre n'est publié pour ce territoire.")
    else:
        for code, figure in survey.figures.items():
            frame = charts.figure_frame(survey, code)
            if frame.empty:
                continue
            pdf.heading(figure.label, 10)  # also in the text, for search and screen readers
            if code == "department":
                # 101 bars would make a chart taller than a page (and slow to draw): the map shows it.
                pdf.paragraph("Voir aussi la carte des répondants par département.")
            else:
                pdf.chart(charts.figure_chart(figure, frame, filters.active))
            pdf.frame_table(frame)

    step("Invitations et activité")
    funnel = stats.invitation_funnel(session, settings, k=k)
    pdf.add_page()
    pdf.heading("Invitations et activité (toutes régions)")
    if funnel:
        funnel_frame = charts.funnel_frame(funnel)
        pdf.chart(charts.funnel_chart(funnel_frame))
        pdf.frame_table(funnel_frame.astype(object).where(funnel_frame.notna(), charts.HIDDEN_TEXT))
    activity = charts.activity_frame(stats.activity_by_week(session, k=k, today=now.date()))
    if (activity.drop(columns="Semaine du") != charts.HIDDEN_TEXT).to_numpy().any():  # else nothing to draw
        pdf.chart(charts.activity_chart(activity))
    pdf.frame_table(activity)

    step("Recrutement")
    _recruitment_section(pdf, session, k)
    step("Rencontres")
    _meetings_section(pdf, session, k, now)

    step("Sources et protection des données")
    pdf.add_page()
    pdf.heading("Sources")
    for source in (
        f"Chiffres de référence : {overview.REFERENCE_SOURCE}",
        f"Comparaison du questionnaire : {BASELINE_SOURCE}.",
        f"Territoires : {TERRITORY_SOURCE}",
        "Questionnaire, offres d'emploi, candidatures et rencontres : application Petites villes de demain, "
        f"chiffres calculés le {paris_time(now, '%d/%m/%Y à %H:%M')}.",
    ):
        pdf.paragraph(f"• {source}")
    pdf.heading("Protection des personnes")
    pdf.paragraph(disclosure_note(k))
    return pdf.printed(title, step)


def disclosure_note(k: int = DEFAULT_K) -> str:
    """The disclosure note printed in the report (the dashboard says the same)."""
    return (
        f"Aucun chiffre portant sur moins de {k} personnes (zéro compris) n'est publié : il figure comme "
        "« masqué », et une autre case est masquée si nécessaire pour qu'on ne puisse pas le retrouver par "
        f"soustraction. Chaque nombre de personnes publié est perturbé de {disclosure.MAX_NOISE} au plus (méthode "
        "des clés de cellule de l'ONS britannique et de l'ABS australien) ; un même chiffre a toujours la même "
        "valeur, à l'écran, dans les téléchargements et dans ce rapport. Les réponses au questionnaire sont "
        f"publiées à heures fixes, par groupes d'au moins {k}. Les offres d'emploi ne décrivent pas des "
        "personnes et sont données telles quelles."
    )


def _recruitment_section(pdf: _Draft, session: Session, k: int) -> None:
    from pvd_survey import recruitment

    figures = recruitment.recruitment_figures(session, k=k)
    frames = charts.recruitment_frames(figures)
    pdf.add_page()
    pdf.heading("Recrutement des chefs de projet (toutes régions)")
    if frames["states"].empty:
        pdf.paragraph("Aucune offre d'emploi pour l'instant.")
        return
    median = "—" if figures.median_days_to_fill is None else f"{french.number(figures.median_days_to_fill)} jours"
    pdf.paragraph(f"Délai médian de la publication au recrutement : {median} (sur {figures.filled_count} offre(s)).")
    pdf.chart(charts.postings_state_chart(frames["states"]))
    pdf.frame_table(frames["states"])
    pdf.chart(charts.applications_per_posting_chart(frames["per_posting"]))
    pdf.frame_table(frames["per_posting"])
    pdf.paragraph(f"Candidatures par région : un nombre inférieur à {k} est masqué.")
    pdf.frame_table(frames["applications"])
    if not frames["vacant"].empty:
        pdf.chart(charts.vacant_chart(frames["vacant"]))
        pdf.frame_table(frames["vacant"])


def _meetings_section(pdf: _Draft, session: Session, k: int, now: datetime) -> None:
    from pvd_survey import meetings

    figures = meetings.dashboard_figures(session, k=k, now=now)
    pdf.add_page()
    pdf.heading("Rencontres (toutes régions)")
    if not figures.meetings:
        pdf.paragraph("Aucune rencontre pour l'instant.")
        return
    frame = charts.meetings_frame(figures)
    pdf.chart(charts.fill_rate_chart(frame))
    pdf.frame_table(frame)
    pdf.paragraph(f"Présents / confirmés des rencontres passées ; un groupe de moins de {k} personnes est masqué.")
    for rows, title in ((figures.by_region, "Région"), (figures.by_role, "Profil")):
        if not rows:
            continue
        attendance = charts.attendance_frame(rows, title)
        pdf.chart(charts.attendance_chart(attendance, title))
        pdf.frame_table(attendance)
