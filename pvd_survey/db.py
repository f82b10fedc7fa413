"""Engine, sessions and migrations for SQLite (embedded default) and PostgreSQL (production).

Services take a Session and never commit; callers own the transaction through `transaction()`.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from pvd_survey.config import DB_DIR, Settings
from pvd_survey.errors import DomainError, SchemaMismatch

log = logging.getLogger(__name__)

# PostgreSQL's answers that mean "no server to talk to" (class 08: connection exception; the server shutting down,
# crashed or still starting; no connection slot left), as opposed to a statement that failed (a deadlock, a lock or
# statement timeout, which psycopg also calls OperationalError).
_UNREACHABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
OUTAGE_LOG_SECONDS = 60.0  # while the database is unreachable, the log says so once a minute, not once a request


def is_unreachable(error: BaseException) -> bool:
    """True when the error (or one it was raised from) says the database server cannot be reached.

    SQLAlchemy flags a connection it found dead (`connection_invalidated`); a connection that cannot even be made is
    psycopg's OperationalError without an SQL state (or class 08). SQLite's errors (a busy file above all, see
    `database_busy`) are never counted here: an embedded file has no server to lose.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            connection_kind = isinstance(current, (OperationalError, InterfaceError))
            state = getattr(current.orig, "sqlstate", "") if connection_kind else ""  # sqlite3's errors have none
            if state is None or (state and (state.startswith("08") or state in _UNREACHABLE_SQLSTATES)):
                return True
        current = current.__cause__ or current.__context__
    return False


