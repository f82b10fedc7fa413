"""Every page for every role, through Streamlit's AppTest: menus, page guards, forms and their French messages.

The app is started from its entry point (`streamlit_app.py`), as `streamlit run` does. Data is seeded and
checked through the services, on the test database of `app_env`.

Navigation in AppTest. `streamlit_app.py` builds the menu with `st.navigation`, while the page files live in
`pages/`. Streamlit runs the *first* script run of a server process in its old "pages directory" mode (every
file in `pages/` reachable by its file name, without the entry point); `st.navigation` then switches the
process to navigation mode for good. AppTest resets that switch before every run, so in AppTest every run would
be such a "first run". The `steady_state_navigation` fixture keeps AppTest in the mode a running server is in
after its first run, so that a page opens only through the entry point and its menu. What the "first run" mode
would expose (a page file opened directly, without the menu) is tested separately: each page is also run on its
own, as its own main script, and must stop at its guard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from pvd_survey import access, accounts, mail, meetings, sessions
from pvd_survey.accounts import OrganisationInfo, UserInfo
from pvd_survey.config import Settings, load_settings
from pvd_survey.errors import MESSAGES
from tests.conftest import (
    ENTRY_SCRIPT,
    PROJECT_ROOT,
    STRONG_PASSWORD,
    TEST_COOKIES_KEY,
    app_test,
    follow_redirect,
    open_page,
    redirect_target,
)
from tests.factories import meeting_form, person, refused_messages, submit, texts

ENTRY_POINT = ENTRY_SCRIPT
ROLES: tuple[str | None, ...] = ("admin", "direction", "recruteur", None)  # None: not signed in

ORGANISATION_NAME = "Communauté de communes du Montbardois"
OTHER_ORGANISATION_NAME = "Communauté de communes Lauragais Revel Sorézois"

# The title each page shows when it opens (the recruiter's page is titled with their organisation's name).
PAGE_TITLES = {
    "home": "Petites villes de demain",
    "setup": "Bienvenue : créez le premier compte administrateur",
    "login": "Connexion",
    "my_organisation": ORGANISATION_NAME,
    "survey": "Questionnaire : le profil des chefs de projet",
    "dashboard": "Tableau de bord",
    "invitations": "Invitations au questionnaire",
    "organisations": "Organisations employeuses",
    "admin_users": "Comptes",
    "admin_outbox": "Messages",
    "account": "Mon compte",
    "meetings": "Rencontres du programme",
    "registration": "Mon inscription",
    "meetings_admin": "Organiser les rencontres",
    "checkin": "Émargement",
}

# The pages each person sees in the menu (every page is registered with st.navigation, the others hidden, so
# that a typed URL reaches the page's own guard), written out here rather than derived from access.py, in
# access.PAGES order. The survey and a registration are always hidden: they open from
# personal links.
EXPECTED_MENUS = {
    "admin": [
        "home",
        "meetings",
        "dashboard",
        "invitations",
        "meetings_admin",
        "checkin",
        "organisations",
        "admin_users",
        "admin_outbox",
        "account",
    ],
    "direction": [
        "home",
        "meetings",
        "dashboard",
        "invitations",
        "meetings_admin",
        "checkin",
        "organisations",
        "account",
    ],
    "recruteur": ["home", "my_organisation", "meetings", "account"],
    None: ["home", "login", "meetings"],
}

# Recruitment pages (titles equal their menu titles), appended after the foundation's in access.PAGES order.
PAGE_TITLES.update(
    {
        "jobs": "Offres d'emploi",
        "application": "Ma candidature",
        "recruiter_signup": "Demande de compte recruteur",
        "set_password": "Choisir un mot de passe",
        "postings": "Mes offres",
        "pipeline": "Candidatures reçues",
        "recruiter_requests": "Demandes de comptes recruteur",
        "subscription": "Abonnement aux e-mails",
        "privacy": "Droits des personnes",
    }
)
# Public notices, linked from every page's footer (hidden from the menu).
PAGE_TITLES.update(
    {"legal_notice": "Mentions légales", "personal_data": "Données personnelles", "accessibility": "Accessibilité"}
)
EXPECTED_MENUS["admin"] += ["jobs", "recruiter_requests", "privacy"]
EXPECTED_MENUS["direction"] += ["jobs", "recruiter_requests"]
EXPECTED_MENUS["recruteur"] += ["jobs", "postings", "pipeline"]
EXPECTED_MENUS[None] += ["jobs", "recruiter_signup"]

FORBIDDEN = "Vous n'avez pas accès à cette page."
LOGIN_REQUIRED = "Connectez-vous pour accéder à cette page."
BAD_CREDENTIALS = "Adresse e-mail ou mot de passe incorrect."
LOCKED_PREFIX = "Trop de tentatives de connexion échouées. Réessayez après "
SESSION_ENDED = (
    "Votre session a pris fin (inactivité prolongée, déconnexion, compte désactivé ou mot de passe changé). "
    "Reconnectez-vous."
)
ACCOUNT_DISABLED = "Ce compte est désactivé. Contactez un administrateur du programme."
PASSWORD_COMMON = "Ce mot de passe figure parmi les plus courants : choisissez-en un autre."
PASSWORD_WEAK = "Ce mot de passe est trop facile à deviner. Essayez une phrase de plusieurs mots."
NO_SMTP_WARNING = (
    "Aucun serveur SMTP n'est configuré (PVD_SMTP_HOST) : les messages restent en attente, jusqu'à leur "
    "suppression 30 jours après leur création. "
    "Vous pouvez transmettre vous-même les liens ci-dessous, puis marquer le message comme remis."
)


# ---------------------------------------------------------------------------- fixtures and helpers


@dataclass
class World:
    """An installed app: one organisation, one account per role (all with STRONG_PASSWORD)."""

    organisation: OrganisationInfo
    users: dict[str, UserInfo]
    factory: sessionmaker[Session]
    settings: Settings


@pytest.fixture
def world(app_env: str, factory: sessionmaker[Session], settings: Settings) -> World:
    """The app after its first start: an administrator exists, plus a direction member and a recruiter."""
    with factory.begin() as s:
        organisation = accounts.create_organisation(s, ORGANISATION_NAME, "epci", "21")
        users = {
            "admin": accounts.create_first_admin(
                s, email="ada.admin@example.fr", display_name="Ada Admin", password=STRONG_PASSWORD, settings=settings
            ),
            "direction": accounts.create_user(
                s,
                email="dora.direction@example.fr",
                display_name="Dora Direction",
                role="direction",
                settings=settings,
                password=STRONG_PASSWORD,
                notify=False,
            ),
            "recruteur": accounts.create_user(
                s,
                email="remi.recrute@example.fr",
                display_name="Rémi Recrute",
                role="recruteur",
                settings=settings,
                organisation_id=organisation.id,
                password=STRONG_PASSWORD,
                notify=False,
            ),
        }
    return World(organisation, users, factory, settings)


def app(user: UserInfo | None = None, script: Path = ENTRY_POINT) -> AppTest:
    """An AppTest of the app (or of one page file run on its own), signed in as `user` if given."""
    return app_test(user, script)


def ticket_issued(at: AppTest) -> bool:
    """True if the page sent the browser to the session route (a sign-in)."""
    return any(m.value.startswith("[Continuer](/_pvd/session?ticket=") for m in at.markdown)


def session_cookie(at: AppTest) -> str | None:
    """The session cookie this AppTest's "browser" holds."""
    return at.session_state[TEST_COOKIES_KEY].get(sessions.SESSION_COOKIE)


