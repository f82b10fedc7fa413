"""The web layer around Streamlit (its ASGI `App`): session cookie routes, personal links, readiness, headers.

`streamlit_app.py` builds the app from `routes()`, `middleware()` and `lifespan`. Nothing here renders a
page: the session route exchanges a one-time ticket for the HttpOnly session cookie (Streamlit scripts cannot
set cookies), the sign-out route clears it, personal links trade their token for a short-lived HttpOnly cookie
so that the token leaves the address bar and the history, the unsubscribe route takes the one-click POST of the
notification e-mails (RFC 8058: Streamlit pages cannot receive a POST), and every response gets the security
headers.

It also owns the process's one database (`database()`: settings, engine, migrations, the outbox thread), opened by
the server's lifespan and shared with the pages through `ui.runtime()`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import logging
import os
import re
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pvd_survey import access, accounts, db, links, mail, notifications, schedule, sessions, survey
from pvd_survey.config import DEFAULT_SQLITE_PATH, ConfigError, Settings, load_settings
from pvd_survey.errors import DomainError, french_message

log = logging.getLogger(__name__)

SESSION_ROUTE = "/_pvd/session"
SIGN_OUT_ROUTE = "/_pvd/deconnexion"
LEAVE_LINK_ROUTE = "/_pvd/quitter"  # POST ?page=…: forget a personal link's cookie on this browser
READY_ROUTE = "/_pvd/ready"
# A personal link's cookie lives 15 minutes: long enough to reload the page, short enough on a shared computer.
LINK_COOKIE_SECONDS = 900
# Streamlit reads cookies from its WebSocket's handshake (`st.context.cookies`), never from the page's own request:
# a cookie with the page's path (`/questionnaire`) would never reach the script. Scoped to the WebSocket's path,
# the token travels with that one request only (not with pages, static files or downloads).
LINK_COOKIE_PATH = "/_stcore/stream"
SIGNED_OUT_PARAMETER = "deconnexion"

# The one inline script of the app's own (ui.go_to): constant text, allowed by its hash, reading its target
# from the element before it, so that no inline script with varying content ever needs to run.
REDIRECT_SCRIPT = 'window.location.replace(document.getElementById("pvd-go").dataset.to);'
# The other (ui.bring_into_view): scrolls its marker to the top of the screen, e.g. a confirmation that replaced a
# long form the person had scrolled down.
INTO_VIEW_SCRIPT = 'document.getElementById("pvd-into-view").scrollIntoView({block: "start"});'
# The third (ui.leave_link): asks the web layer to clear a personal link's cookie, without leaving the page (a
# same-origin fetch sends its true Origin, which the route checks; keepalive lets it finish if the tab closes).
LEAVE_SCRIPT = (
    'fetch(document.getElementById("pvd-leave").dataset.to, '
    '{method: "POST", credentials: "same-origin", keepalive: true});'
)

# The fourth (ui.french_widgets): Streamlit's own words in French as they appear (texts, aria-label, title,
# placeholder), for what its widgets' parameters cannot say; a file, so that it reads as JavaScript.
FRENCH_SCRIPT = (Path(__file__).parent / "assets" / "streamlit-fr.js").read_text(encoding="utf-8")
# The fifth (ui.form_errors, ui.focus_on): moves the focus to a form's first error, or to its confirmation.
FOCUS_SCRIPT = (Path(__file__).parent / "assets" / "focus.js").read_text(encoding="utf-8")


def _allowed_inline_scripts() -> list[str]:
    """The inline scripts of Streamlit's own index.html (read from the installed version), and ours."""
    import streamlit

    index = Path(streamlit.__file__).parent / "static" / "index.html"
    page = index.read_text(encoding="utf-8") if index.exists() else ""
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
    return [*scripts, REDIRECT_SCRIPT, INTO_VIEW_SCRIPT, LEAVE_SCRIPT, FRENCH_SCRIPT, FOCUS_SCRIPT]


