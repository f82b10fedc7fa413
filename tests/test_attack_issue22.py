"""Attacks on issue 22 (the dashboard in sections, the report with every filter, French numbers, signed-out deep
links), written by an adversary: each defect found is fixed and its test kept; attacks that failed are kept for
their coverage."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from tests import test_pages
from tests.factories import texts
from tests.test_pages import World, app

world = test_pages.world  # the fixture: an administrator, a direction member and a recruiter


def dashboard(world: World, **params: str):
    """The dashboard opened by a direction member at an address with these parameters."""
    at = app(world.users["direction"])
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    return at.switch_page("pages/dashboard.py").run()


def rendered(markdown: str) -> str:
    """What Streamlit's Markdown makes of a message (CommonMark)."""
    return MarkdownIt("commonmark").render(markdown)


# ---------------------------------------------------------------------------- bad URL parameters


PHISHING = "**Session expirée** : [reconnectez-vous ici](https://evil.example/connexion)"


@pytest.mark.parametrize("name", ["region", "departement", "employeur", "periode"])
def test_a_filter_in_the_address_cannot_put_a_link_or_formatting_in_the_app_s_error(world: World, name: str) -> None:
    # A link sent around with ?employeur=**Session expirée** : [reconnectez-vous ici](https://evil.example/...) drew a
    # bold sentence and a live link to another site inside the app's own red message box.
    at = dashboard(world, **{name: PHISHING})
    assert not at.exception, texts(at.exception)
    [message] = texts(at.main.error)
    html = rendered(message)
    assert "<a " not in html and "<strong>" not in html, html
    assert "[reconnectez-vous ici](https://evil.example/connexion)" in html  # shown as typed


def test_a_huge_filter_value_is_not_echoed_whole(world: World) -> None:
    at = dashboard(world, region="x" * 5000)
    [message] = texts(at.main.error)
    assert message.startswith("Filtre inconnu : région « xxx") and len(message) < 200, len(message)
    assert "Les filtres de l'adresse ont été ignorés." in texts(at.main.caption)


@pytest.mark.database_independent
@pytest.mark.parametrize(
    "value",
    ["https://evil.example", "www.evil.example", ":material/lock: Connexion", "![x](https://evil.example/a.png)"],
)
def test_an_echoed_value_is_never_a_link_an_image_or_an_icon(value: str) -> None:
    from pvd_survey.errors import DomainError, french_markdown

    message = french_markdown(DomainError("unknown_filter", name="employeur", value=value))
    assert "https://" not in message and "www." not in message and " :material" not in message and "](" not in message
    when = french_markdown(DomainError("reminder_exists", when="10/12/2026 à 09:30"))
    assert when == "Une relance est déjà prévue le 10/12/2026 à 09:30."  # a time is left as it is


# ---------------------------------------------------------------------------- the report's charts drawn together


GOOD_CHART = {
    "data": {"values": [{"a": n, "b": n} for n in range(20)]},
    "mark": "bar",
    "encoding": {"x": {"field": "a", "type": "ordinal"}, "y": {"field": "b", "type": "quantitative"}},
}


@pytest.mark.database_independent
def test_a_chart_that_cannot_be_drawn_stops_the_report_with_a_french_message_and_no_thread_left() -> None:
    import threading
    import time

    from pvd_survey import report
    from pvd_survey.errors import DomainError, french_message

    draft = report._Draft()
    draft.add_page()
    draft.chart({"mark": "nonsense"}, width=100)  # vl-convert refuses it (an English JavaScript stack trace)
    for _ in range(8):
        draft.chart(GOOD_CHART, width=300)
    before = threading.active_count()
    started = time.monotonic()
    with pytest.raises(DomainError) as refused:
        draft.printed("Rapport", lambda _step: None)
    assert french_message(refused.value) == (
        "Le rapport n'a pas pu être préparé : un graphique n'a pas pu être dessiné. Réessayez ; si cela se "
        "reproduit, prévenez l'équipe technique."
    )
    assert threading.active_count() == before  # the pool's threads are gone
    assert time.monotonic() - started < 5  # the charts not yet started are not drawn for nothing


def test_the_dashboard_says_in_french_when_its_report_cannot_be_drawn(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pvd_survey import report

    def refused(spec: dict) -> bytes:  # what vl-convert does with a chart it cannot draw (a fault injected)
        raise ValueError("Vega-Lite to PNG conversion failed: TypeError: Cannot read properties of undefined")

    monkeypatch.setattr(report, "_png", refused)
    at = dashboard(world)
    at.button(key="dashboard_report_build").click().run()
    assert not at.exception, texts(at.exception)
    assert texts(at.main.error) == [
        "Le rapport n'a pas pu être préparé : un graphique n'a pas pu être dessiné. Réessayez ; si cela se "
        "reproduit, prévenez l'équipe technique."
    ]
    [status] = at.main.status
    assert (status.label, status.state) == ("Le rapport n'a pas pu être préparé.", "error")  # no spinner left turning
    assert not at.get("download_button")