_navigation_calls: list[list[tuple[str, str]]] = []


@pytest.fixture(autouse=True)
def record_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record what each run passes to st.navigation: AppTest itself does not expose the menu."""
    import streamlit as st

    original = st.navigation
    _navigation_calls.clear()

    def recording(pages, *args, **kwargs):
        flat = [page for section in pages.values() for page in section] if isinstance(pages, dict) else pages
        _navigation_calls.append([(page.title, page.visibility) for page in flat])
        return original(pages, *args, **kwargs)

    monkeypatch.setattr(st, "navigation", recording)


def menu(at: AppTest) -> list[str]:
    """Keys of the pages the last run showed in the menu (registered and visible), in access.PAGES order."""
    visible = {title for title, visibility in _navigation_calls[-1] if visibility == "visible"}
    return [spec.key for spec in access.PAGES if spec.title in visible]


def signed_in_caption(user: UserInfo) -> str:
    return f"Connecté·e : **{user.display_name}**  \n{user.role_label}"


def assert_shows_page(at: AppTest, key: str) -> None:
    assert not at.exception, texts(at.exception)
    assert texts(at.title) == [PAGE_TITLES[key]]


def assert_blocked_by_guard(at: AppTest, message: str) -> None:
    """The page stopped at its guard: the French message and none of the page's content; signed out, the sign-in
    form in its place (a shared link leads to it without a detour).

    Only the main area is checked: the sidebar holds the app's own "signed in as" caption and logout button.
    """
    assert not at.exception, texts(at.exception)
    main = at.main
    signed_out = message == LOGIN_REQUIRED
    assert texts(main.error) == [message]
    assert not main.title
    assert not main.dataframe
    assert [field.label for field in main.text_input] == (["Adresse e-mail", "Mot de passe"] if signed_out else [])
    assert not main.text_area
    assert not main.selectbox
    assert not main.metric
    assert not main.markdown
    assert [button.label for button in main.button] == (["Se connecter"] if signed_out else [])


def users_by_email(factory: sessionmaker[Session]) -> dict[str, UserInfo]:
    with factory.begin() as s:
        return {u.email: u for u in accounts.list_users(s)}


def outbox(factory: sessionmaker[Session]) -> list[mail.OutboxEntry]:
    with factory.begin() as s:
        return mail.list_messages(s)


def log_in(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="login_email").input(email)
    at.text_input(key="login_password").input(password)
    return submit(at, "login_form")


# ---------------------------------------------------------------------------- every page, every role


@pytest.mark.database_independent
def test_every_page_file_is_in_the_page_registry() -> None:
    files = {f"pages/{path.name}" for path in (PROJECT_ROOT / "pages").glob("*.py")}
    assert files == {spec.path for spec in access.PAGES}
    assert set(PAGE_TITLES) == set(access.PAGES_BY_KEY)


# Who is refused which page once the app is installed, written out rather than derived from access.py (None: not
# signed in). Every other (page, role) pair is allowed. The set-up page is refused to everyone once an administrator
# exists.
SIGNED_IN_ROLES = {"admin", "direction", "recruteur"}
REFUSED = {
    "setup": {"admin", "direction", "recruteur", None},
    "login": SIGNED_IN_ROLES,
    "recruiter_signup": SIGNED_IN_ROLES,
    "account": {None},
    "my_organisation": {"admin", "direction", None},
    "postings": {"admin", "direction", None},
    "pipeline": {"admin", "direction", None},
    **{
        key: {"recruteur", None}
        for key in ("dashboard", "invitations", "meetings_admin", "checkin", "organisations", "recruiter_requests")
    },
    **{key: {"direction", "recruteur", None} for key in ("admin_users", "admin_outbox", "privacy")},
}
ALLOWED_PAIRS = [(page, role) for page in access.PAGES for role in ROLES if role not in REFUSED.get(page.key, ())]


def _closest_refused_role(page_key: str) -> str | None:
    """The most trusted role a page refuses: a page guarded with another page's key would most likely let it in."""
    return next(role for role in ROLES if role in REFUSED[page_key])


# The page-level guard, run for real: every page that refuses someone is opened (through the menu's typed URL and
# as its own script) by the most trusted role it refuses, plus a few signed-out visitors, so that a page that
# forgets its guard, or guards with another page's key, fails. The full table is checked against access.py above.
GUARD_SAMPLES = [(access.PAGES_BY_KEY[key], _closest_refused_role(key)) for key in REFUSED] + [
    (access.PAGES_BY_KEY[key], None) for key in ("dashboard", "admin_users", "pipeline")
]


@pytest.mark.database_independent
def test_access_table_refuses_exactly_the_listed_pairs() -> None:
    assert set(REFUSED) <= set(access.PAGES_BY_KEY)
    decided = {
        (page.key, role): access.can_view(page.key, role, setup_needed=False) for page in access.PAGES for role in ROLES
    }
    refused = {pair for pair, allowed in decided.items() if not allowed}
    assert refused == {(key, role) for key, roles in REFUSED.items() for role in roles}
    # The menus list only pages the person may open.
    for role, keys in EXPECTED_MENUS.items():
        assert all(decided[key, role] for key in keys), role


@pytest.mark.parametrize(
    ("page", "role"), ALLOWED_PAIRS, ids=[f"{page.key}-{role or 'anonyme'}" for page, role in ALLOWED_PAIRS]
)
def test_page_for_role(world: World, page: access.PageSpec, role: str | None) -> None:
    user = world.users.get(role) if role else None
    at = app(user).run()
    assert not at.exception, texts(at.exception)
    at.switch_page(page.path).run()
    assert_shows_page(at, page.key)
    assert not at.error
    sidebar = texts(at.sidebar.caption)
    if user is None:
        assert not any(caption.startswith("Connecté·e") for caption in sidebar)
    else:
        assert signed_in_caption(user) in sidebar


