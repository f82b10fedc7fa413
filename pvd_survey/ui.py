"""Streamlit glue shared by the pages: runtime, signed-in user, page guard, messages.

The only module of the package that imports Streamlit; the CLI never imports it.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlencode, urlsplit

import streamlit as st
from sqlalchemy.orm import Session
from streamlit.delta_generator import DeltaGenerator

from pvd_survey import access, accounts, db, exports, links, sessions, territory, web
from pvd_survey.accounts import UserInfo
from pvd_survey.config import ConfigError, Settings, load_settings
from pvd_survey.errors import DomainError, errors_by_field, form_summary, french_markdown, french_message
from pvd_survey.recruitment import PDF_MAX_BYTES

FLASH_KEY = "pvd_flash"  # a message to show once, after a rerun (at the top of the page, or at a named place)
FLASH_FOCUS_KEY = "pvd_flash_focus"  # that message takes the keyboard focus (the confirmation of a form)
NEW_RECORD = 0  # the "new …" choice of a record selector (record ids start at 1)
SSO_ERROR_KEY = "pvd_sso_error"  # why a single sign-on identity got no access
T = TypeVar("T")
log = logging.getLogger(__name__)
_LOGGED_PROBLEMS: set[str] = set()  # configuration problems already written to the log by this process


def settings() -> Settings:
    """Validated settings, or a clear message and a stopped page."""
    try:
        return load_settings()
    except ConfigError as error:
        # The problems name settings and paths: they go to the server's log (once), never to visitors.
        problems = "; ".join(error.problems)
        if problems not in _LOGGED_PROBLEMS:
            _LOGGED_PROBLEMS.add(problems)
            log.error("PVD: bad configuration: %s", problems)
        st.error(
            "L'application est mal configurée. Prévenez son administrateur : le journal du serveur dit quoi corriger."
        )
        st.stop()


def runtime() -> web.Database:
    """The process's database (web.database(), shared with the web layer), migrated before any page reads it.

    Opened here by the first page run when no server lifespan opened it (AppTest); a page that cannot have it
    stops with a message (the next run tries again while the database is only unreachable).
    """
    settings()  # a bad configuration: its problems on the page
    try:
        if web.database_is_open():
            return web.database()
        with st.spinner("Préparation de la base de données…"):
            return web.database()
    except web.DatabaseUnavailable as error:
        if error.problem:  # its details are in the server's log, not for visitors
            st.error(
                "L'application ne peut pas démarrer. Prévenez son administrateur : le journal du serveur en dit la "
                "raison."
            )
            st.stop()
        outage_page()


@contextmanager
def write() -> Iterator[Session]:
    """A unit of work for a page: committed if the block ends normally."""
    with db.transaction(runtime().factory) as session:
        yield session


def scrub_erased_data() -> None:
    """After a committed erasure: on SQLite, empty the WAL so the erased bytes leave it too (best effort)."""
    db.scrub_sqlite_wal(runtime().engine)


@contextmanager
def read() -> Iterator[Session]:
    """A read-only session for a page."""
    with db.read_only(runtime().factory) as session:
        yield session


def flash(message: str, kind: str = "success", place: str | None = None, focus: bool = False) -> None:
    """Show a message after the next rerun (e.g. after st.rerun()): at the top of the page, or where the page calls
    show_flash(place) (next to the action, so that it is on screen); `focus`: the keyboard focus goes to it."""
    st.session_state[FLASH_KEY] = (kind, message, place, False)
    st.session_state[FLASH_FOCUS_KEY] = focus


def show_flash(place: str | None = None, into_view: bool = False) -> None:
    """Display (once) the message left by flash() for this place (None: the top of every page, main_page.py).

    A message for a place its page did not reach in the run after the action is dropped, never shown later.
    `into_view`: the page scrolls to bring the message to the top of the screen (what was above it just changed).
    """
    flashed = st.session_state.get(FLASH_KEY)
    if not flashed:
        return
    kind, message, where, aged = flashed
    if where != place:
        if place is None:  # the top of a run: a placed message gets this run only
            if aged:
                del st.session_state[FLASH_KEY]
            else:
                st.session_state[FLASH_KEY] = (kind, message, where, True)
        return
    del st.session_state[FLASH_KEY]
    if message:
        show = {"success": st.success, "warning": st.warning, "error": st.error, "info": st.info}[kind]
        if st.session_state.pop(FLASH_FOCUS_KEY, False):
            focus_on("pvd_flash_focused")  # (it scrolls the message into view too)
            with st.container(key="pvd_flash_focused"):
                show(message)
            return
        if into_view:
            bring_into_view()
        show(message)


def show_error(error: DomainError) -> None:
    """A domain error as a French message."""
    st.error(french_markdown(error))


OUTAGE_TITLE = "Service momentanément indisponible"
UNREACHABLE = "database_unreachable"


def outage_page() -> NoReturn:
    """The database cannot be reached: a French page saying so (never the error), then the run stops.

    The next run (a reload, the button) tries again: the app recovers by itself once the database is back.
    """
    st.title(OUTAGE_TITLE)
    st.write(french_message(DomainError(UNREACHABLE)))
    st.button("Réessayer", key="pvd_outage_retry", icon=":material/refresh:")  # a click is a new run
    st.stop()


@contextmanager
def domain_errors_shown() -> Iterator[None]:
    """A domain error no page caught (e.g. `database_busy` from a read) ends the run with its French message;
    an unreachable database, with the outage page."""
    try:
        yield
    except DomainError as error:
        if error.code == UNREACHABLE:
            outage_page()
        show_error(error)
        st.stop()


@contextmanager
def live_part() -> Iterator[None]:
    """The body of a live fragment (`st.fragment(run_every=…)`, which reruns alone): a domain error (the database
    busy or unreachable) shows its French message in the fragment instead of Streamlit's exception box, and the
    next refresh tries again."""
    try:
        yield
    except DomainError as error:
        show_error(error)


def act(
    action: Callable[..., T],
    *args: Any,
    success: str | Callable[[T], str] | None = None,
    then: Callable[[T], object] | None = None,
    rerun: bool = True,
    where: DeltaGenerator | None = None,
    flash_at: str | None = None,
    **kwargs: Any,
) -> T | None:
    """A page's action: `action(session, *args, **kwargs)` in one unit of work, then what the person sees.

    A domain error shows its French message (in `where`, else at this point of the page), nothing is committed,
    and the answer is None. Once committed: `then(result)` (e.g. forget a form's state), then the `success`
    message (a text, or made from the result) is flashed (at the top of the page, or where the page calls
    show_flash(flash_at)) and the page reruns to show the new state; with `rerun=False` the message shows at once
    and the result is returned. (The action's own keyword arguments cannot be called `success`, `then`, `rerun`,
    `where` or `flash_at`.)
    """
    place = st if where is None else where
    try:
        with write() as session:
            result = action(session, *args, **kwargs)
    except DomainError as error:
        place.error(french_markdown(error))
        return None
    if then is not None:
        then(result)
    message = success(result) if callable(success) else success
    if rerun:
        if message:
            flash(message, place=flash_at)
        st.rerun()
    if message:
        place.success(message)
    return result


_EXPORT_ICONS = {"csv": ":material/download:", "xlsx": ":material/table:", "csv_outils": ":material/data_object:"}


def export_button(place: DeltaGenerator, fmt: str, label: str, build: Callable[[], bytes], stem: str, key: str) -> None:
    """One download of an export in one of exports.FORMATS, built by `build` only when clicked."""
    place.download_button(
        label,
        build,
        file_name=exports.file_name(stem, fmt),
        mime=exports.MEDIA_TYPES[fmt],
        key=key,
        on_click="ignore",
        icon=_EXPORT_ICONS[fmt],
    )


def text_of(uploaded, pasted: str) -> str | None:
    """The uploaded file's text (UTF-8, with or without BOM), else what was pasted; None after an error message."""
    if uploaded is None:
        return pasted
    try:
        return uploaded.getvalue().decode("utf-8-sig")
    except UnicodeDecodeError:
        st.error("Le fichier doit être encodé en UTF-8 (enregistrez-le en « CSV UTF-8 » depuis le tableur).")
        return None


def department_select(label: str, key: str) -> str | None:
    """A department picker (code and name, empty at first), as every form asks for it."""
    return st.selectbox(
        label,
        list(territory.DEPARTMENTS),
        format_func=territory.department_label,
        index=None,
        placeholder="Choisissez un département",
        key=key,
    )


# ---------------------------------------------------------------------------- Streamlit's widgets, in French
# Streamlit 1.67 speaks English wherever the app does not give it the words: its parameters first (placeholder,
# select_all, max_upload_size, format), then french_widgets() for what no parameter reaches.

DATE_FORMAT = "DD/MM/YYYY"
PDF_MAX_MB = PDF_MAX_BYTES // (1024 * 1024)  # the services' limit, shown by the uploader (« 5 Mo au plus… »)


def french_widgets() -> None:
    """Streamlit's own words (upload zone, date fields, lists' buttons, names read by screen readers) in French."""
    # Constant script, allowed by its hash in the CSP (web.FRENCH_SCRIPT); it installs itself once per tab.
    st.html(f"<script>{web.FRENCH_SCRIPT}</script>", unsafe_allow_javascript=True)


def multiselect(label: str, options: Sequence[T], *, placeholder: str = "Choisissez", **kwargs: Any) -> list[T]:
    """st.multiselect without « Select all » (which would tick every choice at once) and with a French prompt."""
    return st.multiselect(label, options, placeholder=placeholder, select_all=False, **kwargs)


def file_upload(label: str, kind: str, key: str, max_mb: int | None = None) -> Any:
    """One file of a kind (`pdf`, `csv`); a PDF within the services' limit, which the zone shows."""
    types = ["csv", "txt"] if kind == "csv" else [kind]
    return st.file_uploader(
        label, type=types, key=key, max_upload_size=max_mb or (PDF_MAX_MB if kind == "pdf" else None)
    )


def date_input(label: str, *, place: DeltaGenerator | None = None, **kwargs: Any) -> Any:
    """st.date_input shown as jj/mm/aaaa."""
    return (place or st).date_input(label, format=DATE_FORMAT, **kwargs)


def checkbox_group(
    label: str,
    options: Sequence[str],
    key: str,
    *,
    format_func: Callable[[str], str] = str,
    exclusive: str | None = None,
) -> list[str]:
    """Several choices as checkboxes (no « Select all »), the ticked codes kept in `st.session_state[key]`.

    Ticking `exclusive` (« Je ne souhaite pas répondre ») unticks the others at once, and ticking another unticks
    it. Set `st.session_state[key]` before the call to change what is ticked.
    """
    selected = list(st.session_state.get(key) or [])
    with st.container(key=f"pvd_group_{key}", gap="xxsmall"):
        st.markdown(label)
        for option in options:
            box = f"{key}__{option}"
            st.session_state[box] = option in selected
            st.checkbox(format_func(option), key=box, on_change=_ticked, args=(key, option, tuple(options), exclusive))
    return selected


def _ticked(key: str, option: str, options: tuple[str, ...], exclusive: str | None) -> None:
    selected = [other for other in options if st.session_state.get(f"{key}__{other}")]
    if exclusive is not None and st.session_state.get(f"{key}__{option}"):
        selected = [option] if option == exclusive else [other for other in selected if other != exclusive]
    st.session_state[key] = selected
    for other in options:
        st.session_state[f"{key}__{other}"] = other in selected


# ---------------------------------------------------------------------------- forms (RGAA 11.10)
# A submission's errors, all at once: each under its field (field_error), all listed at the top of the form
# (form_errors), and the focus on the first field in error; after a success, on the confirmation (flash(focus=True)
# or focus_on). Services raise InvalidAnswers (several fields) or a DomainError with its `field` (errors.py says
# them in French: errors_by_field, form_summary).


def remember_field_errors(form_key: str, errors: Mapping[str, DomainError] | None) -> None:
    """Keep a form's errors by field (or clear them) for the next run, which shows them and focuses the first."""
    if errors:
        st.session_state[f"{form_key}_errors"] = {name: french_message(error) for name, error in errors.items()}
        st.session_state[f"{form_key}_focus"] = st.session_state.get(f"{form_key}_focus", 0) + 1
    else:
        st.session_state.pop(f"{form_key}_errors", None)
        st.session_state.pop(f"{form_key}_focus", None)


def field_error(form_key: str, field: str) -> None:
    """The error of one field, right under it (if the last submission had one); call it just after the widget."""
    message = st.session_state.get(f"{form_key}_errors", {}).get(field)
    if message:
        with st.container(key=f"pvd_error_{form_key}__{field}"):
            st.error(message, icon=":material/error:")


def form_errors(form_key: str, labels: Mapping[str, str]) -> None:
    """At the top of a form: every error of its last submission, each with its field's label (`labels`, in the
    form's order); right after the submission, the focus goes to the first field in error."""
    errors: dict[str, str] = st.session_state.get(f"{form_key}_errors") or {}
    if not errors:
        return
    with st.container(key=f"pvd_summary_{form_key}"):
        st.error(form_summary(errors, labels), icon=":material/error:")
    submission = st.session_state.pop(f"{form_key}_focus", None)
    if submission:
        _focus_marker(form=form_key, submission=str(submission))


def submit_form(
    form_key: str,
    action: Callable[..., T],
    *args: Any,
    success: str | Callable[[T], str] | None = None,
    then: Callable[[T], object] | None = None,
    flash_at: str | None = None,
    refused: Callable[[DomainError], object] | None = None,
    rerun: bool = True,
    **kwargs: Any,
) -> T:
    """A form's action, as act() but for a form: on a domain error nothing is committed and the page reruns with
    every error under its field and listed at the top (form_errors), the focus on the first; once committed,
    `then(result)`, the `success` message flashed with the focus on it, and a rerun (without a message, the page
    shows its own confirmation: focus_on() its container). `refused(error)`: what else a refusal changes.
    `rerun=False`: once committed, the result is returned (the page draws its confirmation in this run)."""
    try:
        with write() as session:
            result = action(session, *args, **kwargs)
    except DomainError as error:
        remember_field_errors(form_key, errors_by_field(error))
        if refused is not None:
            refused(error)
        st.rerun()
    remember_field_errors(form_key, None)
    if then is not None:
        then(result)
    if not rerun:
        return result
    message = success(result) if callable(success) else success
    if message:
        flash(message, place=flash_at, focus=True)
    st.rerun()


def focus_on(key: str) -> None:
    """Move the focus (and the screen) to the container of this key drawn in this run (a confirmation that replaced
    a form): to its message, or to the container itself."""
    _focus_marker(target=key)


def _focus_marker(form: str = "", submission: str = "", target: str = "") -> None:
    # Constant script, allowed by its hash in the CSP (web.FOCUS_SCRIPT); what to focus is in the attributes, and the
    # submission's number makes each submission's marker new, so that its script runs again.
    st.html(
        f'<div id="pvd-focus" data-form="{html.escape(form)}" data-n="{html.escape(submission)}" '
        f'data-target="{html.escape(target)}"></div><script>{web.FOCUS_SCRIPT}</script>',
        unsafe_allow_javascript=True,
    )


def choose_record(
    label: str,
    labels: Mapping[int, str],
    parameter: str,
    key: str,
    *,
    unknown: str,
    new_label: str | None = None,
    first_by_default: bool = False,
    placeholder: str = "Choisissez",
    forget: Sequence[str] = (),
) -> int | None:
    """A selector of one record (a posting, an application, a meeting…) by its stable id, kept in the address.

    `labels` maps the ids the person may see (read afresh on each run, access checked by the service) to their
    labels. The address (`?parameter=id`) decides: a reload, a shared link or the back button shows the same
    record, and a label changed by an action (a posting's state, a new title) never loses the choice. A choice
    made in the selector goes to the address (and drops the `forget` parameters, those of the previous record).
    Without the parameter: the `new_label` choice (NEW_RECORD), else the first record (`first_by_default`), else
    nothing. An id that is not in `labels` (bad, or someone else's) shows the French message of the `unknown`
    code and nothing of it. Returns the chosen id, NEW_RECORD, or None (nothing chosen).
    """
    wanted = st.query_params.get(parameter)
    chosen: int | None
    if wanted is None:
        chosen = NEW_RECORD if new_label else (next(iter(labels), None) if first_by_default else None)
    elif wanted.isascii() and wanted.isdecimal() and int(wanted) in labels:
        chosen = int(wanted)
    else:
        show_error(DomainError(unknown))
        chosen = None
    options = ([NEW_RECORD] if new_label else []) + list(labels)
    # The widget shows what the address says on every run; the browser may still hold a label of an earlier run.
    st.session_state[key] = chosen
    st.selectbox(
        label,
        options,
        format_func=lambda record: (new_label or "") if record == NEW_RECORD else labels[record],
        index=None,
        placeholder=placeholder,
        required=True,  # a choice can be changed, not cleared
        key=key,
        on_change=_record_chosen,
        args=(key, parameter, tuple(forget)),
    )
    return chosen


def _record_chosen(key: str, parameter: str, forget: tuple[str, ...]) -> None:
    value = st.session_state.get(key)
    # Anything else is a label of an earlier run that no longer matches (the record's label changed): the address
    # keeps the choice.
    if value is None or isinstance(value, int):
        select_record(parameter, value, forget)


def select_record(parameter: str, record_id: int | None, forget: Sequence[str] = ()) -> None:
    """Make this record the chosen one of its selector on the next run (e.g. a record just created)."""
    if record_id is None or record_id == NEW_RECORD:
        st.query_params.pop(parameter, None)
    else:
        st.query_params[parameter] = str(record_id)
    for other in forget:
        st.query_params.pop(other, None)


def request_cookies() -> Mapping[str, str]:
    """The cookies the browser sent when it opened this page (read-only; pages cannot set cookies)."""
    return st.context.cookies


def session_id() -> str | None:
    """This browser's session id (from its cookie), if any."""
    return request_cookies().get(sessions.SESSION_COOKIE)


def go_to(url: str, label: str = "Continuer") -> None:
    """Send the browser to a URL of the app's web layer (outside Streamlit's pages), then stop the script."""
    # The script's text is constant (allowed by its hash in the CSP); the target travels in an attribute.
    st.html(
        f'<div id="pvd-go" data-to="{html.escape(url)}"></div><script>{web.REDIRECT_SCRIPT}</script>',
        unsafe_allow_javascript=True,
    )
    st.markdown(f"[{label}]({url})")
    st.stop()


def bring_into_view() -> None:
    """Scroll the page so that what follows this point is at the top of the screen (below Streamlit's header).

    For what replaces a long form once it is sent (a confirmation): the browser would otherwise keep the place the
    person had scrolled to, far below it.
    """
    # Constant script, allowed by its hash in the CSP (web.INTO_VIEW_SCRIPT); only one marker per page.
    st.html(
        f'<div id="pvd-into-view" style="scroll-margin-top: 4.5rem"></div><script>{web.INTO_VIEW_SCRIPT}</script>',
        unsafe_allow_javascript=True,
    )


def url_of(page_path: str) -> str:
    """The address of a page file (`pages/x.py`), as the browser sees it."""
    for spec in access.PAGES:
        if spec.path == page_path:
            return "/" if spec.key == "home" else f"/{spec.url_path}"
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


def setup_needed() -> bool:
    """True while no administrator exists yet."""
    with read() as session:
        return accounts.needs_setup(session)


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
    with st.form("login_form"):
        email = st.text_input("Adresse e-mail", key="login_email", autocomplete="username")
        password = st.text_input("Mot de passe", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Se connecter", type="primary")
    if submitted:
        # Not in write(): authenticate() runs argon2 between two short transactions of its own, so a sign-in
        # never holds SQLite's write lock (or a connection) for the half second the password check takes.
        outcome = accounts.authenticate(runtime().factory, email, password, settings())
        if outcome.error is not None:
            show_error(outcome.error)
        elif outcome.user is not None:
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


def navigation_pages(user: UserInfo | None) -> dict[str, list]:
    """Every page, grouped by section; those the person may not open are hidden from the menu.

    Registering them all lets a hand-typed URL reach the page's own guard (a French message and a
    link to sign in) instead of Streamlit's "page not found".
    """
    allowed = access.allowed_pages(user.role if user else None, setup_needed())
    visible = {spec.key for spec in allowed if not spec.hidden}
    ordered = allowed + [spec for spec in access.PAGES if spec not in allowed]
    sections: dict[str, list] = {}
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
