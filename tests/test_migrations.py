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


def test_upgrade_from_0004_unlinks_survey_answers_and_keeps_every_link_working(empty_database_url, settings):
    """Data written by the previous design moves to the unlinkable one: links, drafts and answers all survive."""
    import hashlib
    import json

    from alembic import command
    from sqlalchemy.orm import Session

    from pvd_survey import stats, survey

    engine = db.make_engine(empty_database_url)
    try:
        command.upgrade(db.alembic_config(engine), "0004")
        tokens = {n: f"jeton-{n}-{uuid.uuid4().hex}" for n in (1, 2, 3, 4)}
        answers = "'2021-09', '2021-S2', 'epci', '{gender}', '5to20', 'bac4_5', 'architecture', '21', '27'"
        draft = {"employer": "commune", "training_field": ["autre"]}
        with engine.begin() as connection:
            for number, gender, source in (
                (1, "femme", "invitation"),
                (2, "homme", "invitation"),
                (3, "autre", "import"),
            ):
                connection.execute(
                    text(
                        "INSERT INTO survey_response (id, source, start_month, start_period, employer, gender, "
                        "experience, diploma, training_field, department, region, submitted_at, updated_at) "
                        f"VALUES ({number}, '{source}', {answers.format(gender=gender)}, "
                        "'2026-11-02 10:11:12', '2026-11-02 10:11:12')"
                    )
                )
            for number, response_id, saved_draft in ((1, 1, draft), (2, 2, None), (3, None, draft), (4, None, None)):
                connection.execute(
                    text(
                        "INSERT INTO survey_invitation (id, email, token_hash, status, sent_count, created_at, "
                        "last_sent_at, submitted_at, draft, response_id) VALUES (:id, :email, :hash, 'active', 1, "
                        "'2026-11-01', '2026-11-01', :submitted, :draft, :response)"
                    ),
                    {
                        "id": number,
                        "email": f"cp{number}@example.fr",
                        "hash": hashlib.sha256(tokens[number].encode()).hexdigest(),
                        "submitted": "2026-11-02 10:11:12" if response_id else None,
                        "draft": json.dumps(saved_draft) if saved_draft else None,
                        "response": response_id,
                    },
                )

        assert db.migrate(engine, settings.secret_key) == db.head_revision()

        columns = {column["name"] for column in inspect(engine).get_columns("survey_response")}
        assert not columns & {"submitted_at", "updated_at"} and "record_key" in columns
        invitation_columns = {column["name"] for column in inspect(engine).get_columns("survey_invitation")}
        assert not invitation_columns & {"response_id", "draft", "draft_saved_at"}
        with engine.connect() as connection:
            ids = connection.execute(text("SELECT id, record_key FROM survey_response")).all()
            assert len(ids) == 3 and all(len(i) == 32 and i not in ("1", "2", "3") and 0 <= key < 256 for i, key in ids)
            assert (
                connection.execute(text("SELECT count(DISTINCT respondent_salt) FROM survey_invitation")).scalar() == 4
            )
        with Session(engine) as session:
            first = survey.open_survey(session, tokens[1], settings)
            assert first.has_draft and first.submitted and first.form == draft  # the draft wins, as before
            second = survey.open_survey(session, tokens[2], settings)
            assert second.submitted and second.form["gender"] == "homme"
            third = survey.open_survey(session, tokens[3], settings)
            assert third.form == draft and not third.submitted
            assert survey.open_survey(session, tokens[4], settings).form == {}
            # Counts were rebuilt, with their cell keys.
            figures = stats.survey_stats(session, stats.Filters(), k=3)
            epci = figures.figures["employer"].cells["epci"]
            assert abs(figures.respondents - 3) <= 2 and epci.suppressed  # everyone is epci: hidden
            (key_sum,) = session.execute(
                text(
                    "SELECT key_sum FROM survey_count WHERE question = '_respondents' "
                    "AND region = '*' AND department = '*' AND employer = '*' "
                    "AND start_period = '*'"
                )
            ).one()
            keys = session.execute(text("SELECT sum(record_key) FROM survey_response")).scalar()
            assert key_sum == keys
            session.rollback()
    finally:
        engine.dispose()
