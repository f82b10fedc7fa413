"""Settings: one typed object read from the environment, then `.streamlit/secrets.toml`.

The same keys work in both places (environment wins), so an operator configures the web
app and the command line the same way. Settings are validated once; a bad value becomes a
`ConfigError` that lists every problem in plain words instead of a traceback later on.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from secrets import token_urlsafe

from email_validator import EmailNotValidError, validate_email

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DB_DIR = PROJECT_ROOT / "db"
DEFAULT_SQLITE_PATH = DB_DIR / "pvd.sqlite3"
SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"
# Made beside secrets.toml on the first start of an embedded (SQLite) installation without PVD_SECRET_KEY.
GENERATED_KEY_NAME = "pvd-secret.key"
SECRET_KEY_MIN_LENGTH = 32

SMTP_SECURITY_MODES = ("starttls", "ssl", "none")
_DEFAULT_SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
ARGON2_PROFILES = ("production", "fast-tests")
DISCLOSURE_K_RANGE = (2, 50)
# A waiting-list offer holds a place at most 30 days: more is a typo (100000000 for 100), refused at start.
WAITLIST_OFFER_HOURS_RANGE = (1, 720)

# Every key the application reads. A `PVD_*` key outside this list (a typo such as PVD_DATABASE_ULR) is an error
# that names the closest known key, instead of being ignored while the default applies silently.
KNOWN_KEYS = (
    "PVD_DATABASE_URL",
    "PVD_SECRET_KEY",
    "PVD_BASE_URL",
    "PVD_SMTP_HOST",
    "PVD_SMTP_PORT",
    "PVD_SMTP_SECURITY",
    "PVD_SMTP_USER",
    "PVD_SMTP_PASSWORD",
    "PVD_MAIL_FROM",
    "PVD_MAIL_THREAD",
    "PVD_ARGON2_PROFILE",
    "PVD_LOGIN_MAX_FAILURES",
    "PVD_LOGIN_LOCK_MINUTES",
    "PVD_DISCLOSURE_K",
    "PVD_DASHBOARD_REFRESH_SECONDS",
    "PVD_SURVEY_RELEASE_MINUTES",
    "PVD_MEETING_REMINDER_DAYS",
    "PVD_WAITLIST_OFFER_HOURS",
    "PVD_OUTBOX_RETENTION_DAYS",
    "PVD_SESSION_IDLE_MINUTES",
    "PVD_SESSION_MAX_HOURS",
    "PVD_DB_POOL_SIZE",
    "PVD_DB_POOL_TIMEOUT_SECONDS",
    "PVD_HOSTING_PROVIDER",
)
# Read by the test tools (run-tests.sh, tests/conftest.py), never by the application.
TOOL_KEY_PREFIXES = ("PVD_TEST_", "PVD_ALLOW_SKIPS")


class ConfigError(Exception):
    """Raised when the configuration cannot be used; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Configuration invalide :\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class SmtpSettings:
    """How the outbox reaches the mail server."""

    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    sender: str
    timeout_seconds: float = 15.0


