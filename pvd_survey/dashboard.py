"""The live dashboard's figures in one read, and a fingerprint of what they show (the page redraws when it moves).

The page draws every section from one `LiveFigures`; a small fragment recomputes them every few seconds and redraws
the page only when the fingerprint changed. The fingerprint covers exactly what the page shows: never what waits to
be released (a submission must not move anything the direction can see, not even the moment the page redraws), nor
the clock (the 30-day window's bounds, the next release moment).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from pvd_survey import meetings, overview, recruitment, stats, survey
from pvd_survey.config import Settings
from pvd_survey.survey import ReleaseState


@dataclass(frozen=True)
class LiveFigures:
    """Everything the dashboard's live sections show, for one set of filters, already protected."""

    period: overview.Period
    key_figures: list[overview.KeyFigure]
    survey: stats.SurveyStats
    release: ReleaseState
    funnel: list[stats.FunnelRow]
    activity: list[stats.ActivityWeek]
    meetings: meetings.DashboardFigures
    recruitment: recruitment.RecruitmentFigures

    def fingerprint(self) -> str:
        """A digest of what the page shows: equal as long as no shown figure, label or date moved."""
        shown = (
            self.period.label,
            self.key_figures,
            self.survey,
            self.release.released_at,  # (not `waiting`: how many answers wait is never shown)
            self.funnel,
            self.activity,
            self.meetings,
            self.recruitment,
        )
        return hashlib.sha256(repr(shown).encode()).hexdigest()


def live_figures(session: Session, filters: stats.Filters, k: int, *, settings: Settings) -> LiveFigures:
    """The live sections' figures (overview, survey, invitations, activity, meetings, recruitment) in one read."""
    period, key_figures = overview.overview(session, k, filters, settings=settings)
    return LiveFigures(
        period=period,
        key_figures=key_figures,
        survey=stats.survey_stats(session, filters, k=k, settings=settings),
        release=survey.release_state(session, settings),
        funnel=stats.invitation_funnel(session, settings, k=k),
        activity=stats.activity_by_week(session, k=k),
        meetings=meetings.dashboard_figures(session, k=k),
        recruitment=recruitment.recruitment_figures(session, k=k),
    )