def script_hash(script: str) -> str:
    """A CSP source allowing one inline script by its SHA-256."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


# Scripts: the app's own files only, plus inline scripts allowed by their hash (Streamlit's index.html has one,
# ui.go_to, ui.bring_into_view, ui.leave_link, ui.french_widgets and ui's focus one each); no `unsafe-inline`, no
# `unsafe-eval` (Altair charts render without it). Styles stay `unsafe-inline`: Streamlit's components style
# themselves at run time. Nothing is loaded from another site.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' " + " ".join(script_hash(script) for script in _allowed_inline_scripts()),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' blob: data:",
        "worker-src 'self' blob:",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "magnetometer=(), gyroscope=(), accelerometer=(), browsing-topics=()"
)
SECURITY_HEADERS = {
    "referrer-policy": "no-referrer",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "permissions-policy": PERMISSIONS_POLICY,
    "cross-origin-opener-policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


# Pages opened from a personal link, by URL segment.
PERSONAL_LINK_PAGES = frozenset(spec.url_path for spec in access.PAGES if spec.personal_link)


@dataclass(frozen=True)
class Database:
    """The process's one database, open: the settings it was opened with, its engine and session factory."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]


class DatabaseUnavailable(Exception):
    """This process has no database: `problem` says why (bad configuration, lost server key: until a restart),
    or is empty while the database is unreachable (tried again at the next call). `reason` is its short name
    (`configuration`, or the error's code), the only part shown outside the server's log."""

    def __init__(self, problem: str = "", reason: str = "") -> None:
        super().__init__(problem or "database unreachable")
        self.problem = problem
        self.reason = reason or ("démarrage" if problem else "base de données")


@dataclass
class _Owner:
    database: Database | None = None
    problem: str = ""
    reason: str = ""
    stop_sender: threading.Event = field(default_factory=threading.Event)
    sender: threading.Thread | None = None


# The one owner of the database in a server process, shared by the routes here and the pages (ui.runtime):
# one engine, with the configured pool, so that a server keeps at most PVD_DB_POOL_SIZE connections.
_owner = _Owner()
_owner_lock = threading.Lock()


def database() -> Database:
    """The process's database: on the first call, load the settings, make the engine, migrate, check the server
    key and start the outbox thread (if `PVD_MAIL_THREAD`); raises DatabaseUnavailable when that cannot be done."""
    with _owner_lock:
        if _owner.database is None and not _owner.problem:
            _open()
        if _owner.database is None:
            raise DatabaseUnavailable(_owner.problem, _owner.reason)
        return _owner.database


def database_is_open() -> bool:
    """True once the database is open (the next database() call returns at once)."""
    return _owner.database is not None


def _open() -> None:
    engine = None
    try:
        settings = load_settings()
        engine = db.engine_for(settings)
        if settings.is_sqlite and Path(str(engine.url.database)).resolve() != DEFAULT_SQLITE_PATH.resolve():
            # Only the default file is made at the first start: another path that does not exist is a typo.
            db.check_database_exists(engine)
        db.migrate(engine, settings.secret_key)
        factory = db.make_session_factory(engine)
        with db.read_only(factory) as session:
            survey.check_key(session, settings)
        with db.transaction(factory) as session:
            survey.remember_key(session, settings)
            if accounts.needs_setup(session):  # for the operator only: the set-up page asks for it
                log.warning(
                    "PVD: aucun administrateur. Code de création du premier compte administrateur : %s "
                    "(ou : python -m pvd_survey create-user --role admin --email … --password-stdin)",
                    accounts.first_admin_code(settings),
                )
    except ConfigError as error:
        _owner.problem, _owner.reason = "configuration: " + "; ".join(error.problems), "configuration"
        log.error("PVD: bad configuration: %s", _owner.problem)
    except DomainError as error:
        if error.code == "database_busy":  # every connection taken: tried again at the next call
            log.error("PVD: database busy at start")
        elif error.code != "database_unreachable":  # a lost server key: said at start, never read as garbage
            _owner.problem, _owner.reason = french_message(error), error.code
            log.error("PVD: %s", _owner.problem)
        # (unreachable: already in the log, once a minute; tried again at the next call)
    except Exception as error:  # database down at start: tried again at the next call (every request)
        if db.is_unreachable(error):
            db.note_unreachable(error)  # once a minute, not once a request
        else:
            log.error("PVD: database unavailable at start: %s", error)
    else:
        _owner.database = Database(settings, engine, factory)
        if settings.mail_thread:
            _start_sender(factory, settings)
        return
    if engine is not None:
        engine.dispose()


