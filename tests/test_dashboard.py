"""The dashboard's sections: one section's figures per read, and notes where two figures seem to disagree."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from pvd_survey import dashboard, overview, stats
from pvd_survey.config import Settings


@pytest.mark.parametrize(
    ("section", "read"),
    [
        ("synthese", {"period", "key_figures"}),
        ("questionnaire", {"survey", "release"}),
        ("invitations", {"funnel", "activity"}),
        ("rencontres", {"meetings"}),
        ("recrutement", {"recruitment"}),
    ],
)
def test_each_section_reads_its_own_figures_only(session: Session, settings: Settings, section, read) -> None:
    live = dashboard.live_figures(session, stats.Filters(), settings.disclosure_k, settings=settings, section=section)
    fields = {"period", "key_figures", "survey", "release", "funnel", "activity", "meetings", "recruitment"}
    assert {name for name in fields if getattr(live, name) is not None} == read
    # Two sections never share a fingerprint: switching section redraws the page.
    other = dashboard.live_figures(
        session, stats.Filters(), settings.disclosure_k, settings=settings, section=dashboard.SUMMARY
    )
    assert (live.fingerprint() == other.fingerprint()) == (section == dashboard.SUMMARY)


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("value", "section"), [("questionnaire", "questionnaire"), (None, "synthese"), ("x", "synthese"), ([], "synthese")]
)
def test_a_section_comes_from_the_url_or_is_the_summary(value, section) -> None:
    assert dashboard.section_from(value) == section


def _answers(total: float | None, new: float | None, national: bool = False) -> list[overview.KeyFigure]:
    return [
        overview.KeyFigure(overview.ALL_ANSWERS, total, hidden=total is None),
        overview.KeyFigure(overview.NEW_ANSWERS + (" (France entière)" if national else ""), new, hidden=new is None),
    ]


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (_answers(1199, None), "le total peut s'afficher quand les nouvelles réponses sont masquées"),
        (_answers(12, 40, national=True), "compte la France entière"),
        (_answers(1199, 40), None),  # nothing looks wrong
        (_answers(None, None), None),
        ([], None),
    ],
)
def test_figures_that_look_contradictory_are_explained(figures, expected) -> None:
    notes = overview.apparent_contradictions(figures, k=5)
    if expected is None:
        assert notes == []
    else:
        [note] = notes
        assert expected in note
