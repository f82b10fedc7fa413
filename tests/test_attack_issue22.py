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

    from pvd_survey import drawing, report
    from pvd_survey.errors import DomainError, french_message

    draft = report._Draft()
    draft.add_page()
    draft.chart({"mark": "nonsense"}, width=100)  # vl-convert refuses it (an English JavaScript stack trace)
    for _ in range(8):
        draft.chart(GOOD_CHART, width=300)
    [warm] = drawing.draw_all([GOOD_CHART])  # the drawing processes, shared by every report, started once
    assert warm.result(timeout=60)[:4] == b"\x89PNG"
    before = threading.active_count()
    started = time.monotonic()
    with pytest.raises(DomainError) as refused:
        draft.printed("Rapport", lambda _step: None)
    assert french_message(refused.value) == (
        "Le rapport n'a pas pu être préparé : un graphique n'a pas pu être dessiné. Réessayez ; si cela se "
        "reproduit, prévenez l'équipe technique."
    )
    assert threading.active_count() == before  # no thread left behind by the report
    assert time.monotonic() - started < 5  # the charts not yet started are not drawn for nothing


def test_the_dashboard_says_in_french_when_its_report_cannot_be_drawn(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import Future

    from pvd_survey import drawing

    def refused(specs: list[dict]) -> list[Future[bytes]]:  # what vl-convert does with a chart it cannot draw
        futures: list[Future[bytes]] = [Future() for _ in specs]
        for future in futures:
            future.set_exception(ValueError("Vega-Lite to PNG conversion failed: TypeError: Cannot read properties"))
        return futures

    monkeypatch.setattr(drawing, "draw_all", refused)
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


# ---------------------------------------------------------------------------- French numbers stay out of tool files


def _machine_readable(text: str) -> None:
    """A tools CSV: comma separated, no French spacing, every numeric cell a Python number with a dot."""
    import csv
    import io

    assert "\u202f" not in text and "\u00a0" not in text and not text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    for name in ("count", "share", "answered", "share_2022", "difference_points"):
        if name in header:
            column = header.index(name)
            for row in rows[1:]:
                if row[column]:
                    float(row[column])  # ValueError on "12,5" or "1 234"


def test_the_tools_csv_and_the_stats_command_keep_machine_numbers(world: World, database_url: str) -> None:
    from pvd_survey import exports, stats
    from tests.factories import load_survey, run_cli

    with world.factory.begin() as session:
        load_survey(session, world.settings, {"21": 1234, "71": 7})
    with world.factory() as session:
        figures = stats.survey_stats(
            session, stats.make_filters("27", "21", "epci", None), k=5, settings=world.settings
        )
    assert figures.respondents is not None and figures.respondents > 1000  # a number French prints "1 2xx"
    _machine_readable(stats.stats_csv(figures, exports.TOOLS))
    run = run_cli(database_url, "stats", "--department", "21", "--employer", "epci", "--format", "csv")
    assert run.returncode == 0, run.stderr
    _machine_readable(run.stdout)
    json_run = run_cli(database_url, "stats", "--department", "21", "--format", "json")
    assert "\u202f" not in json_run.stdout and '"respondents": 12' in json_run.stdout
    # The CSV for people: a decimal comma, but a number its spreadsheet still reads (no thousands separator).
    people = stats.stats_csv(figures, exports.PEOPLE)
    assert "\u202f" not in people and ";12" in people


# ---------------------------------------------------------------------------- disclosure through the report's filters


def test_the_report_prints_no_figure_the_dashboard_hides_for_the_same_filters(world: World) -> None:
    # Côte-d'Or: 9 EPCI heads of project who started in 2021-S2, and 2 town ones who started in 2022-S1. With
    # department, employer and start period all set on the two town ones, the dashboard hides everything: so does
    # the report (its survey page, its map table), while the same department's EPCI ones are shown on both.
    # (That the report prints the dashboard's own figure for shown filters: test_territory.)
    import dataclasses
    import io

    import pypdf

    from pvd_survey import report, stats, survey
    from tests.factories import department_answers

    rows = [department_answers("21", start_month="2021-09", employer="epci")] * 9 + [
        department_answers("21", start_month="2022-03", employer="commune")
    ] * 2
    with world.factory.begin() as session:
        survey.import_responses(session, rows, dataclasses.replace(world.settings, disclosure_k=1))
    town = stats.make_filters(None, "21", "commune", "2022-S1")
    with world.factory() as session:
        assert stats.survey_stats(session, town, k=5, settings=world.settings).isolated
        assert not stats.survey_stats(
            session, stats.make_filters(None, "21", "epci", "2021-S2"), settings=world.settings
        ).isolated
        data = report.build_report(session, report.ReportRequest.of(town), k=5, settings=world.settings)
    whole = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages).split())
    assert "Répondants : masqué." in whole and "aucun chiffre n'est publié pour ce territoire" in whole
    assert not any(f"{label} 2" in whole for label in ("Une commune", "Commune", "2022-S1", "1er semestre 2022"))
    # The map's table: Côte-d'Or's respondents with these filters, masqué as well.
    assert "Présents aux rencontres 21 – Côte-d'Or 0 0 — masqué masqué masqué" in whole


