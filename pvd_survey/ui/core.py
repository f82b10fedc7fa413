"""The pages' runtime and messages: settings, the database, flash messages, domain errors, the outage page, a
form's action, the constant scripts that move the focus or the view."""

from __future__ import annotations

import html
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import streamlit as st
from sqlalchemy.orm import Session
from streamlit.delta_generator import DeltaGenerator

from pvd_survey import db, web
from pvd_survey.config import ConfigError, Settings, load_settings
from pvd_survey.errors import DomainError, french_markdown, french_message

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


# Answers of shared_read, most recently used last, for the database they were read from.
_SHARED_READS: OrderedDict[Hashable, Any] = OrderedDict()
_SHARED_READS_KEPT = 64  # (a job board's filters and pages: one entry each)
_shared_reads_lock = threading.Lock()
_shared_reads_database: web.Database | None = None


def shared_read(
    version: Callable[[Session], Hashable], reader: Callable[..., T], *args: Hashable, **kwargs: Hashable
) -> T:
    """`reader(session, *args, **kwargs)`, read once for every visitor of this process as long as `version(session)`
    (a cheap read that changes whenever the answer may) stays the same: for what does not depend on the visitor,
    such as the job board. The answer is shared: nobody may change it."""
    global _shared_reads_database
    database = runtime()
    with read() as session:
        key = (reader, args, tuple(sorted(kwargs.items())), version(session))
        with _shared_reads_lock:
            if _shared_reads_database is not database:
                _SHARED_READS.clear()
                _shared_reads_database = database
            if key in _SHARED_READS:
                _SHARED_READS.move_to_end(key)
                return _SHARED_READS[key]
        answer = reader(session, *args, **kwargs)
    with _shared_reads_lock:
        if _shared_reads_database is database:
            _SHARED_READS[key] = answer
            while len(_SHARED_READS) > _SHARED_READS_KEPT:
                _SHARED_READS.popitem(last=False)
    return answer


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


def focus_on(key: str) -> None:
    """Move the focus (and the screen) to the container of this key drawn in this run (a confirmation that replaced
    a form): to its message, or to the container itself."""
    focus_marker(target=key)


def focus_marker(form: str = "", submission: str = "", target: str = "") -> None:
    """A hidden marker that makes the focus script move the focus (to a form's first error, or to `target`)."""
    # Constant script, allowed by its hash in the CSP (web.FOCUS_SCRIPT); what to focus is in the attributes, and the
    # submission's number makes each submission's marker new, so that its script runs again.
    st.html(
        f'<div id="pvd-focus" data-form="{html.escape(form)}" data-n="{html.escape(submission)}" '
        f'data-target="{html.escape(target)}"></div><script>{web.FOCUS_SCRIPT}</script>',
        unsafe_allow_javascript=True,
    )


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