def _start_sender(factory: sessionmaker[Session], settings: Settings) -> None:
    # The thread also runs the work due at a given time (postings past their deadline, meeting reminders,
    # the survey's releases), so it runs even without SMTP; it then only writes to the outbox.
    _owner.stop_sender = threading.Event()
    _owner.sender = threading.Thread(
        target=mail.run_sender,
        args=(factory, settings.smtp, _owner.stop_sender),
        kwargs={"before_pass": lambda: schedule.run_due_work(factory, settings)},
        name="pvd-outbox",
        daemon=True,
    )
    _owner.sender.start()


def _close() -> None:
    """Stop the outbox thread (the pass under way ends first) and close the engine's connections."""
    _owner.stop_sender.set()
    if _owner.sender is not None:
        _owner.sender.join(timeout=30)
    if _owner.database is not None:
        _owner.database.engine.dispose()


def forget_database() -> None:
    """Close the database and open it again at the next call, with the settings read again.

    The one reset of the process's database: tests call it to switch settings (a server never does).
    """
    with _owner_lock:
        _close()
        _owner.database, _owner.problem, _owner.reason, _owner.sender = None, "", "", None


def warm_up() -> None:
    """Load, before the server answers, what the first page views would otherwise load on a visitor's time (about
    1.5 s: pandas, Altair and its Vega-Lite schema, Arrow), so the first pages after a start are as fast as any."""
    try:
        from streamlit import dataframe_util

        from pvd_survey import charts, dashboard  # noqa: F401  (the dashboard's figures module, imported once)

        frame = charts.activity_frame([])
        charts.vega_spec(charts.activity_chart, frame)
        dataframe_util.convert_anything_to_arrow_bytes(frame)
    except Exception:  # a page would meet the same failure and say it; the server must start anyway
        log.exception("PVD: warm-up failed")


def keep_compiled_scripts() -> None:
    """Keep Streamlit's compiled page scripts from one session to the next while their files are unchanged.

    Streamlit empties its cache of compiled scripts whenever a session starts (it connects its "file changed"
    handler, which a parsed configuration calls at once): every new visitor's first run compiled the entry script
    and the page again, 2 ms for the job board on the 2-core development machine, a thirtieth of its view. Emptying
    it now forgets only the scripts whose file changed (size or modification time) since they were compiled, so an
    edited page is still compiled again.
    """
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    if getattr(ScriptCache, "_pvd_keeps_unchanged", False):
        return
    compile_script = ScriptCache.get_bytecode

    def get_bytecode(self: ScriptCache, script_path: str) -> object:
        path = os.path.abspath(script_path)
        stamps = self.__dict__.setdefault("_pvd_stamps", {})
        if path not in self._cache:  # the file as it is before being read: a later edit is always seen
            stamps[path] = _file_stamp(path)
        return compile_script(self, script_path)

    def clear(self: ScriptCache) -> None:
        stamps = self.__dict__.setdefault("_pvd_stamps", {})
        with self._lock:
            for path in list(self._cache):
                if stamps.get(path) is None or stamps[path] != _file_stamp(path):
                    del self._cache[path]

    ScriptCache.get_bytecode = get_bytecode  # type: ignore[method-assign]
    ScriptCache.clear = clear  # type: ignore[method-assign]
    ScriptCache._pvd_keeps_unchanged = True  # type: ignore[attr-defined]