# ---------------------------------------------------------------------------- where signing in leads


@pytest.mark.database_independent
@pytest.mark.parametrize(
    "path",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "evil.example",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_no_address_off_the_site_is_kept_for_after_signing_in(path: str | None) -> None:
    from urllib.parse import urlsplit

    from pvd_survey import sessions

    kept = sessions.safe_next_path(path)
    assert kept == "/" and not urlsplit(kept).netloc


@pytest.mark.database_independent
@pytest.mark.parametrize("path", ["/%2F%2Fevil.example", "/%5Cevil.example", "/dashboard?x=//evil.example"])
def test_encoded_slashes_stay_a_path_of_this_site(path: str) -> None:
    from urllib.parse import urljoin

    from pvd_survey import sessions

    # What a browser makes of the Location header: an address on this host whatever the encoded characters.
    assert urljoin("https://pvd.test/login", sessions.safe_next_path(path)).startswith("https://pvd.test/")


def test_a_hostile_deep_link_signs_in_to_the_same_page_of_this_site(world: World) -> None:
    from urllib.parse import urlsplit

    from tests.conftest import STRONG_PASSWORD, redirect_target, web_client
    from tests.test_pages import log_in

    at = app()
    for name, value in {
        "section": "https://evil.example",
        "region": "//evil.example",
        "suivant": "/\\evil.example",
        "employeur": "%2F%2Fevil.example",
    }.items():
        at.query_params[name] = value
    at.run()
    at.switch_page("pages/dashboard.py").run()
    log_in(at, world.users["direction"].email, STRONG_PASSWORD)
    client = web_client()
    response = client.get(redirect_target(at))
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("", "", "/dashboard")


@pytest.mark.parametrize("section", ["inconnue", "QUESTIONNAIRE", "questionnaire/../recrutement"])
def test_an_unknown_section_in_the_address_says_so_and_shows_the_summary(world: World, section: str) -> None:
    # It showed the summary without a word: a colleague's link cut or mistyped seemed to lead to the wrong place.
    at = dashboard(world, section=section, region="27")
    assert not at.exception, texts(at.exception)
    assert texts(at.main.error) == [f"Rubrique inconnue : « {section} ». La synthèse du tableau de bord est affichée."]
    assert at.session_state["dashboard_section"] == "synthese"
    assert at.selectbox(key="dashboard_region").value == "27"  # the filters of the address still apply
    assert "section" not in at.query_params  # the address now names the summary
    at.selectbox(key="dashboard_employer").select("epci").run()
    assert not at.main.error  # said once, not at every click


@pytest.mark.database_independent
def test_two_reports_at_once_one_failing_neither_hangs_nor_spoils_the_other() -> None:
    # Two sessions print at the same moment; one report holds a chart vl-convert refuses.
    import threading

    from pvd_survey import drawing, report
    from pvd_survey.errors import DomainError

    def draft(broken: bool) -> report._Draft:
        made = report._Draft()
        made.add_page()
        for number in range(4):
            made.chart({"mark": "nonsense"} if broken and number == 1 else GOOD_CHART, width=300)
        return made

    outcome: dict[str, object] = {}
    drawing.draw_all([GOOD_CHART])[0].result(timeout=60)  # the drawing processes, shared by every report, started

    def print_one(name: str, broken: bool) -> None:
        try:
            outcome[name] = draft(broken).printed("Rapport", lambda _step: None)
        except DomainError as error:
            outcome[name] = error.code

    before = threading.active_count()
    sessions = [threading.Thread(target=print_one, args=(name, name == "cassé")) for name in ("cassé", "sain")]
    for session in sessions:
        session.start()
    for session in sessions:
        session.join(60)
    assert not any(session.is_alive() for session in sessions)  # no hang
    assert outcome["cassé"] == "report_chart_failed"
    assert isinstance(outcome["sain"], bytes) and outcome["sain"].startswith(b"%PDF-")
    assert threading.active_count() == before  # no thread left behind by the reports


@pytest.mark.parametrize("name", ["region", "contrat", "tri"])
def test_the_public_job_board_s_filters_cannot_put_a_link_in_its_error_either(world: World, name: str) -> None:
    # The same helper shows the job board's bad filters, on a page anyone opens without an account.
    at = app()
    at.query_params[name] = PHISHING
    at.run()
    at.switch_page("pages/jobs.py").run()
    assert not at.exception, texts(at.exception)
    [message] = texts(at.main.error)
    html = rendered(message)
    assert "<a " not in html and "<strong>" not in html, html