@pytest.mark.parametrize(
    ("page", "role"), GUARD_SAMPLES, ids=[f"{page.key}-{role or 'anonyme'}" for page, role in GUARD_SAMPLES]
)
def test_page_guard_refuses(world: World, page: access.PageSpec, role: str | None) -> None:
    user = world.users.get(role) if role else None
    at = app(user).run()
    assert not at.exception, texts(at.exception)
    # Not in this person's menu, but a typed URL reaches the page: its guard stops it, in French...
    assert page.key not in menu(at)
    at.switch_page(page.path).run()
    assert_blocked_by_guard(at, LOGIN_REQUIRED if user is None else FORBIDDEN)
    # ...and the page file itself, run without the entry point (a server's first run), stops too.
    direct = app(user, script=PROJECT_ROOT / page.path).run()
    assert_blocked_by_guard(direct, LOGIN_REQUIRED if user is None else FORBIDDEN)


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "anonyme")
def test_menu_and_default_page_per_role(world: World, role: str | None) -> None:
    user = world.users.get(role) if role else None
    at = app(user).run()
    assert_shows_page(at, "home")
    assert menu(at) == EXPECTED_MENUS[role]


# ---------------------------------------------------------------------------- first start


def fill_setup(
    at: AppTest, name: str, email: str, password: str, confirmation: str, code: str | None = None
) -> AppTest:
    """The set-up form, with the code of the server's log unless another is given."""
    at.text_input(key="setup_code").input(accounts.first_admin_code(load_settings()) if code is None else code)
    at.text_input(key="setup_name").input(name)
    at.text_input(key="setup_email").input(email)
    at.text_input(key="setup_password").input(password)
    at.text_input(key="setup_password_confirm").input(confirmation)
    return submit(at, "setup_form")


@pytest.mark.parametrize(
    ("email", "password", "confirmation", "message"),
    [
        (
            "ada.admin@example.fr",
            STRONG_PASSWORD,
            STRONG_PASSWORD + "x",
            "Les deux mots de passe ne sont pas identiques.",
        ),
        ("ada.admin@example.fr", "password1234", "password1234", PASSWORD_COMMON),
        (
            "ada.admin@",
            STRONG_PASSWORD,
            STRONG_PASSWORD,
            "L'adresse e-mail n'est pas valide : vérifiez qu'elle est de la forme prenom.nom@exemple.fr.",
        ),
    ],
    ids=["mismatch", "common-password", "invalid-email"],
)
def test_first_start_refuses_bad_input(
    app_env: str, factory: sessionmaker[Session], email: str, password: str, confirmation: str, message: str
) -> None:
    at = app().run()
    assert_shows_page(at, "setup")  # the set-up page opens by default on an empty database
    assert menu(at) == ["home", "setup"]

    at = app().run()
    fill_setup(at, "Ada Admin", email, password, confirmation)
    assert not at.exception, texts(at.exception)
    assert refused_messages(at, "setup_form") == [message]
    assert texts(at.title) == [PAGE_TITLES["setup"]]
    assert users_by_email(factory) == {}
    with factory.begin() as s:
        assert accounts.needs_setup(s)


@pytest.mark.parametrize("code", ["", "AAAA-BBBB-CCCC", "code-of-another-installation"])
def test_first_start_needs_the_code_of_the_servers_log(app_env: str, factory: sessionmaker[Session], code: str) -> None:
    """Whoever reaches a new installation first cannot take it: the page asks for the code the server printed."""
    at = fill_setup(app().run(), "Eve Intruse", "eve@example.fr", STRONG_PASSWORD, STRONG_PASSWORD, code=code)
    assert refused_messages(at, "setup_form") == [MESSAGES["setup_code_invalid"]]
    assert users_by_email(factory) == {} and not ticket_issued(at)
    # The code is typed as read: lower case, spaces instead of dashes.
    right = accounts.first_admin_code(load_settings()).lower().replace("-", " ")
    at = fill_setup(app().run(), "Ada Admin", "ada@example.fr", STRONG_PASSWORD, STRONG_PASSWORD, code=right)
    assert list(users_by_email(factory)) == ["ada@example.fr"]


