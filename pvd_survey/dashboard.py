"""The live dashboard's sections, the figures of one section in one read, and a fingerprint of what it shows.

The page draws a short summary (key figures and the map) or one section chosen from SECTIONS, never all of them:
a script run reads and draws only the chosen section's figures. A small fragment recomputes them every few seconds
and redraws the page only when the fingerprint changed. The fingerprint covers exactly what the section shows:
never what waits to be released (a submission must not move anything the direction can see, not even the moment
the page redraws), nor the clock (the 30-day window's bounds, the next release moment).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from pvd_survey import meetings, overview, recruitment, stats, survey
from pvd_survey.config import Settings
from pvd_survey.survey import ReleaseState

MAP_TILE = 28  # px: the summary's map fits beside the key figures on a 1366×768 screen
SUMMARY = "synthese"
# The dashboard's sections (the URL's `section` parameter) and their names on screen, the summary first.
SECTIONS: dict[str, str] = {
    SUMMARY: "Synthèse",
    "questionnaire": "Questionnaire",
    "invitations": "Invitations et activité",
    "rencontres": "Rencontres",
    "recrutement": "Recrutement",
}


def section_from(value: object) -> str:
    """The section named in the URL, or the summary for anything else (a missing or unknown name)."""
    return value if isinstance(value, str) and value in SECTIONS else SUMMARY


@dataclass(frozen=True)
class LiveFigures:
    """What one section of the dashboard shows, for one set of filters, already protected (None: not shown)."""

    section: str
    period: overview.Period | None = None
    key_figures: list[overview.KeyFigure] | None = None
    survey: stats.SurveyStats | None = None
    release: ReleaseState | None = None
    funnel: list[stats.FunnelRow] | None = None
    activity: list[stats.ActivityWeek] | None = None
    meetings: meetings.DashboardFigures | None = None
    recruitment: recruitment.RecruitmentFigures | None = None

    def fingerprint(self) -> str:
        """A digest of what the section shows: equal as long as no shown figure, label or date moved."""
        shown = (
            self.section,
            self.period.label if self.period else None,
            self.key_figures,
            self.survey,
            self.release.released_at if self.release else None,  # (not `waiting`: never shown)
            self.funnel,
            self.activity,
            self.meetings,
            self.recruitment,
        )
        return hashlib.sha256(repr(shown).encode()).hexdigest()


def live_figures(
    session: Session, filters: stats.Filters, k: int, *, settings: Settings, section: str = SUMMARY
) -> LiveFigures:
    """The figures one section shows (the summary by default), in one read; the others are not read at all."""
    if section == SUMMARY:
        period, key_figures = overview.overview(session, k, filters, settings=settings)
        return LiveFigures(section, period=period, key_figures=key_figures)
    if section == "questionnaire":
        return LiveFigures(
            section,
            survey=stats.survey_stats(session, filters, k=k, settings=settings),
            release=survey.release_state(session, settings),
        )
    if section == "invitations":
        return LiveFigures(
            section,
            funnel=stats.invitation_funnel(session, settings, k=k),
            activity=stats.activity_by_week(session, k=k),
        )
    if section == "rencontres":
        return LiveFigures(section, meetings=meetings.dashboard_figures(session, k=k))
    if section == "recrutement":
        return LiveFigures(section, recruitment=recruitment.recruitment_figures(session, k=k))
    raise ValueError(f"unknown dashboard section: {section}")
