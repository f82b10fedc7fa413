"""The schema exists only through Alembic migrations: they build it from nothing and match the models."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from pvd_survey import db
from pvd_survey.models import Base
from tests.conftest import PG_ADMIN_URL, TEST_BACKEND


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:
    """A database with nothing in it, of the backend under test."""
    if TEST_BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"pvd_test_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_head_on_empty_database_creates_every_table(empty_database_url):
    engine = db.make_engine(empty_database_url)
    try:
        assert db.current_revision(engine) is None
        assert db.migrate(engine) == db.head_revision()
        assert db.current_revision(engine) == db.head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        # Idempotent: a second start changes nothing.
        assert db.migrate(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_database_url):
    engine = db.make_engine(empty_database_url)
    try:
        db.migrate(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == [], f"models and migrations differ; write a migration: {differences}"
    finally:
        engine.dispose()


def test_downgrade_to_base_then_up_again(empty_database_url):
    from alembic import command

    engine = db.make_engine(empty_database_url)
    try:
        db.migrate(engine)
        config = db.alembic_config(engine)
        command.downgrade(config, "base")
        assert db.current_revision(engine) is None
        assert db.migrate(engine) == db.head_revision()
    finally:
        engine.dispose()


def _migrate_in_process(url: str, queue) -> None:
    try:
        engine = db.make_engine(url)
        queue.put(db.migrate(engine))
        engine.dispose()
    except Exception as error:
        queue.put(f"error: {error!r}")


def test_two_processes_starting_together_both_succeed(empty_database_url):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_migrate_in_process, args=(empty_database_url, queue)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    results = [queue.get(timeout=5) for _ in processes]
    assert results == [db.head_revision()] * 3
    engine = db.make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_busy_timeout_and_secure_delete(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'pragmas.sqlite3'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()


def test_scrub_empties_the_sqlite_wal_and_waits_briefly_for_an_old_reader(tmp_path, caplog):
    path = tmp_path / "scrub.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    wal = tmp_path / "scrub.sqlite3-wal"
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE note (body TEXT)")
            connection.exec_driver_sql("INSERT INTO note VALUES ('avant')")
        with engine.connect().execution_options(pvd_read_only=True) as reader:
            reader.exec_driver_sql("SELECT count(*) FROM note").scalar()  # a snapshot before the next write
            with engine.begin() as connection:
                connection.exec_driver_sql("INSERT INTO note VALUES ('après')")
            started = time.monotonic()
            db.scrub_sqlite_wal(engine)  # cannot finish while the reader holds its snapshot
            assert time.monotonic() - started < 5
            assert "blocked by a reader" in caplog.text
            assert wal.stat().st_size > 0
        db.scrub_sqlite_wal(engine)
        assert wal.stat().st_size == 0
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000  # restored
    finally:
        engine.dispose()


if TEST_BACKEND == "postgresql":

    def test_pool_survives_a_database_restart(engine):
        """Connections killed by a server restart are replaced transparently (pool pre-ping)."""
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            killed = connection.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name"),
                {"name": engine.url.database},
            ).scalar()
        admin.dispose()
        assert killed >= 1
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