def test_the_server_logs_the_set_up_code_only_while_no_administrator_exists(
    app_env: str, factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    from pvd_survey import web
    from tests.conftest import web_client

    code = accounts.first_admin_code(load_settings())
    web.forget_database()
    with caplog.at_level("WARNING", logger="pvd_survey.web"):
        assert web_client().get(web.READY_ROUTE).status_code == 200  # a server process starting
    assert f"Code de création du premier compte administrateur : {code}" in caplog.text
    with factory.begin() as session:
        accounts.create_first_admin(
            session, email="ada@example.fr", display_name="Ada", password=STRONG_PASSWORD, settings=load_settings()
        )
    caplog.clear()
    web.forget_database()
    with caplog.at_level("WARNING", logger="pvd_survey.web"):
        assert web_client().get(web.READY_ROUTE).status_code == 200
    assert code not in caplog.text
    web.forget_database()


def test_first_start_creates_the_admin_and_closes_setup(app_env: str, factory: sessionmaker[Session]) -> None:
    at = app().run()
    fill_setup(at, "Ada Admin", "Ada.Admin@Example.fr", STRONG_PASSWORD, STRONG_PASSWORD)
    assert texts(at.success) == ["Compte administrateur créé. Vous êtes connecté·e."]
    at = follow_redirect(at)  # the session route sets the cookie and leads home
    assert_shows_page(at, "home")
    assert texts(at.success) == ["Bonjour Ada Admin. Vos pages sont dans le menu de gauche."]

    users = users_by_email(factory)
    assert list(users) == ["ada.admin@example.fr"]
    admin = users["ada.admin@example.fr"]
    assert admin.role == "admin"
    assert admin.is_active
    assert session_cookie(at)
    assert signed_in_caption(admin) in texts(at.sidebar.caption)
    assert menu(at) == EXPECTED_MENUS["admin"]
    at.switch_page("pages/admin_users.py").run()
    assert_shows_page(at, "admin_users")

    # The set-up page is gone: not in the menu, and it stops at its guard.
    assert "setup" not in menu(at)
    assert_blocked_by_guard(at.switch_page("pages/setup.py").run(), FORBIDDEN)
    assert_blocked_by_guard(app(admin, script=PROJECT_ROOT / "pages/setup.py").run(), FORBIDDEN)
    assert_blocked_by_guard(app(script=PROJECT_ROOT / "pages/setup.py").run(), LOGIN_REQUIRED)


def test_second_setup_form_left_open_cannot_create_another_admin(app_env: str, factory: sessionmaker[Session]) -> None:
    first, second = app().run(), app().run()
    assert_shows_page(second, "setup")
    fill_setup(first, "Ada Admin", "ada.admin@example.fr", STRONG_PASSWORD, STRONG_PASSWORD)
    assert ticket_issued(first)

    # The other browser tab still shows the form; submitting it must not create a second administrator.
    fill_setup(second, "Eve Intruse", "eve@example.fr", STRONG_PASSWORD, STRONG_PASSWORD)
    assert not second.exception, texts(second.exception)
    assert list(users_by_email(factory)) == ["ada.admin@example.fr"]
    assert not ticket_issued(second)
    assert PAGE_TITLES["setup"] not in texts(second.title)


# ---------------------------------------------------------------------------- login form


def test_login_success_signs_in(world: World) -> None:
    direction = world.users["direction"]
    at = app().run()
    at.switch_page("pages/login.py").run()
    assert_shows_page(at, "login")

    log_in(at, "Dora.Direction@example.fr", STRONG_PASSWORD)
    assert texts(at.success) == ["Bienvenue, Dora Direction."]
    at = follow_redirect(at)
    assert_shows_page(at, "home")
    assert texts(at.success) == ["Bonjour Dora Direction. Vos pages sont dans le menu de gauche."]
    assert signed_in_caption(direction) in texts(at.sidebar.caption)
    assert session_cookie(at)
    assert menu(at) == EXPECTED_MENUS["direction"]
    assert users_by_email(world.factory)[direction.email].last_login_at is not None


def test_login_with_wrong_password_is_refused(world: World) -> None:
    at = app().run()
    at.switch_page("pages/login.py").run()
    log_in(at, "dora.direction@example.fr", STRONG_PASSWORD + "!")
    assert_shows_page(at, "login")
    assert refused_messages(at, "login_form") == [BAD_CREDENTIALS]
    assert not ticket_issued(at)
    assert menu(at) == EXPECTED_MENUS[None]


def test_login_locks_after_repeated_failures(world: World) -> None:
    limit = load_settings().login_max_failures  # what the app reads (5 unless PVD_LOGIN_MAX_FAILURES says otherwise)
    at = app().run()
    at.switch_page("pages/login.py").run()
    for _ in range(limit - 1):
        log_in(at, "dora.direction@example.fr", "pas-le-bon-mot-de-passe")
        assert refused_messages(at, "login_form") == [BAD_CREDENTIALS]
    log_in(at, "dora.direction@example.fr", "pas-le-bon-mot-de-passe")
    [message] = refused_messages(at, "login_form")
    assert message.startswith(LOCKED_PREFIX)

    # While locked, even the right password is refused.
    log_in(at, "dora.direction@example.fr", STRONG_PASSWORD)
    [message] = refused_messages(at, "login_form")
    assert message.startswith(LOCKED_PREFIX)
    assert not ticket_issued(at)


# ---------------------------------------------------------------------------- sessions that end


def _disable(world: World, user: UserInfo) -> None:
    with world.factory.begin() as s:
        accounts.set_active(s, user.id, False, world.users["admin"].id)


def _new_password(world: World, user: UserInfo) -> None:
    with world.factory.begin() as s:
        accounts.set_password(s, user.id, "Quimperlé, la ville basse en juin", world.settings)


@pytest.mark.parametrize("end_session", [_disable, _new_password], ids=["disabled", "password-changed"])
def test_open_session_ends_when_account_is_disabled_or_password_changed(
    world: World, end_session: Callable[[World, UserInfo], None]
) -> None:
    direction = world.users["direction"]
    at = app().run()
    at.switch_page("pages/login.py").run()
    log_in(at, direction.email, STRONG_PASSWORD)
    at = follow_redirect(at)
    at.switch_page("pages/organisations.py").run()
    assert_shows_page(at, "organisations")
    stale_cookies = dict(at.session_state[TEST_COOKIES_KEY])

    end_session(world, direction)
    at.run()
    assert not at.exception, texts(at.exception)
    assert texts(at.warning) == [SESSION_ENDED]
    assert_blocked_by_guard(at, LOGIN_REQUIRED)  # the organisations page is no longer served
    assert not any(caption.startswith("Connecté·e") for caption in texts(at.sidebar.caption))
    assert menu(at) == EXPECTED_MENUS[None]

    # The old session, replayed on a page of the direction, stops at the page's guard.
    direct = app_test(script=PROJECT_ROOT / "pages/organisations.py", cookies=stale_cookies)
    assert_blocked_by_guard(direct.run(), LOGIN_REQUIRED)


def test_signing_out_ends_the_session_and_says_so(world: World) -> None:
    direction = world.users["direction"]
    at = app(direction).run()
    cookie = session_cookie(at)
    at.sidebar.button(key="pvd_logout").click().run()
    assert redirect_target(at) == "/_pvd/deconnexion"
    with world.factory.begin() as s:
        assert sessions.resolve(s, cookie, world.settings).user is None  # ended before the browser even moves
    at = follow_redirect(at)
    assert session_cookie(at) is None
    assert texts(at.info)[0] == "Vous êtes déconnecté·e."
    assert_shows_page(at, "home")
    assert menu(at) == EXPECTED_MENUS[None]


def test_sign_out_everywhere_ends_the_other_devices_too(world: World) -> None:
    direction = world.users["direction"]
    phone, laptop = app(direction).run(), app(direction).run()
    phone.switch_page("pages/account.py").run()
    assert "Sessions ouvertes sur ce compte : **2**" in " ".join(texts(phone.markdown))
    phone.button(key="account_sign_out_everywhere").click().run()
    assert redirect_target(phone) == "/_pvd/deconnexion"
    laptop.switch_page("pages/organisations.py").run()
    assert texts(laptop.warning) == [SESSION_ENDED]
    assert_blocked_by_guard(laptop, LOGIN_REQUIRED)


def test_changing_ones_own_password_keeps_this_session_only(world: World) -> None:
    direction = world.users["direction"]
    here, elsewhere = app(direction).run(), app(direction).run()
    here.switch_page("pages/account.py").run()
    here.text_input(key="account_current").input(STRONG_PASSWORD)
    here.text_input(key="account_new").input("Quimperlé, la ville basse en juin")
    here.text_input(key="account_confirm").input("Quimperlé, la ville basse en juin")
    submit(here, "account_password_form")
    assert texts(here.success) == ["Mot de passe changé. Vos autres sessions ouvertes sont fermées."]
    here.run()
    assert_shows_page(here, "account")
    elsewhere.run()
    assert texts(elsewhere.warning) == [SESSION_ENDED]


def test_disabled_account_cannot_log_in(world: World) -> None:
    _disable(world, world.users["direction"])
    at = app().run()
    at.switch_page("pages/login.py").run()
    log_in(at, "dora.direction@example.fr", STRONG_PASSWORD)
    assert refused_messages(at, "login_form") == [ACCOUNT_DISABLED]
    assert not ticket_issued(at)


# ---------------------------------------------------------------------------- admin: accounts


@pytest.fixture
def admin_users_page(world: World) -> AppTest:
    at = app(world.users["admin"]).run()
    return at.switch_page("pages/admin_users.py").run()


def fill_new_user(
    at: AppTest, name: str, email: str, role: str, organisation: OrganisationInfo | None, password: str
) -> AppTest:
    at.text_input(key="admin_new_name").input(name)
    at.text_input(key="admin_new_email").input(email)
    at.selectbox(key="admin_new_role").set_value(role)
    at.selectbox(key="admin_new_organisation").set_value(organisation.id if organisation else None)
    at.text_input(key="admin_new_password").input(password)
    return submit(at, "admin_create_user")


def test_admin_creates_a_recruiter(world: World, admin_users_page: AppTest) -> None:
    at = fill_new_user(
        admin_users_page, "Claire Recrute", "Claire.Recrute@Example.fr", "recruteur", world.organisation, ""
    )
    assert_shows_page(at, "admin_users")
    assert not at.error
    assert texts(at.success) == [
        "Compte créé pour claire.recrute@example.fr. Un e-mail de bienvenue est en file d'envoi."
    ]
    created = users_by_email(world.factory)["claire.recrute@example.fr"]
    assert (created.role, created.organisation_id, created.is_active) == ("recruteur", world.organisation.id, True)
    assert "claire.recrute@example.fr" in at.dataframe[0].value["E-mail"].tolist()

    [welcome] = [m for m in outbox(world.factory) if m.recipient == "claire.recrute@example.fr"]
    assert welcome.status == "pending"
    assert welcome.kind == "account_created"
    assert welcome.link == "http://pvd.test"


@pytest.mark.parametrize(
    ("role", "with_organisation", "email", "password", "message"),
    [
        (
            "recruteur",
            False,
            "claire.recrute@example.fr",
            STRONG_PASSWORD,
            "Un compte recruteur doit être rattaché à une organisation employeuse.",
        ),
        (
            "direction",
            False,
            "Dora.Direction@example.fr",
            STRONG_PASSWORD,
            "Un compte existe déjà pour l'adresse dora.direction@example.fr.",
        ),
        ("direction", False, "paul.direction@example.fr", "abcdefgh1234", PASSWORD_WEAK),
        ("direction", False, "paul.direction@example.fr", "password1234", PASSWORD_COMMON),
        (
            "direction",
            True,
            "paul.direction@example.fr",
            STRONG_PASSWORD,
            "Seuls les comptes recruteur sont rattachés à une organisation.",
        ),
    ],
    ids=["recruiter-without-organisation", "duplicate-email", "weak-password", "common-password", "org-for-direction"],
)
def test_admin_create_user_refuses_bad_input(
    world: World,
    admin_users_page: AppTest,
    role: str,
    with_organisation: bool,
    email: str,
    password: str,
    message: str,
) -> None:
    before_users, before_mail = users_by_email(world.factory), outbox(world.factory)
    organisation = world.organisation if with_organisation else None
    at = fill_new_user(admin_users_page, "Paul Nouveau", email, role, organisation, password)
    assert_shows_page(at, "admin_users")
    assert refused_messages(at, "admin_create_user") == [message]
    assert not at.success
    assert users_by_email(world.factory) == before_users
    assert outbox(world.factory) == before_mail


def choose_account(at: AppTest, world: World, email: str) -> AppTest:
    """Pick an account in the "Gérer un compte" tab (the option as the page lists it now)."""
    return at.selectbox(key="admin_manage_user").set_value(users_by_email(world.factory)[email].id).run()


def test_admin_disables_and_enables_an_account(world: World, admin_users_page: AppTest) -> None:
    recruiter = world.users["recruteur"]
    at = choose_account(admin_users_page, world, recruiter.email)
    assert "État : **actif** · Recruteur" in texts(at.markdown)

    at.button(key="admin_disable").click().run()
    assert not at.exception, texts(at.exception)
    assert texts(at.success) == [f"Compte {recruiter.email} désactivé : ses sessions ouvertes sont fermées."]
    assert not users_by_email(world.factory)[recruiter.email].is_active

    at = choose_account(at, world, recruiter.email)
    assert "État : **désactivé** · Recruteur" in texts(at.markdown)
    at.button(key="admin_enable").click().run()
    assert texts(at.success) == [f"Compte {recruiter.email} réactivé."]
    assert users_by_email(world.factory)[recruiter.email].is_active


def test_admin_page_shows_the_new_state_right_after_disabling(world: World, admin_users_page: AppTest) -> None:
    """After "Désactiver ce compte", the page must say the account is disabled and offer to re-enable it."""
    recruiter = world.users["recruteur"]
    at = choose_account(admin_users_page, world, recruiter.email)
    at.button(key="admin_disable").click().run()
    assert not users_by_email(world.factory)[recruiter.email].is_active
    assert "État : **désactivé** · Recruteur" in texts(at.markdown)
    assert [button.key for button in at.button if button.key in ("admin_disable", "admin_enable")] == ["admin_enable"]


def open_with(user: UserInfo, path: str, **params: str) -> AppTest:
    """A page opened from an address with these parameters (a reload, a shared link)."""
    at = app(user)
    for name, value in params.items():
        at.query_params[name] = value
    return at.run().switch_page(path).run()


def test_admin_account_of_the_address_stays_chosen(world: World) -> None:
    recruiter = world.users["recruteur"]
    at = open_with(world.users["admin"], "pages/admin_users.py", compte=str(recruiter.id))
    assert at.selectbox(key="admin_manage_user").value == recruiter.id and not at.error
    at.button(key="admin_disable").click().run()
    assert texts(at.success) == [f"Compte {recruiter.email} désactivé : ses sessions ouvertes sont fermées."]
    assert at.selectbox(key="admin_manage_user").value == recruiter.id
    assert at.query_params["compte"] in (str(recruiter.id), [str(recruiter.id)])
    # Another account chosen in the selector goes to the address.
    at.selectbox(key="admin_manage_user").set_value(world.users["direction"].id).run()
    assert at.query_params["compte"] in (str(world.users["direction"].id), [str(world.users["direction"].id)])
    for bad in ("999999", "abc", "-1"):
        at = open_with(world.users["admin"], "pages/admin_users.py", compte=bad)
        assert texts(at.error) == [MESSAGES["unknown_user"]] and at.selectbox(key="admin_manage_user").value is None


def test_meeting_of_the_address_stays_chosen_after_a_cancellation(world: World) -> None:
    with world.factory.begin() as s:
        meeting_id = meetings.create_meeting(s, meeting_form(capacity=5))
        other_id = meetings.create_meeting(s, meeting_form(title="Autre rencontre"))
        for number in (1, 2):
            meetings.register(s, meeting_id, person(number), world.settings)
        first = meetings.roster(s, meeting_id).confirmed[0]
    at = open_with(world.users["direction"], "pages/meetings_admin.py", rencontre=str(meeting_id))
    assert at.selectbox(key="meetings_admin_selected").value == meeting_id and not at.error
    at.selectbox(key="meetings_admin_cancel_person").set_value(first.id).run()
    at.button(key="meetings_admin_cancel").click().run()
    assert texts(at.success) == ["Inscription annulée."]
    assert at.selectbox(key="meetings_admin_selected").value == meeting_id  # its label now says 1/5
    assert "1 / 5" in [metric.value for metric in at.metric]
    at.selectbox(key="meetings_admin_selected").set_value(other_id).run()
    assert at.query_params["rencontre"] in (str(other_id), [str(other_id)])
    at = open_with(world.users["direction"], "pages/meetings_admin.py", rencontre="999999")
    assert texts(at.error) == [MESSAGES["unknown_meeting"]] and not at.metric


def test_admin_cannot_disable_own_account(world: World, admin_users_page: AppTest) -> None:
    admin = world.users["admin"]
    at = choose_account(admin_users_page, world, admin.email)
    at.button(key="admin_disable").click().run()
    assert texts(at.error) == ["Vous ne pouvez pas désactiver votre propre compte."]
    assert users_by_email(world.factory)[admin.email].is_active


def test_admin_disabling_signs_the_person_out_of_their_open_session(world: World, admin_users_page: AppTest) -> None:
    recruiter = world.users["recruteur"]
    theirs = app(recruiter).run()
    theirs.switch_page("pages/my_organisation.py").run()
    assert_shows_page(theirs, "my_organisation")

    at = choose_account(admin_users_page, world, recruiter.email)
    at.button(key="admin_disable").click().run()

    theirs.run()
    assert texts(theirs.warning) == [SESSION_ENDED]
    assert_blocked_by_guard(theirs, LOGIN_REQUIRED)
    assert menu(theirs) == EXPECTED_MENUS[None]


def test_admin_sets_a_new_password(world: World, admin_users_page: AppTest) -> None:
    recruiter = world.users["recruteur"]
    new_password = "Quimperlé, la ville basse en juin"
    at = choose_account(admin_users_page, world, recruiter.email)
    at.text_input(key="admin_set_password_value").input(new_password)
    submit(at, "admin_set_password")
    assert not at.error
    assert texts(at.success) == [
        f"Nouveau mot de passe défini pour {recruiter.email}. Communiquez-le par un canal sûr."
    ]
    assert accounts.authenticate(world.factory, recruiter.email, new_password, world.settings).user is not None
    assert accounts.authenticate(world.factory, recruiter.email, STRONG_PASSWORD, world.settings).error.code == (
        "bad_credentials"
    )


def test_admin_set_password_refuses_weak_password(world: World, admin_users_page: AppTest) -> None:
    recruiter = world.users["recruteur"]
    at = choose_account(admin_users_page, world, recruiter.email)
    at.text_input(key="admin_set_password_value").input("password1234")
    submit(at, "admin_set_password")
    assert refused_messages(at, "admin_set_password") == [PASSWORD_COMMON]
    assert users_by_email(world.factory)[recruiter.email].session_epoch == recruiter.session_epoch
    assert accounts.authenticate(world.factory, recruiter.email, STRONG_PASSWORD, world.settings).user is not None


# ---------------------------------------------------------------------------- organisations


def add_organisation(at: AppTest, name: str, kind: str, department: str) -> AppTest:
    at.text_input(key="organisation_name").input(name)
    at.selectbox(key="organisation_kind").set_value(kind)
    at.selectbox(key="organisation_department").set_value(department)
    return submit(at, "organisation_form")


@pytest.mark.parametrize("role", ["admin", "direction"])
def test_add_organisation_and_refuse_duplicate(world: World, role: str) -> None:
    at = app(world.users[role]).run()
    at.switch_page("pages/organisations.py").run()
    assert texts(at.caption)[0] == "1 organisation"

    add_organisation(at, "Mairie de Revel", "commune", "31")
    assert_shows_page(at, "organisations")
    assert not at.error
    assert texts(at.success) == ["Organisation « Mairie de Revel » ajoutée."]
    assert texts(at.caption)[0] == "2 organisations"
    table = at.dataframe[0].value
    assert table.loc[table["Nom"] == "Mairie de Revel", "Département"].tolist() == ["31 – Haute-Garonne"]
    with world.factory.begin() as s:
        names = [(o.name, o.kind, o.department) for o in accounts.list_organisations(s)]
    assert ("Mairie de Revel", "commune", "31") in names

    add_organisation(at, "Mairie de Revel", "commune", "31")
    assert refused_messages(at, "organisation_form") == [
        "L'organisation Mairie de Revel existe déjà dans ce département."
    ]
    assert not at.success
    with world.factory.begin() as s:
        assert len(accounts.list_organisations(s)) == 2


# ---------------------------------------------------------------------------- outbox


def test_outbox_without_smtp_lists_pending_mail_and_marks_it_delivered_by_hand(world: World) -> None:
    with world.factory.begin() as s:
        accounts.create_user(
            s,
            email="claire.recrute@example.fr",
            display_name="Claire Recrute",
            role="recruteur",
            settings=world.settings,
            organisation_id=world.organisation.id,
        )
    [welcome] = outbox(world.factory)

    at = app(world.users["admin"]).run()
    at.switch_page("pages/admin_outbox.py").run()
    assert_shows_page(at, "admin_outbox")
    assert texts(at.warning) == [NO_SMTP_WARNING]
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["En attente"] == "1"
    assert metrics["Remis à la main"] == "0"
    table = at.dataframe[0].value
    assert table["Destinataire"].tolist() == ["claire.recrute@example.fr"]
    assert table["Lien"].tolist() == ["http://pvd.test"]
    assert table["Statut"].tolist() == ["En attente"]

    at.selectbox(key="outbox_message").set_value(welcome.id).run()
    assert welcome.body in texts(at.text)
    at.button(key="outbox_manual").click().run()
    assert not at.exception, texts(at.exception)
    assert texts(at.success) == ["Message à claire.recrute@example.fr marqué comme remis à la main."]
    assert [m.status for m in outbox(world.factory)] == ["manual"]
    metrics = {metric.label: metric.value for metric in at.metric}
    assert (metrics["En attente"], metrics["Remis à la main"]) == ("0", "1")
    assert texts(at.info) == ["Aucun message avec ces statuts."]


def test_outbox_counts_read_the_french_way(world: World) -> None:
    """« 12 345 » (a narrow no-break space between thousands), never « 12345 » nor « 12,345 »."""
    from sqlalchemy import update

    from pvd_survey.models import OutboxMessage

    with world.factory.begin() as s:
        mail.enqueue(s, recipient="claire@example.fr", subject="Essai", body="Bonjour", kind="account_created")
        s.execute(update(OutboxMessage).values(attempts=12_345))
    at = app(world.users["admin"]).run()
    at.switch_page("pages/admin_outbox.py").run()
    assert at.dataframe[0].value["Essais"].tolist() == ["12\u202f345"]


def test_outbox_shows_the_new_status_right_after_marking_delivered_by_hand(world: World) -> None:
    """With "Remis à la main" among the shown statuses, a message just marked must not be offered for marking again."""
    with world.factory.begin() as s:
        accounts.create_user(
            s, email="paul.direction@example.fr", display_name="Paul", role="direction", settings=world.settings
        )
    [welcome] = outbox(world.factory)
    at = app(world.users["admin"]).run()
    at.switch_page("pages/admin_outbox.py").run()
    at.multiselect(key="outbox_statuses").set_value(["pending", "manual"]).run()
    at.selectbox(key="outbox_message").set_value(welcome.id).run()
    at.button(key="outbox_manual").click().run()
    table = at.dataframe[0].value
    assert table["Statut"].tolist() == ["Remis à la main"]
    assert table["Destinataire"].tolist() == ["paul.direction@example.fr"] and table["Lien"].tolist() == [""]
    assert "outbox_manual" not in [button.key for button in at.button]
    # The content was erased with the marking: the page says so instead of showing an empty text.
    [erased] = [text for text in texts(at.info) if "effacés après la remise" in text]
    assert erased.startswith("Remis à la main le ")
    assert welcome.body not in texts(at.text) and "" not in texts(at.text)


def test_outbox_lists_a_delivered_message_whose_content_is_erased(world: World, smtp_server) -> None:
    with world.factory.begin() as s:
        message_id = mail.enqueue(
            s,
            recipient="lea.martin@example.fr",
            subject="Votre candidature",
            body="Votre lien : http://pvd.test/candidature?jeton=abc",
            kind="application_received",
            link="http://pvd.test/candidature?jeton=abc",
        )
    assert mail.deliver_due(world.factory, smtp_server.settings()).sent == [message_id]
    at = app(world.users["admin"]).run()
    at.switch_page("pages/admin_outbox.py").run()
    at.multiselect(key="outbox_statuses").set_value(["sent"]).run()
    table = at.dataframe[0].value
    assert table["Destinataire"].tolist() == ["lea.martin@example.fr"]
    assert table["Objet"].tolist() == ["Votre candidature"]
    assert table["Type"].tolist() == ["Candidature reçue"]  # its kind in French, not the code
    assert table["Statut"].tolist() == ["Envoyé"]
    assert table["Lien"].tolist() == [""] and table["Remis le"].tolist()[0] != ""
    assert any("son texte, son lien et ses pièces jointes sont effacés" in c for c in texts(at.caption))
    at.selectbox(key="outbox_message").set_value(message_id).run()
    assert not at.text
    [erased] = [text for text in texts(at.info) if "effacés après la remise" in text]
    assert erased.startswith("Envoyé le ")


# ---------------------------------------------------------------------------- single sign-on


def sso_app(email: str, verified: bool | None = True) -> AppTest:
    at = app()
    at.user = {"is_logged_in": True, "email": email}
    if verified is not None:
        at.user["email_verified"] = verified
    return at.run()


@pytest.mark.parametrize("role", ["admin", "direction", "recruteur"])
def test_sso_signs_in_a_known_active_account_with_its_role(world: World, role: str) -> None:
    user = world.users[role]
    at = sso_app(user.email.upper())
    assert ticket_issued(at)  # the same server-side session as a password sign-in
    at = follow_redirect(at)
    assert_shows_page(at, "home")
    assert signed_in_caption(user) in texts(at.sidebar.caption)
    assert menu(at) == EXPECTED_MENUS[role]


@pytest.mark.parametrize(
    ("email", "verified", "message"),
    [
        (
            "inconnu@example.fr",
            True,
            "Aucun compte actif de l'application n'est associé à l'adresse inconnu@example.fr. "
            "Demandez à un administrateur du programme de vous en créer un.",
        ),
        (
            "dora.direction@example.fr",
            False,
            "Votre fournisseur d'identité n'a pas confirmé l'adresse e-mail dora.direction@example.fr.",
        ),
    ],
    ids=["unknown-email", "unverified-email"],
)
def test_sso_without_a_matching_verified_account_gets_no_access(
    world: World, email: str, verified: bool, message: str
) -> None:
    at = sso_app(email, verified)
    assert_shows_page(at, "home")
    assert not ticket_issued(at)
    assert menu(at) == EXPECTED_MENUS[None]
    at.switch_page("pages/login.py").run()
    assert_shows_page(at, "login")
    assert texts(at.error) == [message]


def test_sso_for_a_disabled_account_gets_no_access(world: World) -> None:
    _disable(world, world.users["direction"])
    at = sso_app("dora.direction@example.fr")
    assert not ticket_issued(at)
    assert menu(at) == EXPECTED_MENUS[None]
    at.switch_page("pages/login.py").run()
    assert texts(at.error) == [ACCOUNT_DISABLED]


# ---------------------------------------------------------------------------- recruiter's organisation


@pytest.fixture
def two_organisations(world: World) -> Iterator[dict[str, UserInfo]]:
    """A second organisation with its own recruiter, and a disabled colleague in the first one."""
    with world.factory.begin() as s:
        other = accounts.create_organisation(s, OTHER_ORGANISATION_NAME, "epci", "31")
        created = {
            "colleague": accounts.create_user(
                s,
                email="camille.collegue@example.fr",
                display_name="Camille Collègue",
                role="recruteur",
                settings=world.settings,
                organisation_id=world.organisation.id,
                notify=False,
            ),
            "other": accounts.create_user(
                s,
                email="olivier.ailleurs@example.fr",
                display_name="Olivier Ailleurs",
                role="recruteur",
                settings=world.settings,
                organisation_id=other.id,
                password=STRONG_PASSWORD,
                notify=False,
            ),
        }
    with world.factory.begin() as s:
        accounts.set_active(s, created["colleague"].id, False, world.users["admin"].id)
    yield created


def test_recruiter_sees_only_their_own_organisation(world: World, two_organisations: dict[str, UserInfo]) -> None:
    at = app(world.users["recruteur"]).run()
    at.switch_page("pages/my_organisation.py").run()
    assert_shows_page(at, "my_organisation")
    lines = texts(at.markdown)
    assert "EPCI (intercommunalité) · 21 – Côte-d'Or · Bourgogne-Franche-Comté" in lines
    assert "- Rémi Recrute · remi.recrute@example.fr" in lines
    assert "- Camille Collègue · camille.collegue@example.fr (désactivé)" in lines
    page_text = "\n".join(lines)
    assert "olivier.ailleurs@example.fr" not in page_text
    assert OTHER_ORGANISATION_NAME not in page_text
    assert "dora.direction@example.fr" not in page_text
    assert "ada.admin@example.fr" not in page_text

    theirs = app(two_organisations["other"]).run()
    theirs.switch_page("pages/my_organisation.py").run()
    assert texts(theirs.title) == [OTHER_ORGANISATION_NAME]
    other_text = "\n".join(texts(theirs.markdown))
    assert "- Olivier Ailleurs · olivier.ailleurs@example.fr" in other_text
    assert "remi.recrute@example.fr" not in other_text
    assert "camille.collegue@example.fr" not in other_text


def test_signing_in_leads_back_to_the_page_asked_for(world: World) -> None:
    at = app().run()
    at.switch_page("pages/organisations.py").run()  # a link opened while signed out
    assert_blocked_by_guard(at, LOGIN_REQUIRED)
    at.switch_page("pages/login.py").run()
    log_in(at, world.users["direction"].email, STRONG_PASSWORD)
    assert redirect_target(at).startswith("/_pvd/session?ticket=")
    assert_shows_page(follow_redirect(at), "organisations")


@pytest.mark.parametrize(("role", "page"), [("direction", "dashboard"), ("recruteur", "home")])
def test_a_link_opened_signed_out_signs_in_in_place_and_keeps_its_address(world: World, role: str, page: str) -> None:
    at = app()
    at.query_params["region"] = "27"
    at.query_params["employeur"] = "commune"
    at.run()
    at.switch_page("pages/dashboard.py").run()  # /dashboard?region=27&employeur=commune, shared by a colleague
    assert_blocked_by_guard(at, LOGIN_REQUIRED)  # the form in place, nothing of the page
    log_in(at, world.users[role].email, STRONG_PASSWORD)
    fresh = follow_redirect(at)
    assert_shows_page(fresh, page)
    if page == "dashboard":  # the same address, its filters applied
        assert (fresh.query_params["region"], fresh.query_params["employeur"]) == ("27", "commune")
        assert fresh.selectbox(key="dashboard_region").value == "27"
        assert fresh.selectbox(key="dashboard_employer").value == "commune"
    # (a recruiter may not see the dashboard: home, rather than a refusal)


@pytest.mark.parametrize("path", ["pages/meetings.py", "pages/jobs.py", "pages/login.py"])
def test_before_the_first_administrator_other_pages_point_to_setup(app_env: str, path: str) -> None:
    at = app().run()
    at.switch_page(path).run()
    assert not at.exception, texts(at.exception)
    assert texts(at.main.error) == [
        "L'application n'est pas encore prête : créez d'abord le premier compte administrateur."
    ]
    assert not at.main.title and not at.main.button


# ---------------------------------------------------------------------------- ui.act, the pages' action helper


def _acting_page() -> None:
    """A page whose button adds an organisation through ui.act, then fails if the test says so."""
    import streamlit as st

    from pvd_survey import accounts, ui
    from pvd_survey.errors import DomainError

    def add(session, name: str, fail: bool = False):
        created = accounts.create_organisation(session, name, "epci", "21")
        if fail:
            raise DomainError("unknown_user")
        return created

    ui.show_flash()
    options = st.session_state.get("act_options", {})
    place = st.expander("Messages", expanded=True)
    if st.button("Agir", key="act"):
        st.session_state["act_result"] = ui.act(
            add,
            "Mairie de Semur",
            fail=options.get("fail", False),
            success=lambda created: f"{created.name} ajoutée.",
            then=lambda created: st.session_state.update(act_then=created.name),
            rerun=options.get("rerun", True),
            where=place if options.get("where") else None,
        )


def _act(options: dict[str, bool]) -> AppTest:
    at = AppTest.from_function(_acting_page, default_timeout=30)
    at.session_state["act_options"] = options
    return at.run().button(key="act").click().run()


def _organisations(factory: sessionmaker[Session]) -> list[str]:
    with factory.begin() as s:
        return [o.name for o in accounts.list_organisations(s)]


def test_act_commits_runs_then_and_flashes_across_a_rerun(app_env: str, factory: sessionmaker[Session]) -> None:
    at = _act({})
    assert not at.exception, texts(at.exception)
    assert texts(at.success) == ["Mairie de Semur ajoutée."]  # shown by show_flash, after the rerun
    assert at.session_state["act_then"] == "Mairie de Semur"
    assert "act_result" not in at.session_state  # the rerun left the script before ui.act returned
    assert _organisations(factory) == ["Mairie de Semur"]


def test_act_without_rerun_shows_the_message_at_once_and_returns_the_result(
    app_env: str, factory: sessionmaker[Session]
) -> None:
    at = _act({"rerun": False, "where": True})
    assert not at.exception, texts(at.exception)
    assert texts(at.expander[0].success) == ["Mairie de Semur ajoutée."]
    assert at.session_state["act_result"].name == "Mairie de Semur"
    assert _organisations(factory) == ["Mairie de Semur"]


@pytest.mark.parametrize("where", [False, True], ids=["here", "in-a-container"])
def test_act_shows_a_domain_error_and_commits_nothing(
    app_env: str, factory: sessionmaker[Session], where: bool
) -> None:
    at = _act({"fail": True, "where": where})
    assert not at.exception, texts(at.exception)
    assert texts(at.error) == [MESSAGES["unknown_user"]]
    assert texts(at.expander[0].error) == ([MESSAGES["unknown_user"]] if where else [])
    assert not at.success and "act_then" not in at.session_state
    assert at.session_state["act_result"] is None
    assert _organisations(factory) == []


def test_legal_notice_names_the_configured_hosting_provider(app_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page("pages/legal_notice.py")
    assert "communiqués par la direction du programme sur simple demande" in " ".join(texts(at.markdown))
    provider = "OVH SAS, 2 rue Kellermann, 59100 Roubaix, 09 72 10 10 07"
    monkeypatch.setenv("PVD_HOSTING_PROVIDER", provider)
    at = open_page("pages/legal_notice.py")
    assert any(provider in shown for shown in texts(at.text))
    assert "sur simple demande" not in " ".join(texts(at.markdown))


def test_a_new_session_keeps_the_compiled_page_until_its_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    from pvd_survey import web

    for name in ("get_bytecode", "clear"):  # (the server's change, undone after this test)
        monkeypatch.setattr(ScriptCache, name, getattr(ScriptCache, name))
    monkeypatch.setattr(ScriptCache, "_pvd_keeps_unchanged", False, raising=False)
    web.keep_compiled_scripts()
    script = tmp_path / "page.py"
    script.write_text("shown = 'avant'\n")
    cache = ScriptCache()
    compiled = cache.get_bytecode(str(script))
    cache.clear()  # what Streamlit does whenever a session starts
    assert cache.get_bytecode(str(script)) is compiled
    script.write_text("shown = 'après la modification'\n")
    cache.clear()
    namespace: dict = {}
    exec(cache.get_bytecode(str(script)), namespace)
    assert namespace["shown"] == "après la modification"