class OutageLog:
    """Tells the log that the database is unreachable once per `interval` seconds at most, then that it is back.

    Shared by everything in a process that meets the outage (pages, the web layer, the outbox thread): a server
    hit by many requests writes one line a minute, each counting the failures since the previous one.
    """

    def __init__(
        self, logger: logging.Logger, interval: float = OUTAGE_LOG_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._logger, self._interval, self._clock = logger, interval, clock
        self._lock = threading.Lock()
        self._since: float | None = None  # when this outage was first met
        self._last_said: float = 0.0
        self._failures = 0  # since the last line

    @property
    def down(self) -> bool:
        """True between a failure and the next success."""
        return self._since is not None

    def unreachable(self, error: BaseException) -> bool:
        """Count a failure; log it (one line, no traceback) if the last line is `interval` old. True if logged."""
        with self._lock:
            now = self._clock()
            self._failures += 1
            if self._since is not None and now - self._last_said < self._interval:
                return False
            first = self._since is None
            if first:
                self._since = now
            failures, self._failures, self._last_said = self._failures, 0, now
        reason = _one_line(error)
        if first:
            self._logger.error("PVD: base de données injoignable (%s) ; nouvel essai à chaque requête", reason)
        else:
            self._logger.error(
                "PVD: base de données toujours injoignable depuis %d s (%d échec(s) en %d s) : %s",
                round(now - (self._since or now)),
                failures,
                self._interval,
                reason,
            )
        return True

    def reachable(self) -> bool:
        """After an outage: say once that the database answers again. True if logged."""
        if self._since is None:  # the usual case, without taking the lock
            return False
        with self._lock:
            if self._since is None:
                return False
            lasted, failures = self._clock() - self._since, self._failures
            self._since, self._failures = None, 0
        self._logger.warning(
            "PVD: base de données de nouveau joignable (injoignable %d s ; %d échec(s) depuis le message précédent)",
            round(lasted),
            failures,
        )
        return True


def _one_line(error: BaseException) -> str:
    """The driver's own words (`connection refused`…), on one line, without SQLAlchemy's SQL and help link."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    text_ = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {text_[:300]}"


outages = OutageLog(log)  # the process's one


def note_unreachable(error: BaseException) -> None:
    """Record that the database could not be reached (logged once a minute at most, see OutageLog)."""
    outages.unreachable(error)


# Any constant works: it only has to be the same for every process migrating this database.
_PG_MIGRATION_LOCK_KEY = 727_274_2026
_migration_thread_lock = threading.Lock()
_SQLITE_BUSY_TIMEOUT_MS = 15_000
_SCRUB_BUSY_TIMEOUT_MS = 2_000  # a scrub holds back writers while it waits: keep that short


class FifoLock:
    """A re-entrant lock granted in arrival order (threading.Lock lets late comers overtake).

    Each waiter sleeps on its own event; the releasing thread hands the lock to the next one only.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiters: deque[tuple[threading.Event, int]] = deque()
        self._owner: int | None = None
        self._depth = 0

    def __enter__(self) -> FifoLock:
        self.acquire()
        return self

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock, waiting at most `timeout` seconds (None: as long as it takes); False if it never came."""
        me = threading.get_ident()
        with self._guard:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None:
                self._owner, self._depth = me, 1
                return True
            turn = threading.Event()
            self._waiters.append((turn, me))
        if turn.wait(timeout):  # set once the lock has been handed over to this thread
            return True
        with self._guard:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self._waiters.remove((turn, me))
            return False

    def __exit__(self, *exc_info: object) -> None:
        with self._guard:
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                turn, next_owner = self._waiters.popleft()
                self._owner, self._depth = next_owner, 1
                turn.set()
            else:
                self._owner = None


class FairSlots:
    """At most `size` holders at once, granted in arrival order; a waiter gives up after its timeout.

    SQLAlchemy's pool lets a thread that just returned a connection take it back before the threads
    already waiting for one (they can starve under steady load); these slots, as many as the pool's
    connections, make every request wait its turn instead.
    """

    def __init__(self, size: int) -> None:
        self._guard = threading.Lock()
        self._free = size
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        """Take a slot, waiting at most `timeout` seconds; False if none came."""
        with self._guard:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over just as the wait ended
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        """Give the slot to the first in line, or back to the free ones."""
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._free += 1


# One set of slots per engine (as many as its pool's connections) and how long a request waits for one.
_connection_slots: weakref.WeakKeyDictionary[Engine, tuple[FairSlots, float]] = weakref.WeakKeyDictionary()

# One write lock per SQLite engine: the threads of one process queue on it in order instead of
# polling SQLite's busy handler (which sleeps longer and longer, up to 100 ms a try, and made the
# slowest registrations wait ~0.8 s at 16 concurrent writers). Other processes still queue on SQLite.
_sqlite_write_locks: weakref.WeakKeyDictionary[Engine, FifoLock] = weakref.WeakKeyDictionary()


# Connections per process, and how long a request waits for one before it is told to try again.
# Every process keeps at most `pool_size` connections (no overflow), so the sizing in docs/architecture.md
# (servers x pool size within max_connections) is a hard bound.
DEFAULT_POOL_SIZE = 10
DEFAULT_POOL_TIMEOUT_SECONDS = 10
# How long opening a PostgreSQL connection may take (libpq's connect_timeout; a `connect_timeout` in the URL wins).
# Without it a server that stops answering (a dropped route, a frozen host) holds each page for minutes of TCP
# retries instead of showing the outage page.
CONNECT_TIMEOUT_SECONDS = 5


def make_engine(
    database_url: str, pool_size: int = DEFAULT_POOL_SIZE, pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS
) -> Engine:
    """Create the engine with the settings each backend needs (pragmas, pool pre-ping, bounded pool)."""
    url = make_url(database_url)
    pool = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # The driver's own transaction handling is off (isolation_level=None) so that the
        # "begin" hook below decides how each transaction starts (SQLAlchemy's documented recipe).
        engine = create_engine(
            url,
            connect_args={"timeout": 15, "isolation_level": None, "check_same_thread": False},
            pool_pre_ping=True,
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            # FULL: a committed registration or answer survives a power cut (NORMAL may lose the last ones).
            cursor.execute("PRAGMA synchronous=FULL")
            # Erased personal data (delivered e-mails, purged applications...) is overwritten with zeros
            # instead of lingering in free space of the file; scrub_sqlite_wal() then empties the WAL.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # BEGIN IMMEDIATE takes the write lock up front, so a read-then-write transaction can
            # never fail half-way with "database is locked"; read-only work opts out (see read_only()).
            if connection.get_execution_options().get("pvd_read_only"):
                connection.exec_driver_sql("BEGIN")
                return
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except OperationalError as error:
                # Another process (a command, import-survey) held the file's write lock past the busy timeout:
                # nothing was begun, so nothing is written; said in French like the in-process lock's wait.
                if "locked" in str(error.orig) or "busy" in str(error.orig):
                    raise DomainError("database_busy") from error
                raise

        _sqlite_write_locks[engine] = FifoLock()
    else:
        connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        engine = create_engine(url, pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args, **pool)
    _connection_slots[engine] = (FairSlots(pool_size), pool_timeout)
    return engine


def engine_for(settings: Settings) -> Engine:
    """The engine of the configured database, with the configured pool."""
    return make_engine(settings.database_url, settings.db_pool_size, settings.db_pool_timeout_seconds)


def scrub_sqlite_wal(engine: Engine) -> None:
    """After erasing personal data on SQLite, copy the WAL into the file and empty it (best effort).

    Until a checkpoint, the WAL still holds the pages as they were before the erasure; TRUNCATE writes
    the current pages back (secure_delete has zeroed the erased bytes) and cuts the WAL to zero bytes.
    It has to wait for readers of older snapshots and holds back writers meanwhile, so it waits
    2 s at most; if it cannot finish, the old pages stay in the WAL until the next scrub. PostgreSQL
    keeps dead row versions until VACUUM instead (see docs/architecture.md): nothing to do here.
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        # The raw driver connection runs in autocommit (isolation_level=None): a checkpoint cannot run
        # inside a transaction, and the "begin" hook would open one.
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={_SCRUB_BUSY_TIMEOUT_MS}")
            try:
                busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            finally:
                cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
                cursor.close()
        finally:
            connection.close()
    except (sqlite3.Error, SQLAlchemyError):
        log.warning("SQLite WAL checkpoint failed; erased data stays in the WAL until the next one", exc_info=True)
        return
    if busy:
        log.warning("SQLite WAL checkpoint blocked by a reader; erased data stays in the WAL until the next one")


def dialect_insert(session: Session, table):
    """An INSERT of the session's database dialect, which offers ON CONFLICT (SQLite and PostgreSQL alike)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched: its result is a CursorResult, the only kind that counts them.

    Session.execute() is typed to return a plain Result; an UPDATE or DELETE with a WHERE clause runs on
    the cursor and returns a CursorResult. Any other result has no row count: asking for one is a bug.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"no row count on a {type(result).__name__}: only a statement run on the cursor has one")
    return result.rowcount


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory whose sessions keep loaded values readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def _engine_of(factory: sessionmaker[Session]) -> Engine:
    """The engine a session factory of make_session_factory() is bound to."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError(f"a session factory bound to an engine was expected, not to {bind!r}")
    return bind


@contextmanager
def _connection_turn(engine: Engine, deadline: float | None = None) -> Iterator[None]:
    """Wait for a connection in arrival order, at most the pool timeout; else `database_busy`, not a trace.

    More requests than connections wait their turn here; the one that waited too long gets
    `database_busy` (nothing was written: its transaction never began). The pool's own timeout
    (a connection taken outside these turns) ends the same way. `deadline` (time.monotonic()) shortens
    the wait for a request that already waited for something else (the SQLite write lock).
    """
    slots, timeout = _connection_slots.get(engine, (None, 0.0))
    if deadline is not None:
        timeout = max(0.0, min(timeout, deadline - time.monotonic()))
    if slots is not None and not slots.acquire(timeout):
        raise DomainError("database_busy")
    try:
        yield
    except PoolTimeoutError as error:
        raise DomainError("database_busy") from error
    finally:
        if slots is not None:
            slots.release()


@contextmanager
def _write_turn(engine: Engine) -> Iterator[float | None]:
    """On SQLite, this process's write lock, waited for at most the pool timeout (else `database_busy`).

    Yields the deadline the connection's wait must keep too, so that a write waits the pool timeout in all.
    """
    lock = _sqlite_write_locks.get(engine)
    if lock is None:
        yield None
        return
    _, timeout = _connection_slots.get(engine, (None, DEFAULT_POOL_TIMEOUT_SECONDS))
    deadline = time.monotonic() + timeout
    if not lock.acquire(timeout):
        raise DomainError("database_busy")
    try:
        yield deadline
    finally:
        lock.__exit__()


@contextmanager
def _unreachable_is_said() -> Iterator[None]:
    """A database that cannot be reached becomes `database_unreachable` (and a line in the log, once a minute).

    The one place where the driver's connection errors turn into a domain error: pages show the French outage
    page, the web routes a French message, the outbox thread tries again at its next pass. Any other error passes.
    """
    try:
        yield
    except SQLAlchemyError as error:
        if not is_unreachable(error):
            raise
        note_unreachable(error)
        raise DomainError("database_unreachable") from error
    outages.reachable()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    engine = _engine_of(factory)
    with (
        _unreachable_is_said(),
        _write_turn(engine) as deadline,
        _connection_turn(engine, deadline),
        factory.begin() as session,
    ):
        yield session


@contextmanager
def read_only(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only: on SQLite it does not take the write lock."""
    with _unreachable_is_said(), _connection_turn(_engine_of(factory)):
        session = factory()
        try:
            session.connection(execution_options={"pvd_read_only": True})
            yield session
        finally:
            session.rollback()
            session.close()


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic configuration pointing at `db/` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(DB_DIR))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


@functools.cache  # the migration files are the code's: reading them again cost each page test 0.1 s
def head_revision() -> str:
    """The newest migration shipped with the code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found in {DB_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None when empty)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """Serialise migrations between processes: advisory lock (PostgreSQL) or file lock (SQLite); yields the one
    connection the migration uses (on PostgreSQL the one holding the lock, so that a pool of one is enough)."""
    with _migration_thread_lock:
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY})
                connection.commit()
                try:
                    yield connection
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY})
                    connection.commit()
        else:
            database = engine.url.database or ":memory:"
            with open(database + ".lock" if database != ":memory:" else os.devnull, "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    with engine.connect() as connection:
                        yield connection
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _sqlite_path(engine: Engine) -> Path | None:
    """The file of a SQLite database (None for PostgreSQL or an in-memory database)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(str(engine.url.database))


def create_sqlite_file(engine: Engine) -> None:
    """Make a missing SQLite database file, readable by its owner only (connecting would make it 0644)."""
    path = _sqlite_path(engine)
    if path is None or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):  # another process made it first
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def check_database_exists(engine: Engine) -> None:
    """Refuse (SchemaMismatch) a SQLite file that does not exist, without making it."""
    path = _sqlite_path(engine)
    if path is not None and not path.exists():
        raise SchemaMismatch("database_missing", path=str(path))


def check_schema(engine: Engine) -> None:
    """Refuse (SchemaMismatch) a database that is missing, empty, older or newer than this code; changes nothing.

    Everything but `migrate` and the app's start calls this, so an upgrade never happens by accident (a command run
    from a newer checkout) and a typo in a SQLite path never creates a new, empty database.
    """
    check_database_exists(engine)  # first: connecting would create the file
    current, head = current_revision(engine), head_revision()
    if current is None:
        raise SchemaMismatch("schema_empty")
    if current not in _known_revisions():
        raise SchemaMismatch("schema_ahead", current=current, expected=head)
    if current != head:
        raise SchemaMismatch("schema_behind", current=current, expected=head)


def migrate(engine: Engine, secret_key: str | None = None) -> str:
    """Bring the schema to the newest migration; idempotent and safe when processes start together.

    `secret_key` (the settings' server key) is what migrations that move survey data need. A database already
    upgraded by newer code is refused (SchemaMismatch), never touched. A new SQLite file is made readable by its
    owner only, like the key file.
    """
    create_sqlite_file(engine)
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return head
    if current is not None and current not in _known_revisions():
        raise SchemaMismatch("schema_ahead", current=current, expected=head)
    with _migration_lock(engine) as connection:
        # Another process may have finished while we waited for the lock.
        done = MigrationContext.configure(connection).get_current_revision() == head
        connection.commit()  # (ends the read's transaction: the upgrade begins its own)
        if not done:
            config = alembic_config(engine)
            with connection.begin():
                config.attributes["connection"] = connection
                config.attributes["secret_key"] = secret_key
                command.upgrade(config, "head")
    return head
