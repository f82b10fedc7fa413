"""Sessions that survive a reload, and the web layer (headers, personal links, deep links), in Chromium.

What the browser sees of cookies, headers and pages does not depend on the database: those tests run once (on
SQLite); the session store itself is tested on both databases in test_sessions.py, and the one journey that needs
PostgreSQL's sharing (a session opened on one app server, valid on another) runs on both.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import access, links, mail, meetings, sessions, survey, web
from pvd_survey.config import Settings
from pvd_survey.models import UserSession, utcnow
from tests.browser_support import (
    PEOPLE,
    Pages,
    alert,
    choose_radio,
    expect_nav,
    expect_page,
    heading,
    nav_link,
    running_server,
    screenshot_on_failure,
    sign_in,
    wait_for_run,
)
from tests.factories import meeting_form, person, token_from_outbox

pytestmark = pytest.mark.browser

LOGIN_REQUIRED = "Connectez-vous pour accéder à cette page."


def session_cookie(page: Page) -> dict | None:
    """The session cookie as the browser holds it (with its flags), if any."""
    found = [cookie for cookie in page.context.cookies() if cookie["name"] == sessions.SESSION_COOKIE]
    return found[0] if found else None


@pytest.mark.database_independent
@screenshot_on_failure
def test_reload_a_new_tab_and_a_typed_address_keep_the_sign_in(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded
) -> None:
    page = pages.new()
    # A session id planted before signing in (fixation) is never the one the sign-in uses.
    page.context.add_cookies([{"name": sessions.SESSION_COOKIE, "value": "choisi-par-un-tiers", "url": app_url}])
    sign_in(page, app_url, "direction")

    cookie = session_cookie(page)
    assert cookie is not None and cookie["value"] != "choisi-par-un-tiers" and len(cookie["value"]) >= 43
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"]  # plain http here; over https the cookie is Secure (see test_sessions.py)
    assert 0 < cookie["expires"] - time.time() <= 12 * 3600 + 60
    assert page.evaluate("document.cookie").find(sessions.SESSION_COOKIE) == -1  # invisible to scripts

    page.reload()
    expect_page(page, "Petites villes de demain")
    expect_nav(page, "direction")
    expect(page.get_by_test_id("stSidebar")).to_contain_text(PEOPLE["direction"][0])

    other_tab = page.context.new_page()
    other_tab.goto(f"{app_url}/dashboard")  # e.g. a bookmark, or a link opened from an e-mail
    expect_page(other_tab, "Tableau de bord")
    expect_nav(other_tab, "direction")

    # Signing in again (another visit) gets another id.
    again = pages.new()
    sign_in(again, app_url, "direction")
    assert session_cookie(again)["value"] != cookie["value"]


@pytest.mark.database_independent
@screenshot_on_failure
def test_signing_out_ends_the_session_and_nothing_private_comes_back(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory: sessionmaker[Session], settings
) -> None:
    page = pages.new()
    sign_in(page, app_url, "admin")
    raw = session_cookie(page)["value"]
    nav_link(page, "Comptes").click()
    expect_page(page, "Comptes")
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)

    page.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter").click()
    alert(page, "Info", "Vous êtes déconnecté·e.").wait_for()
    expect_page(page, "Petites villes de demain")
    expect_nav(page, None)
    assert session_cookie(page) is None
    with factory() as session:
        assert sessions.resolve(session, raw, settings).user is None  # ended on the server too

    for move in (page.reload, page.go_back):
        move()
        wait_for_run(page)
        expect_nav(page, None)
        body = page.locator("body").inner_text()
        assert all(email not in body for _, email in PEOPLE.values())

    page.goto(f"{app_url}/admin-users")
    alert(page, "Error", LOGIN_REQUIRED).wait_for()
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)

    # The old cookie, replayed, is worth nothing.
    replay = pages.new()
    replay.context.add_cookies([{"name": sessions.SESSION_COOKIE, "value": raw, "url": app_url}])
    replay.goto(f"{app_url}/admin-users")
    alert(replay, "Error", LOGIN_REQUIRED).wait_for()


def _forge(page: Page, factory, app_url: str, user_id: int) -> None:
    page.context.clear_cookies()
    page.context.add_cookies([{"name": sessions.SESSION_COOKIE, "value": "x" * 43, "url": app_url}])


def _revoke(page: Page, factory, app_url: str, user_id: int) -> None:
    with factory.begin() as session:
        sessions.end_all(session, user_id)  # "Se déconnecter de partout", from another device


def _expire(page: Page, factory, app_url: str, user_id: int) -> None:
    with factory.begin() as session:
        session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=3)))


@pytest.mark.database_independent
@pytest.mark.parametrize("spoil", [_forge, _revoke, _expire], ids=["forged", "revoked", "expired"])
@screenshot_on_failure
def test_a_forged_revoked_or_expired_cookie_asks_to_sign_in_again(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory, spoil
) -> None:
    page = pages.new()
    sign_in(page, app_url, "direction")
    spoil(page, factory, app_url, seeded.users["direction"].id)
    page.goto(f"{app_url}/dashboard")
    alert(page, "Error", LOGIN_REQUIRED).wait_for()
    expect(heading(page, "Tableau de bord")).to_have_count(0)
    expect_nav(page, None)
    if spoil is not _forge:
        expect(page.get_by_test_id("stAlertContentWarning")).to_contain_text("Votre session a pris fin")


@screenshot_on_failure
def test_a_session_opened_on_one_app_server_is_valid_on_another(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, database_url: str, tmp_path
) -> None:
    page = pages.new()
    sign_in(page, app_url, "direction")
    with running_server(database_url, tmp_path / "second-server.log") as second:
        # Same host, other port: the browser sends the same cookie; only the shared database knows it.
        page.goto(f"{second.url}/dashboard")
        expect_page(page, "Tableau de bord")
        expect_nav(page, "direction")


@pytest.mark.database_independent
@screenshot_on_failure
def test_security_headers_on_a_page_and_on_a_download(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory
) -> None:
    with factory.begin() as session:
        meeting_id = meetings.create_meeting(session, meeting_form())
    page = pages.new()
    response = page.goto(app_url)
    expect_page(page, "Petites villes de demain")
    assert page.locator("html").get_attribute("lang") == "fr"
    _assert_headers(response.headers)
    assert response.headers["cache-control"] == "no-store"
    # An unknown address: the French « page introuvable » (404), with the same headers, not Streamlit's English.
    missing = page.context.request.get(f"{app_url}/nulle-part", headers={"accept": "text/html"})
    assert missing.status == 404 and "<h1>Page introuvable</h1>" in missing.text()
    _assert_headers(missing.headers)

    sign_in(page, app_url, "direction")
    page.goto(f"{app_url}/{access.PAGES_BY_KEY['meetings_admin'].url_path}?rencontre={meeting_id}")
    expect_page(page, "Organiser les rencontres")
    with page.expect_download() as download:
        page.get_by_role("button", name="Liste (CSV)").click()
    assert download.value.suggested_filename.endswith("-inscrits.csv")
    assert "/media/" in download.value.url  # Streamlit's media route serves downloads
    _assert_headers(page.context.request.get(download.value.url).headers)


def _assert_headers(headers: dict[str, str]) -> None:
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "camera=(self)" in headers["permissions-policy"]


@pytest.mark.database_independent
@screenshot_on_failure
def test_a_personal_link_leaves_the_address_and_still_survives_a_reload(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory, settings: Settings
) -> None:
    with factory.begin() as session:
        survey.invite(session, survey.parse_invitation_list("lea.martin@montbard.fr;21"), settings)
        [link] = [m.link for m in mail.list_messages(session) if m.kind == "survey_invitation"]
    token = link.split("jeton=")[1]
    page = pages.new()
    page.goto(app_url + link.removeprefix("http://pvd.test"))
    expect_page(page, "Questionnaire : le profil des chefs de projet")
    assert page.url == f"{app_url}/questionnaire"
    assert token not in page.url
    [kept] = [c for c in page.context.cookies() if c["name"] == links.link_cookie_name("questionnaire")]
    assert kept["value"] == token and kept["httpOnly"]
    history = page.evaluate("window.history.length")
    assert history <= 2  # the address with the token was replaced, not kept as an entry

    page.reload()
    expect_page(page, "Questionnaire : le profil des chefs de projet")
    expect(page.get_by_text("Ce questionnaire s'ouvre depuis le lien personnel")).to_have_count(0)
    page.get_by_role("button", name="Envoyer mes réponses").wait_for()


# ---------------------------------------------------------------------------- issue 19: sign-out, shared computers


@contextlib.contextmanager
def other_site(app_url: str) -> Iterator[str]:
    """A real web server on another site (`localhost` is not the app's `127.0.0.1`): a GET link to the sign-out
    address and a form that POSTs to it."""
    pages_served = {
        "/get.html": f'<a id="go" href="{app_url}{web.SIGN_OUT_ROUTE}">Un lien</a>'
        f'<img src="{app_url}{web.SIGN_OUT_ROUTE}" alt="">',
        "/post.html": f'<form method="post" action="{app_url}{web.SIGN_OUT_ROUTE}"><button>Envoyer</button></form>',
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ("<!doctype html><html><body>" + pages_served.get(self.path, "") + "</body></html>").encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.database_independent
@screenshot_on_failure
def test_another_site_cannot_sign_a_person_out_and_the_apps_own_form_can(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory: sessionmaker[Session], settings
) -> None:
    page = pages.new()
    sign_in(page, app_url, "direction")
    raw = session_cookie(page)["value"]

    with other_site(app_url) as elsewhere:
        # A GET from another site: an image (a subresource: the Lax cookie stays home) and a link (a top-level
        # navigation: the Lax cookie goes along) to the sign-out address.
        page.goto(f"{elsewhere}/get.html")
        page.locator("#go").click()
        page.wait_for_url(f"{app_url}{web.SIGN_OUT_ROUTE}")
        page.get_by_text("Voulez-vous vous déconnecter ?").wait_for()
        assert session_cookie(page)["value"] == raw
        with factory() as session:
            assert sessions.resolve(session, raw, settings).user is not None

        # A POST from another site's form.
        page.goto(f"{elsewhere}/post.html")
        with page.expect_navigation():
            page.get_by_role("button", name="Envoyer").click()
        assert session_cookie(page)["value"] == raw
        with factory() as session:
            assert sessions.resolve(session, raw, settings).user is not None

    # The session still works.
    page.goto(f"{app_url}/dashboard")
    expect_page(page, "Tableau de bord")
    expect_nav(page, "direction")

    # The form the sign-out address shows (a bookmark, the link above) signs out: its POST carries the app's Origin.
    page.goto(f"{app_url}{web.SIGN_OUT_ROUTE}")
    page.get_by_role("button", name="Se déconnecter").click()
    alert(page, "Info", "Vous êtes déconnecté·e.").wait_for()
    expect_nav(page, None)
    assert session_cookie(page) is None
    with factory() as session:
        assert sessions.resolve(session, raw, settings).user is None


def link_cookies(page: Page) -> list[dict]:
    """The personal-link cookies the browser holds."""
    return [c for c in page.context.cookies() if c["name"].startswith(f"pvd_{links.TOKEN_PARAMETER}_")]


@pytest.mark.database_independent
@screenshot_on_failure
def test_on_a_shared_computer_the_next_person_sees_nothing_of_the_survey_left(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory, settings: Settings
) -> None:
    with factory.begin() as session:
        survey.invite(session, survey.parse_invitation_list("lea.martin@montbard.fr;21"), settings)
        [link] = [m.link for m in mail.list_messages(session) if m.kind == "survey_invitation"]
    first = pages.new()
    first.goto(app_url + link.removeprefix("http://pvd.test"))
    expect_page(first, "Questionnaire : le profil des chefs de projet")
    choose_radio(first, "Genre", "Homme")  # a draft, saved on the server
    first.get_by_text(re.compile(r"^Brouillon enregistré à")).wait_for()
    [cookie] = link_cookies(first)
    # Sent only with the WebSocket's handshake (where Streamlit reads cookies), for 15 minutes at most.
    assert cookie["path"] == web.LINK_COOKIE_PATH and cookie["httpOnly"]
    assert 0 < cookie["expires"] - time.time() <= 15 * 60 + 5

    # Léa leaves without sending.
    with first.expect_response(lambda response: web.LEAVE_LINK_ROUTE in response.url) as left:
        first.get_by_role("button", name="Quitter").click()
    assert left.value.status == 204  # the page's own fetch: its Origin is the app's
    left_message = "Vous avez quitté la page : elle ne s'ouvrira plus sur cet ordinateur sans votre lien personnel."
    alert(first, "Info", left_message).wait_for()
    first.get_by_text("Ce questionnaire s'ouvre depuis le lien personnel").wait_for()
    expect(first.get_by_role("button", name="Envoyer mes réponses")).to_have_count(0)
    assert not link_cookies(first)

    # The next person, in a new tab of the same browser, and after a reload of Léa's tab: nothing of hers.
    second = first.context.new_page()
    second.goto(f"{app_url}/questionnaire")
    first.reload()
    for page in (second, first):
        expect_page(page, "Questionnaire : le profil des chefs de projet")
        page.get_by_text("Ce questionnaire s'ouvre depuis le lien personnel").wait_for()
        expect(page.get_by_role("radio", name="Homme")).to_have_count(0)


@pytest.mark.database_independent
@screenshot_on_failure
def test_after_cancelling_a_registration_the_next_person_sees_nothing(
    request: pytest.FixtureRequest, pages: Pages, app_url: str, seeded, factory, settings: Settings
) -> None:
    with factory.begin() as session:
        meeting_id = meetings.create_meeting(session, meeting_form())
        meetings.register(session, meeting_id, person(1, full_name="Léa Martin"), settings)
        token = token_from_outbox(session, "personne.1@mairie.fr")
    first = pages.new()
    first.goto(f"{app_url}/inscription?{links.TOKEN_PARAMETER}={token}")
    expect_page(first, "Mon inscription")
    first.get_by_text("Léa Martin", exact=False).wait_for()
    first.get_by_text("Je confirme vouloir annuler mon inscription").click()
    wait_for_run(first)
    with first.expect_response(lambda response: web.LEAVE_LINK_ROUTE in response.url) as left:
        first.get_by_role("button", name="Annuler mon inscription").click()
    assert left.value.status == 204
    cancelled = "Votre inscription est annulée. Un e-mail de confirmation vous est envoyé."
    alert(first, "Success", cancelled).wait_for()
    expect(first.get_by_text("Léa Martin", exact=False)).to_have_count(0)
    assert not link_cookies(first)

    second = first.context.new_page()
    second.goto(f"{app_url}/inscription")
    expect_page(second, "Mon inscription")
    second.get_by_text("Cette page s'ouvre depuis le lien personnel", exact=False).wait_for()
    expect(second.get_by_text("Léa Martin", exact=False)).to_have_count(0)
