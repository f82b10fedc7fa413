"""Server-side sessions (services) and the web layer's routes and headers (over HTTP, without a browser)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey import accounts, links, privacy, sessions, web
from pvd_survey.accounts import UserInfo
from pvd_survey.config import Settings
from pvd_survey.errors import DomainError
from pvd_survey.models import SignInTicket, UserSession, utcnow
from tests.conftest import STRONG_PASSWORD, web_client


@pytest.fixture
def alice(session: Session, settings: Settings) -> UserInfo:
    return accounts.create_user(
        session,
        email="alice.direction@example.fr",
        display_name="Alice Direction",
        role="direction",
        settings=settings,
        password=STRONG_PASSWORD,
        notify=False,
    )


def open_session(session: Session, user: UserInfo, settings: Settings, now=None, replaces=None) -> str:
    ticket = sessions.issue_ticket(session, user, "/dashboard", now=now)
    return sessions.redeem_ticket(session, ticket, settings, replaces=replaces, now=now).session_id


def who(session: Session, raw: str | None, settings: Settings, now=None) -> str | None:
    user = sessions.resolve(session, raw, settings, now=now).user
    return user.email if user else None


# ---------------------------------------------------------------------------- services


def test_a_ticket_opens_a_session_once_and_only_its_hash_is_stored(session, settings, alice) -> None:
    ticket = sessions.issue_ticket(session, alice, "/dashboard")
    opened = sessions.redeem_ticket(session, ticket, settings)
    assert opened.next_path == "/dashboard"
    assert len(opened.session_id) >= 43  # 256 bits, URL-safe
    assert opened.max_age_seconds == 12 * 3600
    assert who(session, opened.session_id, settings) == alice.email
    stored = session.scalars(select(UserSession.id_hash)).all()
    assert stored == [links.token_hash(opened.session_id)]
    assert opened.session_id not in stored
    with pytest.raises(DomainError) as error:
        sessions.redeem_ticket(session, ticket, settings)  # used once
    assert error.value.code == "ticket_invalid"


@pytest.mark.parametrize("ticket", ["", "x" * 500, "forged-ticket"])
def test_only_a_valid_ticket_is_accepted(session, settings, alice, ticket) -> None:
    with pytest.raises(DomainError) as error:
        sessions.redeem_ticket(session, ticket, settings)
    assert error.value.code == "ticket_invalid"
    assert session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_a_ticket_expires_within_a_minute(session, settings, alice) -> None:
    now = utcnow()
    ticket = sessions.issue_ticket(session, alice, "/", now=now)
    with pytest.raises(DomainError):
        sessions.redeem_ticket(session, ticket, settings, now=now + timedelta(seconds=sessions.TICKET_SECONDS + 1))


def test_a_ticket_of_an_account_disabled_since_opens_nothing(session, settings, alice) -> None:
    admin = accounts.create_first_admin(
        session, email="ada@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
    )
    ticket = sessions.issue_ticket(session, alice, "/")
    accounts.set_active(session, alice.id, False, admin.id)
    with pytest.raises(DomainError):
        sessions.redeem_ticket(session, ticket, settings)


@pytest.mark.parametrize("path", ["https://evil.example/", "//evil.example", "/\\evil", "javascript:alert(1)", ""])
def test_the_way_back_never_leaves_the_site(session, settings, alice, path) -> None:
    ticket = sessions.issue_ticket(session, alice, path)
    assert sessions.redeem_ticket(session, ticket, settings).next_path == "/"


def test_each_sign_in_gets_a_new_id_and_ends_the_browsers_previous_session(session, settings, alice) -> None:
    first = open_session(session, alice, settings)
    second = open_session(session, alice, settings, replaces=first)
    assert second != first
    assert who(session, first, settings) is None
    assert who(session, second, settings) == alice.email


def test_idle_and_absolute_expiry(session, settings, alice) -> None:
    start = utcnow()
    raw = open_session(session, alice, settings, now=start)
    idle = timedelta(minutes=settings.session_idle_minutes)
    assert who(session, raw, settings, now=start + idle - timedelta(seconds=1)) == alice.email
    assert who(session, raw, settings, now=start + idle + timedelta(seconds=1)) is None

    # Activity postpones the idle limit, never the maximum lifetime.
    moment = start
    while moment < start + timedelta(hours=settings.session_max_hours) - idle / 2:
        moment += idle / 2
        resolved = sessions.resolve(session, raw, settings, now=moment)
        assert resolved.user is not None and resolved.needs_touch
        sessions.touch(session, raw, now=moment)
    assert who(session, raw, settings, now=start + timedelta(hours=settings.session_max_hours, seconds=1)) is None


def test_recent_activity_is_not_written_again(session, settings, alice) -> None:
    now = utcnow()
    raw = open_session(session, alice, settings, now=now)
    assert not sessions.resolve(session, raw, settings, now=now + timedelta(seconds=30)).needs_touch
    assert sessions.resolve(session, raw, settings, now=now + timedelta(seconds=61)).needs_touch


def test_shorter_settings_apply_to_open_sessions(session, settings, alice) -> None:
    now = utcnow()
    raw = open_session(session, alice, settings, now=now)
    strict = replace(settings, session_idle_minutes=5)
    assert who(session, raw, strict, now=now + timedelta(minutes=6)) is None


def test_forged_or_unknown_ids_belong_to_nobody(session, settings, alice) -> None:
    open_session(session, alice, settings)
    for forged in (None, "", "a" * 43, "x" * 5000, links.token_hash("anything")):
        assert who(session, forged, settings) is None


def test_sign_out_ends_only_this_session(session, settings, alice) -> None:
    here, elsewhere = open_session(session, alice, settings), open_session(session, alice, settings)
    sessions.end(session, here)
    assert who(session, here, settings) is None
    assert who(session, elsewhere, settings) == alice.email


def test_open_sessions_are_counted_as_resolve_sees_them(session, settings, alice) -> None:
    admin = accounts.create_first_admin(
        session, email="ada@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
    )
    now = utcnow().replace(microsecond=0)
    idle, longest = timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_max_hours)
    raws = {
        "fresh": open_session(session, alice, settings, now=now),
        "idle to the limit": open_session(session, alice, settings, now=now - idle),
        "idle too long": open_session(session, alice, settings, now=now - idle - timedelta(seconds=1)),
        "old to the limit": open_session(session, alice, settings, now=now - longest),
        "too old": open_session(session, alice, settings, now=now - longest - timedelta(seconds=1)),
        "older epoch": open_session(session, alice, settings, now=now),
    }
    for name in ("old to the limit", "too old"):  # active until now, but opened long ago
        sessions.touch(session, raws[name], now=now)
    session.execute(
        update(UserSession)
        .where(UserSession.id_hash == links.token_hash(raws["older epoch"]))
        .values(session_epoch=alice.session_epoch - 1)
    )
    open_session(session, admin, settings, now=now)  # another account's
    valid = [name for name, raw in raws.items() if who(session, raw, settings, now=now)]
    assert valid == ["fresh", "idle to the limit", "old to the limit"]
    assert sessions.count_open(session, alice.id, settings, now=now) == 3
    assert sessions.count_open(session, admin.id, settings, now=now) == 1


def test_sign_out_everywhere_disabling_and_new_passwords_end_every_session(session, settings, alice) -> None:
    admin = accounts.create_first_admin(
        session, email="ada@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=settings
    )
    admins = open_session(session, admin, settings)

    raws = [open_session(session, alice, settings) for _ in range(3)]
    assert sessions.count_open(session, alice.id, settings) == 3
    sessions.end_all(session, alice.id)
    assert [who(session, raw, settings) for raw in raws] == [None, None, None]
    assert sessions.count_open(session, alice.id, settings) == 0

    alice = accounts.get_user(session, alice.id)
    raw = open_session(session, alice, settings)
    accounts.set_password(session, alice.id, "Quimperlé, la ville basse en juin", settings)
    assert who(session, raw, settings) is None

    alice = accounts.get_user(session, alice.id)
    raw = open_session(session, alice, settings)
    accounts.set_active(session, alice.id, False, admin.id)
    assert who(session, raw, settings) is None
    assert who(session, admins, settings) == admin.email  # nobody else is signed out


def test_changing_ones_own_password_keeps_only_this_session(session, settings, alice) -> None:
    here, elsewhere = open_session(session, alice, settings), open_session(session, alice, settings)
    updated = accounts.change_own_password(
        session, alice.id, STRONG_PASSWORD, "Quimperlé, la ville basse en juin", settings
    )
    sessions.carry_on(session, here, updated)
    assert who(session, here, settings) == alice.email
    assert who(session, elsewhere, settings) is None


def test_purge_deletes_dead_sessions_and_tickets(session, settings, alice) -> None:
    now = utcnow()
    old = open_session(session, alice, settings, now=now - timedelta(hours=settings.session_max_hours + 1))
    live = open_session(session, alice, settings, now=now)
    sessions.issue_ticket(session, alice, "/", now=now - timedelta(minutes=5))
    items = privacy.purge(session, settings, now=now, dry_run=True)
    assert [item.step for item in items] == ["sessions de connexion terminées"]
    assert who(session, old, settings, now=now) is None
    privacy.purge(session, settings, now=now)
    assert session.scalars(select(UserSession.id_hash)).all() == [links.token_hash(live)]
    assert session.scalar(select(func.count()).select_from(SignInTicket)) == 0


# ---------------------------------------------------------------------------- the web layer over HTTP


@pytest.fixture
def http(app_env, factory: sessionmaker[Session]):
    return web_client()


def issue(factory: sessionmaker[Session], settings: Settings, next_path: str = "/dashboard") -> tuple[UserInfo, str]:
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
        return user, sessions.issue_ticket(s, user, next_path)


def assert_security_headers(response, https: bool = False) -> None:
    headers = response.headers
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "unsafe-eval" not in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "camera=(self)" in headers["permissions-policy"] and "geolocation=()" in headers["permissions-policy"]
    assert ("strict-transport-security" in headers) is https


def test_session_route_sets_the_cookie_and_goes_back(http, factory, settings) -> None:
    user, ticket = issue(factory, settings)
    response = http.get(f"{web.SESSION_ROUTE}?ticket={ticket}")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    raw = response.cookies[sessions.SESSION_COOKIE]
    with factory.begin() as s:
        assert who(s, raw, settings) == user.email
    assert_security_headers(response)

    again = http.get(f"{web.SESSION_ROUTE}?ticket={ticket}")
    assert again.status_code == 400
    assert "Ce lien de connexion a expiré ou a déjà servi" in again.text
    assert "set-cookie" not in again.headers


def test_over_https_the_cookie_is_secure_and_hsts_is_sent(http, factory, settings) -> None:
    _, ticket = issue(factory, settings)
    response = http.get(f"{web.SESSION_ROUTE}?ticket={ticket}", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["set-cookie"]
    assert_security_headers(response, https=True)
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.parametrize("query", ["", "?ticket=", "?ticket=forged", "?user=1"])
def test_session_route_accepts_nothing_but_a_valid_ticket(http, factory, settings, query) -> None:
    issue(factory, settings)
    response = http.get(web.SESSION_ROUTE + query)
    assert response.status_code == 400
    assert "set-cookie" not in response.headers
    assert '<html lang="fr">' in response.text
    with factory.begin() as s:
        assert s.scalar(select(func.count()).select_from(UserSession)) == 0


def test_sign_out_route_clears_the_cookie_of_a_session_the_app_ended(http, factory, settings) -> None:
    _, ticket = issue(factory, settings)
    raw = http.get(f"{web.SESSION_ROUTE}?ticket={ticket}").cookies[sessions.SESSION_COOKIE]
    with factory.begin() as s:
        sessions.end(s, raw)  # what the « Se déconnecter » button does (ui.sign_out), before coming here
    response = http.get(web.SIGN_OUT_ROUTE)
    assert response.status_code == 303 and response.headers["location"] == "/?deconnexion=1"
    assert f'{sessions.SESSION_COOKIE}=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    with factory.begin() as s:
        assert who(s, raw, settings) is None


@pytest.mark.parametrize("page", sorted(web.PERSONAL_LINK_PAGES))
def test_a_personal_link_trades_its_token_for_a_cookie_of_that_page(http, page) -> None:
    response = http.get(f"/{page}?jeton=le-jeton&autre=1")
    assert response.status_code == 303
    assert response.headers["location"] == f"/{page}?autre=1"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{links.link_cookie_name(page)}=le-jeton;")
    assert "HttpOnly" in cookie and f"Max-Age={web.LINK_COOKIE_SECONDS}" in cookie and web.LINK_COOKIE_SECONDS <= 900
    assert f"Path={web.LINK_COOKIE_PATH}" in cookie
    assert_security_headers(response)


@pytest.mark.database_independent
def test_every_personal_link_uses_the_parameter_the_web_layer_moves() -> None:
    # Every personal link is built by links.personal_link, with the parameter the web layer moves into a cookie
    # (the same as in the links already sent: `?jeton=`).
    assert links.personal_link("http://pvd.test", "questionnaire", "abc") == "http://pvd.test/questionnaire?jeton=abc"
    expected = {
        "questionnaire",
        "candidature",
        "inscription",
        "mot-de-passe",
        "demande-recruteur",
        "abonnement",
        "emargement",
    }
    assert expected == web.PERSONAL_LINK_PAGES


def test_other_addresses_keep_their_parameters(http) -> None:
    response = http.get("/offres?jeton=x")  # not a personal-link page: the web layer leaves it alone
    assert response.status_code == 404  # (no Streamlit behind this test client)
    assert_security_headers(response)


def test_ready_route_checks_the_database(http) -> None:
    response = http.get(web.READY_ROUTE)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert_security_headers(response)


def test_ready_route_says_unavailable_when_the_database_is_unreachable(app_env, monkeypatch) -> None:
    monkeypatch.setenv("PVD_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    monkeypatch.setenv("PVD_SECRET_KEY", "k" * 40)
    response = web_client().get(web.READY_ROUTE)
    assert response.status_code == 503
    assert response.json()["status"] == "indisponible"
