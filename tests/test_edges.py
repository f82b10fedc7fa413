"""Integrity at the edges (issue 19, items 4 to 6): sign-out from the app's own pages only, personal-link cookies
that a second person at the same computer cannot use, upload names that are only ever PDF names.

Over HTTP through the web layer (routes and middleware, without a browser) and through the services; the same in
Chromium is in test_browser_sessions.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import accounts, links, recruitment, sessions, web
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import ApplicationFile
from tests.conftest import STRONG_PASSWORD, web_client
from tests.factories import PDF, application_input, make_world, published

OWN = "http://pvd.test"  # the test client's address (and PVD_BASE_URL's origin in the tests' settings)
OTHER = "https://autre-site.example"


@pytest.fixture
def http(app_env, factory: sessionmaker[Session]):
    return web_client()


def signed_in(http, factory: sessionmaker[Session], settings: Settings) -> str:
    """Sign a person in through the session route, as a browser does; the raw session id."""
    with factory.begin() as s:
        user = accounts.create_user(
            s,
            email="dora.direction@example.fr",
            display_name="Dora Direction",
            role="direction",
            settings=settings,
            password=STRONG_PASSWORD,
            notify=False,
        )
        ticket = sessions.issue_ticket(s, user, "/")
    return http.get(f"{web.SESSION_ROUTE}?ticket={ticket}").cookies[sessions.SESSION_COOKIE]


def alive(factory: sessionmaker[Session], settings: Settings, raw: str) -> bool:
    with factory.begin() as s:
        return sessions.resolve(s, raw, settings).user is not None


# ---------------------------------------------------------------------------- 4. sign-out


def test_a_get_of_the_sign_out_address_ends_nothing_and_shows_a_form(http, factory, settings) -> None:
    raw = signed_in(http, factory, settings)
    # As from an <img> or a link on another site: the browser sends the Lax cookie with a top-level GET.
    response = http.get(web.SIGN_OUT_ROUTE, headers={"referer": f"{OTHER}/page"})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert f'<form method="post" action="{web.SIGN_OUT_ROUTE}">' in response.text
    # Its POST must carry the page's origin: the one page whose referrer policy is not `no-referrer`.
    assert response.headers["referrer-policy"] == "same-origin"
    assert alive(factory, settings, raw)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": OTHER},
        {"origin": "null"},  # a sandboxed frame, or a page under `no-referrer`
        {"origin": "http://pvd.test.autre-site.example"},
        {"origin": "http://pvd.test:8080"},
        {"referer": f"{OTHER}/page"},
        {},  # neither Origin nor Referer: not from a page of the app
        {"origin": OTHER, "referer": f"{OWN}/"},  # the Origin decides when there is one
    ],
    ids=["other-site", "null", "suffix", "other-port", "referer-other", "none", "origin-wins"],
)
def test_a_post_from_anywhere_else_ends_nothing(http, factory, settings, headers) -> None:
    raw = signed_in(http, factory, settings)
    response = http.post(web.SIGN_OUT_ROUTE, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert alive(factory, settings, raw)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": OWN},
        {"referer": f"{OWN}/_pvd/deconnexion"},  # an older browser that sends no Origin
        # Behind a proxy: the browser's address arrives in X-Forwarded-Host / -Proto (or the Host passed on).
        {"origin": "https://pvd.anct.example", "x-forwarded-host": "pvd.anct.example", "x-forwarded-proto": "https"},
        {"origin": "https://pvd.anct.example:443", "host": "pvd.anct.example", "x-forwarded-proto": "https"},
    ],
    ids=["origin", "referer", "forwarded-host", "host-default-port"],
)
def test_a_post_from_the_apps_own_page_ends_the_session_and_clears_the_cookie(http, factory, settings, headers) -> None:
    raw = signed_in(http, factory, settings)
    response = http.post(web.SIGN_OUT_ROUTE, headers=headers)
    assert response.status_code == 303 and response.headers["location"] == "/?deconnexion=1"
    assert f'{sessions.SESSION_COOKIE}=""' in response.headers["set-cookie"]
    assert not alive(factory, settings, raw)


def test_a_forwarded_host_does_not_admit_another_site(http, factory, settings) -> None:
    raw = signed_in(http, factory, settings)
    response = http.post(
        web.SIGN_OUT_ROUTE,
        headers={"origin": OTHER, "x-forwarded-host": "pvd.anct.example", "x-forwarded-proto": "https"},
    )
    assert response.status_code == 403
    assert alive(factory, settings, raw)


# ---------------------------------------------------------------------------- 5. personal-link cookies


def test_a_personal_link_cookie_lives_15_minutes_on_the_websocket_path_only(http) -> None:
    response = http.get("/questionnaire?jeton=le-jeton")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{links.link_cookie_name('questionnaire')}=le-jeton;")
    assert "Max-Age=900" in cookie and "Path=/_stcore/stream" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


@pytest.mark.parametrize("page", sorted(web.PERSONAL_LINK_PAGES))
def test_leaving_clears_the_cookie_of_that_page_when_asked_from_the_apps_own_page(http, page) -> None:
    name = links.link_cookie_name(page)
    http.cookies.set(name, "le-jeton")
    refused = http.post(f"{web.LEAVE_LINK_ROUTE}?page={page}", headers={"origin": OTHER})
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert http.get(f"{web.LEAVE_LINK_ROUTE}?page={page}").status_code == 405  # never by GET

    response = http.post(f"{web.LEAVE_LINK_ROUTE}?page={page}", headers={"origin": OWN})
    assert response.status_code == 204
    cleared = response.headers.get_list("set-cookie")
    # On the WebSocket's path, and on `/` for a cookie set before this change.
    assert {c.split("Path=")[1].split(";")[0] for c in cleared} == {web.LINK_COOKIE_PATH, "/"}
    assert all(c.startswith(f'{name}="";') and "Max-Age=0" in c for c in cleared)


def test_leaving_an_unknown_page_is_refused(http) -> None:
    response = http.post(f"{web.LEAVE_LINK_ROUTE}?page=session", headers={"origin": OWN})
    assert response.status_code == 403


# ---------------------------------------------------------------------------- 6. upload names


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("cv.pdf", "cv.pdf"),
        ("CV Léa Martin.PDF", "CV Léa Martin.pdf"),
        ("cv.exe.pdf", "cv_exe.pdf"),
        ("a.html.pdf", "a_html.pdf"),
        ("x.hta", "x_hta.pdf"),
        ("payload.svg", "payload_svg.pdf"),
        ("run.js", "run_js.pdf"),
        ("start.bat", "start_bat.pdf"),
        ("page.html", "page_html.pdf"),
        ("cv.pdf.exe", "cv_pdf_exe.pdf"),
        ("CV v1.2 final.pdf", "CV v1_2 final.pdf"),
        ("CV <b>Léa</b>\x00\n.pdf", "CV _b_Léa_b_.pdf"),
        ("", "document.pdf"),
        ("....pdf", "document.pdf"),
        (".pdf", "document.pdf"),
        ("  .exe  ", "exe.pdf"),
    ],
)
def test_stored_upload_names_are_only_ever_pdf_names(given, stored) -> None:
    assert recruitment.safe_display_name(given) == stored


@pytest.mark.database_independent
@pytest.mark.parametrize("length", [95, 96, 97, 100, 101, 300])
def test_a_long_upload_name_keeps_its_pdf_ending_within_100_characters(length) -> None:
    name = recruitment.safe_display_name("é" * length + ".pdf")
    assert name.endswith(".pdf") and len(name) <= 100
    assert name.count(".") == 1


@pytest.mark.database_independent
def test_every_stored_name_ends_in_pdf_whatever_the_input() -> None:
    # A sweep over awkward inputs: every result is a PDF name of at most 100 characters with one dot.
    awkward = ["a" * 500, "." * 50, "x." * 80, "\u202ecod.pdf", "cv.PdF", "con.pdf", "é" * 200 + ".exe", "a/b\\c.pdf"]
    for given in awkward:
        name = recruitment.safe_display_name(given)
        assert name.endswith(".pdf") and len(name) <= 100 and name.count(".") == 1, (given, name)
        assert not any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E for c in name), (given, name)


def test_uploads_are_stored_and_downloaded_under_a_pdf_name(session, settings) -> None:
    world = make_world(session, settings)
    recruiter = world.users["recruteur"]
    posting_id = published(session, recruiter)
    recruitment.apply(session, posting_id, application_input(cv=recruitment.Upload("cv.exe.pdf", PDF)), settings)
    application_id, stored = session.execute(
        select(ApplicationFile.application_id, ApplicationFile.display_name).where(ApplicationFile.kind == "cv")
    ).one()
    assert stored == "cv_exe.pdf"
    # A name stored before the rule (an earlier version kept `.hta`) is served under a PDF name all the same.
    session.execute(update(ApplicationFile).values(display_name="ancien.hta"))
    name, content = recruitment.application_file(session, recruiter, application_id, "cv")
    assert name == "ancien_hta.pdf" and content == PDF
    with pytest.raises(DomainError) as error:
        recruitment.check_pdf(recruitment.Upload("../cv.pdf", PDF), "cv")
    assert error.value.code == "file_bad_name"
