"""Who is signed in and where they may go: sessions, sign-in and sign-out, personal links, page guards, the menu."""

from __future__ import annotations

import copy
import html
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

import streamlit as st

from pvd_survey import access, accounts, links, sessions, web
from pvd_survey.accounts import UserInfo
from pvd_survey.errors import DomainError, errors_by_field, french_message
from pvd_survey.ui.core import SSO_ERROR_KEY, flash, go_to, read, runtime, settings, write
from pvd_survey.ui.forms import field_error, form_errors, remember_field_errors


def request_cookies() -> Mapping[str, str]:
    """The cookies the browser sent when it opened this page (read-only; pages cannot set cookies)."""
    return st.context.cookies


def session_id() -> str | None:
    """This browser's session id (from its cookie), if any."""
    return request_cookies().get(sessions.SESSION_COOKIE)


def url_of(page_path: str) -> str:
    """The address of a page file (`pages/x.py`), as the browser sees it."""
    for spec in access.PAGES:
        if spec.path == page_path:
            return spec.address
    return "/"


def sign_in(user: UserInfo, next_path: str = "/") -> None:
    """Open a server-side session for this account: a one-time ticket that the session route turns into a cookie."""
    with write() as session:
        ticket = sessions.issue_ticket(session, user, next_path)
    go_to(f"{web.SESSION_ROUTE}?{urlencode({'ticket': ticket})}")


def sign_out(everywhere: bool = False) -> None:
    """End this browser's session on the server (or all of the account's sessions) and clear its cookie."""
    raw = session_id()
    with write() as session:
        resolved = sessions.resolve(session, raw, settings())
        if everywhere and resolved.user is not None:
            sessions.end_all(session, resolved.user.id)
        sessions.end(session, raw)
    if _sso_logged_in():
        st.logout()
    go_to(web.SIGN_OUT_ROUTE)


def _sso_logged_in() -> bool:
    try:
        return bool(st.user.get("is_logged_in", False))
    except Exception:  # st.user is unavailable outside a script run
        return False