@dataclass(frozen=True)
class Settings:
    """Everything configurable, already validated."""

    database_url: str
    smtp: SmtpSettings | None
    base_url: str
    argon2_profile: str
    login_max_failures: int
    login_lock_minutes: int
    mail_thread: bool
    disclosure_k: int = 5
    dashboard_refresh_seconds: int = 10
    # Waiting survey answers reach the figures only at multiples of this many minutes (see survey/release.py).
    survey_release_minutes: int = 30
    meeting_reminder_days: int = 2
    # A freed meeting place is offered to the first person waiting for this many hours (less when the meeting is
    # close: never more than half the time left before its start, meetings/offers.py).
    waitlist_offer_hours: int = 24
    # The server key of the survey's keyed hashes and sealed drafts: kept in configuration, never in
    # the database, so that a copy of the database alone cannot tie answers to an invitation.
    secret_key: str = ""
    outbox_retention_days: int = 30
    # A signed-in browser's session ends after this long without a click, and in any case after the maximum.
    session_idle_minutes: int = 120
    session_max_hours: int = 12
    # Database connections of each process (an app server, a CLI command); more concurrent users wait
    # for one, at most db_pool_timeout_seconds, then get a French "try again" message (database_busy).
    db_pool_size: int = 10
    db_pool_timeout_seconds: int = 10
    # Name, address and telephone of the hosting provider: the legal notice must show them (LCEN, article 6).
    hosting_provider: str = ""

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite database is used."""
        return self.database_url.startswith("sqlite")


def _read_secrets(path: Path) -> tuple[dict[str, object], list[str]]:
    if not path.exists():
        return {}, []
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle), []
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return {}, [f"{path} n'est pas un fichier TOML valide ({exc})."]


def _int(
    raw: str | None, key: str, default: int, problems: list[str], minimum: int = 0, maximum: int | None = None
) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        problems.append(f"{key} doit être un nombre entier (reçu : {raw!r}).")
        return default
    if value < minimum:
        problems.append(f"{key} doit être supérieur ou égal à {minimum} (reçu : {value}).")
        return default
    if maximum is not None and value > maximum:
        problems.append(f"{key} doit être compris entre {minimum} et {maximum} (reçu : {value}).")
        return default
    return value


def _unknown_keys(keys: Iterable[object], origin: str) -> list[str]:
    """A problem for each `PVD_*` key the application does not read, naming the closest known key."""
    problems = []
    for key in sorted({str(k) for k in keys}):
        if not key.upper().startswith("PVD_") or key in KNOWN_KEYS or key.startswith(TOOL_KEY_PREFIXES):
            continue
        closest = difflib.get_close_matches(key.upper(), KNOWN_KEYS, n=1, cutoff=0.6)
        hint = f" Vouliez-vous écrire {closest[0]} ?" if closest else " Les clés connues sont listées dans le README."
        problems.append(f"{key} ({origin}) n'est pas une clé connue de l'application.{hint}")
    return problems


def _sender_problem(sender: str) -> str | None:
    """Why PVD_MAIL_FROM cannot be a sender (`adresse@domaine` or `Nom <adresse@domaine>`), or None."""
    address = parseaddr(sender)[1]
    try:
        # globally_deliverable=False: an internal relay's own domain (e.g. `.local`) is a fair sender.
        validate_email(address, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        return (
            "PVD_MAIL_FROM doit être une adresse électronique, par exemple pvd@anct.gouv.fr ou "
            f"« Petites villes de demain <pvd@anct.gouv.fr> » (reçu : {sender!r})."
        )
    return None


def _bool(raw: str | None, key: str, default: bool, problems: list[str]) -> bool:
    if raw in (None, ""):
        return default
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "oui", "on"):
        return True
    if text in ("0", "false", "no", "non", "off"):
        return False
    problems.append(f"{key} doit valoir true ou false (reçu : {raw!r}).")
    return default


def _generated_key(path: Path) -> str:
    """The key of an embedded installation: read from its file, made (readable by its owner only) the first time."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = token_urlsafe(32)
    try:
        # O_EXCL: two processes starting together keep the first one's key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def load_settings(environ: dict[str, str] | None = None, secrets_path: Path | None = None) -> Settings:
    """Read and validate the settings; raise ConfigError listing every problem."""
    env = os.environ if environ is None else environ
    secrets_path = SECRETS_PATH if secrets_path is None else secrets_path
    secrets, problems = _read_secrets(secrets_path)
    problems += _unknown_keys(env.keys(), "variable d'environnement")
    problems += _unknown_keys(secrets.keys(), secrets_path.name)

    def get(key: str) -> str | None:
        if env.get(key) not in (None, ""):
            return env[key]
        value = secrets.get(key)
        return None if value is None else str(value)

    database_url = (get("PVD_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}").strip()
    if not database_url.startswith(("sqlite:///", "postgresql+psycopg://", "postgresql://", "postgres://")):
        scheme, separator, rest = database_url.partition("://")
        # The scheme is shown, never the user name and password that may follow it.
        hidden = "…@" if "@" in rest else ""
        shown = f"{scheme}://{hidden}{rest.split('@')[-1]}" if separator else database_url.split("@")[-1]
        problems.append(f"PVD_DATABASE_URL doit commencer par sqlite:/// ou postgresql:// (reçu : {shown!r}).")
    for bare in ("postgresql://", "postgres://"):
        if database_url.startswith(bare):
            # psycopg 3 is the driver we ship; a bare scheme (postgres:// is what many hosts hand out) would
            # look for psycopg2 or be unknown to SQLAlchemy.
            database_url = "postgresql+psycopg://" + database_url.removeprefix(bare)

    smtp = None
    host = get("PVD_SMTP_HOST")
    if host:
        security = (get("PVD_SMTP_SECURITY") or "starttls").strip().lower()
        if security not in SMTP_SECURITY_MODES:
            problems.append(f"PVD_SMTP_SECURITY doit être l'une des valeurs {', '.join(SMTP_SECURITY_MODES)}.")
            security = "starttls"
        port = _int(get("PVD_SMTP_PORT"), "PVD_SMTP_PORT", _DEFAULT_SMTP_PORTS[security], problems, 1)
        if port > 65535:
            problems.append("PVD_SMTP_PORT doit être compris entre 1 et 65535.")
        sender = get("PVD_MAIL_FROM")
        if not sender:
            problems.append("PVD_MAIL_FROM (adresse d'expédition) est obligatoire quand PVD_SMTP_HOST est défini.")
        elif sender_problem := _sender_problem(sender):
            problems.append(sender_problem)
        username, password = get("PVD_SMTP_USER"), get("PVD_SMTP_PASSWORD")
        if bool(username) != bool(password):
            problems.append("PVD_SMTP_USER et PVD_SMTP_PASSWORD vont ensemble : renseignez les deux ou aucun.")
        smtp = SmtpSettings(host.strip(), port, security, username, password, sender or "")

    base_url = (get("PVD_BASE_URL") or "http://localhost:8501").strip().rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        problems.append(f"PVD_BASE_URL doit commencer par http:// ou https:// (reçu : {base_url!r}).")

    argon2_profile = (get("PVD_ARGON2_PROFILE") or "production").strip()
    if argon2_profile not in ARGON2_PROFILES:
        problems.append(f"PVD_ARGON2_PROFILE doit valoir {' ou '.join(ARGON2_PROFILES)}.")
    elif argon2_profile != "production" and base_url.startswith("https://"):
        # A public address is a real installation: its passwords are hashed at full cost, whatever was copied
        # from a test configuration.
        problems.append(
            f"PVD_ARGON2_PROFILE={argon2_profile} est réservé aux suites de tests : un serveur public "
            "(PVD_BASE_URL en https://) protège les mots de passe avec le profil production."
        )

    secret_key = (get("PVD_SECRET_KEY") or "").strip()
    if not secret_key and database_url.startswith("sqlite"):
        secret_key = _generated_key(secrets_path.parent / GENERATED_KEY_NAME)
    if not secret_key:
        problems.append(
            "PVD_SECRET_KEY est obligatoire avec PostgreSQL : tous les serveurs de l'application doivent partager "
            'la même clé (par exemple `python -c "import secrets; print(secrets.token_urlsafe(32))"`).'
        )
    elif len(secret_key) < SECRET_KEY_MIN_LENGTH:
        problems.append(f"PVD_SECRET_KEY doit compter au moins {SECRET_KEY_MIN_LENGTH} caractères.")

    settings = Settings(
        database_url=database_url,
        smtp=smtp,
        base_url=base_url,
        argon2_profile=argon2_profile,
        login_max_failures=_int(get("PVD_LOGIN_MAX_FAILURES"), "PVD_LOGIN_MAX_FAILURES", 5, problems, 1),
        login_lock_minutes=_int(get("PVD_LOGIN_LOCK_MINUTES"), "PVD_LOGIN_LOCK_MINUTES", 15, problems, 1),
        mail_thread=_bool(get("PVD_MAIL_THREAD"), "PVD_MAIL_THREAD", True, problems),
        disclosure_k=_int(get("PVD_DISCLOSURE_K"), "PVD_DISCLOSURE_K", 5, problems, *DISCLOSURE_K_RANGE),
        meeting_reminder_days=_int(get("PVD_MEETING_REMINDER_DAYS"), "PVD_MEETING_REMINDER_DAYS", 2, problems, 0),
        waitlist_offer_hours=_int(
            get("PVD_WAITLIST_OFFER_HOURS"), "PVD_WAITLIST_OFFER_HOURS", 24, problems, *WAITLIST_OFFER_HOURS_RANGE
        ),
        dashboard_refresh_seconds=_int(
            get("PVD_DASHBOARD_REFRESH_SECONDS"), "PVD_DASHBOARD_REFRESH_SECONDS", 10, problems, 2
        ),
        survey_release_minutes=_int(get("PVD_SURVEY_RELEASE_MINUTES"), "PVD_SURVEY_RELEASE_MINUTES", 30, problems, 1),
        secret_key=secret_key,
        outbox_retention_days=_int(get("PVD_OUTBOX_RETENTION_DAYS"), "PVD_OUTBOX_RETENTION_DAYS", 30, problems, 1),
        session_idle_minutes=_int(get("PVD_SESSION_IDLE_MINUTES"), "PVD_SESSION_IDLE_MINUTES", 120, problems, 1),
        session_max_hours=_int(get("PVD_SESSION_MAX_HOURS"), "PVD_SESSION_MAX_HOURS", 12, problems, 1),
        db_pool_size=_int(get("PVD_DB_POOL_SIZE"), "PVD_DB_POOL_SIZE", 10, problems, 1),
        db_pool_timeout_seconds=_int(
            get("PVD_DB_POOL_TIMEOUT_SECONDS"), "PVD_DB_POOL_TIMEOUT_SECONDS", 10, problems, 1
        ),
        hosting_provider=" ".join((get("PVD_HOSTING_PROVIDER") or "").split()),
    )
    if problems:
        raise ConfigError(problems)
    return settings