def _file_stamp(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


@asynccontextmanager
async def lifespan(_app):
    """Open the database before the first request (migrated, the outbox thread started) and warm the pages' heavy
    imports; close the database at the end."""
    import anyio

    def open_if_possible() -> None:
        with contextlib.suppress(DatabaseUnavailable):  # logged; requests and pages say it, or try again
            database()

    def close() -> None:
        with _owner_lock:
            _close()

    await anyio.to_thread.run_sync(open_if_possible)
    await anyio.to_thread.run_sync(warm_up)
    yield
    await anyio.to_thread.run_sync(close)


def _current_settings() -> Settings | None:
    return _owner.database.settings if _owner.database is not None else None


def _is_https(request_scheme: str, headers: dict[str, str], settings: Settings | None) -> bool:
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    configured = settings is not None and settings.base_url.startswith("https://")
    return request_scheme in ("https", "wss") or forwarded == "https" or configured


def _secure(request: Request) -> bool:
    return _is_https(request.url.scheme, dict(request.headers), _current_settings())


def _message_page(message: str, status: int) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Petites villes de demain</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f'<body><main><h1>Petites villes de demain</h1><p>{message}</p><p><a href="/login">Se connecter</a> · '
        '<a href="/">Accueil</a></p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status)


def _status_of(error: DomainError) -> int:
    """503 when the database could not serve the request (try again later), 400 for a refused request."""
    return 503 if error.code in ("database_busy", "database_unreachable") else 400


def _session_route(request: Request) -> Response:
    """Exchange a one-time ticket for a new session cookie, then go where the person was heading."""
    try:
        current = database()
    except DatabaseUnavailable:
        return _message_page("Le service est momentanément indisponible. Réessayez dans un instant.", 503)
    try:
        with db.transaction(current.factory) as session:
            opened = sessions.redeem_ticket(
                session,
                request.query_params.get("ticket"),
                current.settings,
                replaces=request.cookies.get(sessions.SESSION_COOKIE),
            )
    except DomainError as error:
        return _message_page(french_message(error), _status_of(error))
    response = RedirectResponse(opened.next_path, status_code=303)
    response.set_cookie(
        sessions.SESSION_COOKIE,
        opened.session_id,
        max_age=opened.max_age_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


def _origin_of(url: str, default_scheme: str = "http") -> str | None:
    """`scheme://host[:port]` of a URL or a bare host, lower-cased, without the scheme's default port."""
    parts = urlsplit(url if "://" in url else f"{default_scheme}://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:  # a port that is not a number
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown = "" if port is None or port == {"http": 80, "https": 443}[parts.scheme] else f":{port}"
    return f"{parts.scheme}://{host}{shown}"


def own_origins(request: Request) -> set[str]:
    """The origins this request's own pages have: the address it was sent to, as a proxy passed it on, and
    PVD_BASE_URL's (the scheme decided as for cookies: https when the request, X-Forwarded-Proto or the base URL
    says so)."""
    scheme = "https" if _secure(request) else "http"
    hosts = [request.headers.get("x-forwarded-host", "").split(",")[0].strip(), request.headers.get("host", "")]
    candidates = [_origin_of(host, scheme) for host in hosts if host]
    settings = _current_settings()
    if settings is not None:
        candidates.append(_origin_of(settings.base_url))
    return {origin for origin in candidates if origin is not None}


def from_own_page(request: Request) -> bool:
    """True when the request comes from one of the app's own pages: its Origin (or, without one, its Referer's
    origin) is the app's. A browser always sends Origin with a POST; `null`, another site's, none at all: refused."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        origin = _origin_of(referer) if referer and "://" in referer else None
    elif origin != "null":
        origin = _origin_of(origin)
    return origin is not None and origin in own_origins(request)


def _sign_out_page() -> HTMLResponse:
    """The sign-out form, for a browser that reached the sign-out address with a live session (a bookmark, a link
    from another site): a GET changes nothing, the button POSTs from this page (its Origin is the app's)."""
    body = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Se déconnecter · Petites villes de '
        'demain</title><meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>'
        "<h1>Petites villes de demain</h1><p>Voulez-vous vous déconnecter ?</p>"
        f'<form method="post" action="{SIGN_OUT_ROUTE}"><button type="submit">Se déconnecter</button></form>'
        '<p><a href="/">Retour à l\'accueil</a></p></main></body></html>'
    )
    response = HTMLResponse(body)
    # Under the app's `no-referrer`, a browser sends `Origin: null` with a form's POST: this page sends its origin
    # to itself (and to nobody else), so that the route can check it.
    response.headers["referrer-policy"] = "same-origin"
    return response


def _sign_out_route(request: Request) -> Response:
    """Sign-out. The app's own button ends the session in the page's script (over Streamlit's WebSocket, which
    checks its Origin), then comes here by GET to clear the cookie of a session that no longer exists. A GET with
    a live session ends nothing: it shows a form whose POST, checked to come from the app's own page, does."""
    raw = request.cookies.get(sessions.SESSION_COOKIE)
    try:
        current = database()
    except DatabaseUnavailable:
        return _message_page("Le service est momentanément indisponible. Réessayez dans un instant.", 503)
    try:
        if request.method == "POST":
            if not from_own_page(request):
                return _message_page("Déconnexion refusée : elle ne venait pas d'une page de l'application.", 403)
            with db.transaction(current.factory) as session:
                sessions.end(session, raw)
        elif raw:
            with db.read_only(current.factory) as session:
                if sessions.resolve(session, raw, current.settings).user is not None:
                    return _sign_out_page()
    except DomainError as error:
        return _message_page(html.escape(french_message(error)), _status_of(error))
    response = RedirectResponse(f"/?{SIGNED_OUT_PARAMETER}=1", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


def _leave_link_route(request: Request) -> Response:
    """POST `?page=questionnaire`, from the app's own page only: clear that page's personal-link cookie."""
    page = request.query_params.get("page", "")
    if page not in PERSONAL_LINK_PAGES or not from_own_page(request):
        return Response(status_code=403)
    response = Response(status_code=204)
    for path in (LINK_COOKIE_PATH, "/"):  # "/": the cookies set before they were scoped to the WebSocket
        response.delete_cookie(
            links.link_cookie_name(page), path=path, httponly=True, samesite="lax", secure=_secure(request)
        )
    return response


def _ready_route(_request: Request) -> Response:
    """For load balancers: 200 once this server reaches its database at the expected schema, else 503."""
    try:
        opened = database()
    except DatabaseUnavailable as error:
        # The short reason only: the details (settings, paths) are for the server's log, not for whoever asks.
        return JSONResponse({"status": "indisponible", "raison": error.reason}, 503)
    try:
        with db.read_only(opened.factory) as session:
            session.execute(text("SELECT 1"))
            current = db.current_revision(opened.engine)  # the engine the session is bound to
    except Exception as error:  # any database failure means "do not send traffic here"
        return JSONResponse({"status": "indisponible", "raison": type(error).__name__}, 503)
    if current != db.head_revision():
        return JSONResponse({"status": "indisponible", "raison": "schéma pas à jour"}, 503)
    return JSONResponse({"status": "ok", "schema": current})


def _unsubscribe_route(request: Request) -> Response:
    """The List-Unsubscribe address of the notification e-mails (`?jeton=…`).

    POST is RFC 8058's one click, sent by a mail program's own "unsubscribe" button: done at once, no page. GET (the
    address opened in a browser, or fetched by a link checker) changes nothing: it leads to the page that asks for
    the click, through the personal-link redirect (the token moves to a cookie).
    """
    token = request.query_params.get(links.TOKEN_PARAMETER)
    if request.method == "GET":
        page = "/" + access.PAGES_BY_KEY[notifications.LINK_PAGE].url_path
        return RedirectResponse(
            f"{page}?{urlencode({links.TOKEN_PARAMETER: token[: links.MAX_TOKEN_LENGTH]})}" if token else page,
            status_code=303,
        )
    try:
        current = database()
    except DatabaseUnavailable:
        return _message_page("Le service est momentanément indisponible. Réessayez dans un instant.", 503)
    try:
        with db.transaction(current.factory) as session:
            subject = notifications.unsubscribe(session, token)
    except DomainError as error:
        return _message_page(html.escape(french_message(error)), _status_of(error))
    db.scrub_sqlite_wal(current.engine)  # a deleted job alert leaves SQLite's WAL too
    return _message_page(html.escape(f"C'est fait : vous ne recevrez plus {subject}."), 200)


def routes() -> list[Route]:
    """The app's own HTTP routes, next to Streamlit's."""
    return [
        Route(SESSION_ROUTE, _session_route, methods=["GET"]),
        Route(SIGN_OUT_ROUTE, _sign_out_route, methods=["GET", "POST"]),
        Route(LEAVE_LINK_ROUTE, _leave_link_route, methods=["POST"]),
        Route(READY_ROUTE, _ready_route, methods=["GET"]),
        Route(notifications.UNSUBSCRIBE_ROUTE, _unsubscribe_route, methods=["GET", "POST"]),
    ]


# Streamlit's index.html says lang="en"; the app is French (RGAA 8.3).
_LANG_EN = b'<html lang="en">'
_LANG_FR = b'<html lang="fr">'
_STREAMLIT_PAGE = b'<div id="root">'  # what tells Streamlit's page (served for any address) from a route's
# The addresses of the app's pages ("" for the home page): any other address Streamlit would serve its page for
# gets the French « page introuvable » instead.
# (`/home` is not one: Streamlit would draw the home page under its English « page does not seem to exist » dialog.)
PAGE_PATHS = frozenset(spec.address.strip("/") for spec in access.PAGES)
NOT_FOUND_PAGE = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Page introuvable · Petites villes de demain'
    '</title><meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>'
    "<h1>Page introuvable</h1><p>Aucune page de l'application Petites villes de demain ne se trouve à cette "
    "adresse. Vérifiez-la, ou partez de l'accueil.</p>"
    '<p><a href="/">Accueil</a> · <a href="/offres">Offres d\'emploi</a> · <a href="/rencontres">Rencontres</a> · '
    '<a href="/login">Se connecter</a></p></main></body></html>'
).encode()


class WebLayer:
    """ASGI middleware: security headers on every response, French `lang`, personal links' tokens to cookies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        secure = _is_https(scope.get("scheme", "http"), headers, _current_settings())
        redirect = _personal_link_redirect(scope, secure)
        if redirect is not None:
            await _with_headers(redirect, secure)(scope, receive, send)
            return
        wants_html = "text/html" in headers.get("accept", "")
        if wants_html:
            # The page itself is small: serve it uncompressed so that its lang can be rewritten.
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        known = scope.get("path", "/").strip("/") in PAGE_PATHS
        await self.app(scope, receive, _HeaderSender(send, secure, rewrite_html=wants_html, known_page=known))


def _with_headers(app: Response, secure: bool) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, _HeaderSender(send, secure, rewrite_html=False))

    return wrapped


class _HeaderSender:
    """Wraps `send`: adds the headers to the response start, and rewrites an HTML body's `lang`."""

    def __init__(self, send: Send, secure: bool, rewrite_html: bool, known_page: bool = True) -> None:
        self.send = send
        self.secure = secure
        self.rewrite_html = rewrite_html
        self.known_page = known_page
        self.start: Message | None = None
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            original = message.get("headers", [])
            headers = [(k, v) for k, v in original if k.decode("latin-1").lower() not in _OURS]
            headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            if (b"referrer-policy", b"same-origin") in [(k.lower(), v) for k, v in original]:
                # The sign-out form's page: its POST must carry its Origin (see _sign_out_page).
                headers = [(k, b"same-origin" if k == b"referrer-policy" else v) for k, v in headers]
            if self.secure:
                headers.append((b"strict-transport-security", HSTS.encode()))
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            is_html = content_type.startswith(b"text/html")
            if is_html:
                # A signed-out person's back button must not show a private page from the cache.
                headers = [(k, v) for k, v in headers if k.lower() not in (b"cache-control", b"etag")]
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
            encoded = any(k.lower() == b"content-encoding" for k, _ in headers)
            if self.rewrite_html and is_html and not encoded:
                self.start = message  # held back until the whole body is known
                return
            await self.send(message)
            return
        if message["type"] == "http.response.body" and self.start is not None:
            self.body += message.get("body", b"")
            if message.get("more_body", False):
                return
            body = bytes(self.body).replace(_LANG_EN, _LANG_FR, 1)
            start = self.start
            if not self.known_page and _STREAMLIT_PAGE in body:
                # Streamlit answers every unknown address with its page, then says « Page not found » in English.
                start, body = {**start, "status": 404}, NOT_FOUND_PAGE
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await self.send({**start, "headers": headers})
            self.start = None
            await self.send({"type": "http.response.body", "body": body})
            return
        await self.send(message)


_OURS = frozenset(SECURITY_HEADERS) | {"strict-transport-security"}


def _personal_link_redirect(scope: Scope, secure: bool) -> Response | None:
    """`GET /questionnaire?jeton=…`: keep the token in an HttpOnly cookie and reload the page without it."""
    if scope.get("method") != "GET":
        return None
    page = scope.get("path", "").strip("/")
    if page not in PERSONAL_LINK_PAGES:
        return None
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    tokens = [value for key, value in query if key == links.TOKEN_PARAMETER]
    if not tokens:
        return None
    rest = [(key, value) for key, value in query if key != links.TOKEN_PARAMETER]
    response = RedirectResponse(f"/{page}" + (f"?{urlencode(rest)}" if rest else ""), status_code=303)
    response.set_cookie(
        links.link_cookie_name(page),
        tokens[-1][: links.MAX_TOKEN_LENGTH],
        max_age=LINK_COOKIE_SECONDS,
        path=LINK_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response


def middleware() -> list:
    """The app's middleware, outside Streamlit's own."""
    from starlette.middleware import Middleware

    return [Middleware(WebLayer)]