def sso_configured() -> bool:
    """True when an [auth] section for st.login is present in the secrets."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: st.secrets raises
        return False


SESSION_ENDED_KEY = "pvd_session_ended"  # a dead session cookie was already reported in this tab
SESSION_ENDED_MESSAGE = (
    "Votre session a pris fin (inactivité prolongée, déconnexion, compte désactivé ou mot de passe changé). "
    "Reconnectez-vous."
)


def current_user(touch: bool = True) -> UserInfo | None:
    """The signed-in account, from the session cookie checked against the database on every run.

    `touch=False` (live fragments refreshing on their own) checks without counting as activity.
    """
    raw = session_id()
    if raw:
        with read() as session:
            resolved = sessions.resolve(session, raw, settings())
        if resolved.user is not None:
            if touch and resolved.needs_touch:
                with write() as session:
                    sessions.touch(session, raw)
            return resolved.user
        if not st.session_state.get(SESSION_ENDED_KEY):
            st.session_state[SESSION_ENDED_KEY] = True
            flash(SESSION_ENDED_MESSAGE, "warning")
    if _sso_logged_in():
        # The provider's claims: an e-mail is a string and its check a boolean; anything else counts as absent.
        email, verified = st.user.get("email"), st.user.get("email_verified")
        try:
            with write() as session:
                user = accounts.user_for_sso(
                    session, email if isinstance(email, str) else None, verified if isinstance(verified, bool) else None
                )
        except DomainError as error:
            st.session_state[SSO_ERROR_KEY] = french_message(error)
            return None
        st.session_state.pop(SSO_ERROR_KEY, None)
        # The identity provider vouched for the person: open the same server-side session as a password would.
        sign_in(user, urlsplit(st.context.url or "/").path or "/")
    return None


def link_token(page_key: str) -> str | None:
    """The token of a personal link to this page: from the address (then taken out of it) or its cookie.

    None once the person left the page (leave_link) in this tab, even though this tab's WebSocket still shows
    the cookie it was opened with.
    """
    remembered, left = f"pvd_link_{page_key}", f"pvd_link_left_{page_key}"
    spec = access.PAGES_BY_KEY[page_key]
    if st.session_state.pop(f"pvd_link_clear_{page_key}", False):
        _clear_link_cookie(spec.url_path)
    from_url = st.query_params.get(links.TOKEN_PARAMETER)
    if from_url:
        # Reached inside the app (no HTTP request went through the web layer): keep it for this tab only.
        st.session_state[remembered] = from_url
        st.session_state.pop(left, None)
        del st.query_params[links.TOKEN_PARAMETER]
    from_cookie = request_cookies().get(links.link_cookie_name(spec.url_path))
    if from_cookie and from_cookie != st.session_state.get(left):
        # Kept for this tab: a WebSocket that reconnects after the cookie's 15 minutes still knows the person.
        st.session_state.setdefault(remembered, from_cookie)
    return st.session_state.get(remembered)


def _clear_link_cookie(url_path: str) -> None:
    # The web layer clears the cookie (pages cannot); the script is constant (allowed by its hash in the CSP).
    st.html(
        f'<div id="pvd-leave" data-to="{html.escape(web.LEAVE_LINK_ROUTE)}?page={html.escape(url_path)}">'
        f"</div><script>{web.LEAVE_SCRIPT}</script>",
        unsafe_allow_javascript=True,
    )


def leave_link(page_key: str, rerun_follows: bool = True) -> None:
    """Forget this page's personal link, in this tab and on this browser (after a submission, or « Quitter »).

    The next run of the page shows it as if opened without the link: a second person at the same computer finds
    nothing of the first. With `rerun_follows` (st.rerun or ui.act's rerun comes next) the cookie is cleared by
    that next run (what a run draws before st.rerun may never reach the screen); else at once.
    """
    spec = access.PAGES_BY_KEY[page_key]
    st.session_state.pop(f"pvd_link_{page_key}", None)
    st.session_state[f"pvd_link_left_{page_key}"] = request_cookies().get(links.link_cookie_name(spec.url_path))
    if rerun_follows:
        st.session_state[f"pvd_link_clear_{page_key}"] = True
    else:
        _clear_link_cookie(spec.url_path)


def quit_button(page_key: str) -> None:
    """« Quitter »: forget the personal link on this computer (see leave_link) and say so."""
    if st.button("Quitter", key=f"pvd_quit_{page_key}", icon=":material/logout:"):
        leave_link(page_key)
        flash("Vous avez quitté la page : elle ne s'ouvrira plus sur cet ordinateur sans votre lien personnel.", "info")
        st.rerun()


# The open database (web.Database) in which an administrator was seen: no service removes an administrator's account
# or role, so an installation never goes back to its first start. Every page asks (navigation, then the page's guard):
# two reads a run, about a tenth of a new visitor's job board view, until then.
_set_up_database: web.Database | None = None


def setup_needed() -> bool:
    """True while no administrator exists yet."""
    global _set_up_database
    database = runtime()
    if _set_up_database is database:
        return False
    with read() as session:
        needed = accounts.needs_setup(session)
    if not needed:
        _set_up_database = database
    return needed


AFTER_LOGIN_KEY = "pvd_after_login"  # the page a signed-out person asked for
AFTER_LOGIN_QUERY_KEY = "pvd_after_login_query"  # and its address's parameters (a dashboard's filters)


def guard(page_key: str) -> UserInfo | None:
    """Check on the server that the current person may open this page; stop the page otherwise.

    A page opened from a personal link (the survey above all) records no activity on a signed-in session:
    the session's time would say, on the e-mail side, when its owner opened, saved or sent their answers.
    """
    user = current_user(touch=not access.PAGES_BY_KEY[page_key].personal_link)
    if not access.can_view(page_key, user.role if user else None, setup_needed()):
        if setup_needed():
            st.error(french_message(DomainError("setup_needed")))
            st.page_link(
                "pages/setup.py", label="Créer le premier compte administrateur", icon=":material/shield_person:"
            )
            st.stop()
        if user is None:
            st.error(french_message(DomainError("login_required")))
            # Remembered so that signing in from the menu leads back here, with the address's parameters.
            st.session_state[AFTER_LOGIN_KEY] = access.PAGES_BY_KEY[page_key].path
            st.session_state[AFTER_LOGIN_QUERY_KEY] = urlencode(st.query_params.to_dict())
            # A shared link opened signed out: the form in place, and back to the same address once signed in.
            sign_in_form(page_key)
        else:
            st.error(french_message(DomainError("forbidden")))
        st.stop()
    return user


def guard_with_link(page_key: str) -> tuple[UserInfo | None, str | None]:
    """A page its roles open, or a personal link to it opens (the door page's « accueil » link).

    Returns (user, None) for a role that may open the page, (user or None, token) for a visitor holding a link
    (the page checks the token), and refuses anyone else like guard(). A day's work at the door counts as the
    signed-in person's activity, unlike the survey's pages.
    """
    user = current_user()
    if access.can_view(page_key, user.role if user else None, setup_needed()):
        return user, None
    token = link_token(page_key)
    if token and not setup_needed():
        return user, token
    guard(page_key)  # refuses and stops
    return user, None


def recheck(page_key: str) -> None:
    """In a live fragment: once the person may no longer see the page (session ended), redraw the whole page."""
    user = current_user(touch=False)
    if not access.can_view(page_key, user.role if user else None, setup_needed()):
        st.rerun(scope="app")


def page_after_login(user: UserInfo) -> str:
    """Where to go once signed in (an address): the page asked for before, if this account may see it, else home."""
    wanted = st.session_state.pop(AFTER_LOGIN_KEY, None)
    query = st.session_state.pop(AFTER_LOGIN_QUERY_KEY, "")
    for spec in access.visible_pages(user.role, False):
        if spec.path == wanted:
            return url_of(wanted) + (f"?{query}" if query else "")
    return "/"


LOGIN_FORM = "login_form"
LOGIN_LABELS = {"email": "Adresse e-mail", "password": "Mot de passe"}


def sign_in_form(page_key: str | None = None) -> None:
    """Sign in: ProConnect when configured, then e-mail and password. Once signed in, back to this page's address
    with its parameters (`page_key`, when this account may see it), else to the page asked for before, or home."""
    sso_error = st.session_state.get(SSO_ERROR_KEY)
    if sso_error:
        st.error(sso_error)
        if st.button("Se déconnecter de ProConnect", key="login_sso_logout"):
            st.logout()
    if sso_configured():
        st.write("Agents publics : utilisez votre compte ProConnect.")
        if st.button("S'identifier avec ProConnect", key="login_sso", type="primary"):
            st.login()
        st.divider()
    with st.form(LOGIN_FORM):
        form_errors(LOGIN_FORM, LOGIN_LABELS)  # (a refused password is said at the top only: it names no field)
        email = st.text_input(LOGIN_LABELS["email"], key="login_email", autocomplete="username")
        field_error(LOGIN_FORM, "email")
        password = st.text_input(
            LOGIN_LABELS["password"], type="password", key="login_password", autocomplete="current-password"
        )
        field_error(LOGIN_FORM, "password")
        submitted = st.form_submit_button("Se connecter", type="primary")
    if submitted:
        # Not in write(): authenticate() runs argon2 between two short transactions of its own, so a sign-in
        # never holds SQLite's write lock (or a connection) for the half second the password check takes.
        outcome = accounts.authenticate(runtime().factory, email, password, settings())
        if outcome.error is not None:
            remember_field_errors(LOGIN_FORM, errors_by_field(outcome.error))
            st.rerun()
        elif outcome.user is not None:
            remember_field_errors(LOGIN_FORM, None)
            st.success(f"Bienvenue, {outcome.user.display_name}.")
            if page_key and access.can_view(page_key, outcome.user.role, False):
                for key in (AFTER_LOGIN_KEY, AFTER_LOGIN_QUERY_KEY):
                    st.session_state.pop(key, None)
                query = urlencode(st.query_params.to_dict())
                address = url_of(access.PAGES_BY_KEY[page_key].path) + (f"?{query}" if query else "")
            else:
                address = page_after_login(outcome.user)
            sign_in(outcome.user, address)
    st.caption("Mot de passe oublié ? Demandez à un administrateur du programme de vous en définir un nouveau.")


# The menu's pages for a role and set-up state: st.Page resolves and checks its file when made, about 30 µs for each of
# the app's pages on every run; the same for every visitor, so made once and copied for each run (a Page records
# whether the run that chose it may call it).
_NAVIGATIONS: dict[tuple[str | None, bool], dict[str, list[st.Page]]] = {}


def navigation_pages(user: UserInfo | None) -> dict[str, list]:
    """Every page, grouped by section; those the person may not open are hidden from the menu.

    Registering them all lets a hand-typed URL reach the page's own guard (a French message and a
    link to sign in) instead of Streamlit's "page not found".
    """
    key = (user.role if user else None, setup_needed())
    if key not in _NAVIGATIONS:
        _NAVIGATIONS[key] = _make_navigation(*key)
    return {section: [copy.copy(page) for page in pages] for section, pages in _NAVIGATIONS[key].items()}


def _make_navigation(role: str | None, setup_needed: bool) -> dict[str, list[st.Page]]:
    allowed = access.allowed_pages(role, setup_needed)
    visible = {spec.key for spec in allowed if not spec.hidden}
    ordered = allowed + [spec for spec in access.PAGES if spec not in allowed]
    sections: dict[str, list[st.Page]] = {}
    for index, spec in enumerate(ordered):
        page = st.Page(
            spec.path,
            title=spec.title,
            icon=spec.icon,
            url_path=spec.url_path,
            default=index == 0,
            visibility="visible" if spec.key in visible else "hidden",
        )
        # Hidden pages go to an unnamed section, so that no empty section header shows in the menu.
        sections.setdefault(spec.section if spec.key in visible else "", []).append(page)
    return sections


def footer() -> None:
    """The public notices (legal notices, personal data, accessibility), linked at the bottom of every page."""
    # Links only (no text): a page stopped at its guard shows nothing else of its own.
    st.space("large")
    # (The document says lang="fr": the web layer rewrites Streamlit's page, see web.py.)
    with st.container(horizontal=True, gap="medium", key="pvd_footer"):
        for key in access.FOOTER_PAGES:
            spec = access.PAGES_BY_KEY[key]
            st.page_link(spec.path, label=spec.title)
