"""The schema exists only through Alembic migrations: they build it from nothing and match the models."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

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
    from pvd_survey.survey import totals as totals_store

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

        # (0008 seals them: see the next test.) Ids random, the answers sealed, nothing of the old design left.
        columns = {column["name"] for column in inspect(engine).get_columns("survey_response")}
        assert columns == {"id", "respondent_ref", "sealed"}
        invitation_columns = {column["name"] for column in inspect(engine).get_columns("survey_invitation")}
        assert not invitation_columns & {"response_id", "draft", "draft_saved_at", "submitted_at", "opened_at"}
        with engine.connect() as connection:
            ids = connection.execute(text("SELECT id FROM survey_response")).scalars().all()
            assert len(ids) == 3 and all(len(i) == 32 and i not in ("1", "2", "3") for i in ids)
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
            figures = stats.survey_stats(session, stats.Filters(), k=3, settings=settings)
            epci = figures.figures["employer"].cells["epci"]
            assert abs(figures.respondents - 3) <= 2 and epci.suppressed  # everyone is epci: hidden
            records = survey.counted_records(session, settings)
            assert sorted(record.linked for record in records) == [False, True, True]
            totals = survey.current_totals(session, settings)
            respondents = totals_store.CELL_INDEX[(survey.RESPONDENTS, "")]
            key_sum = int(totals.keys[..., respondents].sum()) % 256
            assert key_sum == sum(record.record_key for record in records) % 256
            session.rollback()
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- 0007 -> 0008: the sealed survey

# Answers at 0007 in clear: (respondent, source, start_month, employer, gender, experience, diploma, training
# fields, department, record key). Values chosen so that none appears anywhere else in the database.
OLD_ANSWERS = [
    ("a", "invitation", "2020-07", "epci", "femme", "5to20", "bac4_5", "urbanisme_amenagement|architecture", "29", 17),
    ("b", "invitation", "2021-03", "commune", "homme", "lt1", "doctorat", "sciences_sociales", "971", 250),
    (None, "import", "2021-10", "autre", "autre", "gt20", "bac2_3", "", "2A", 3),
    (None, "import", "2022-02", "epci", None, None, "autre", "droit_gestion", None, 128),
    (None, "import", "2020-07", "epci", "femme", "1to5", "bac4_5", "environnement_ecologie_agronomie", "29", 77),
    (None, "import", None, None, None, None, None, "", None, 0),
]
CLEAR_VALUES = (b"2020-07", b"2021-03", b"2021-10", b"2022-02", b"epci", b"commune", b"urbanisme_amenagement")


def _old_record(row):
    from pvd_survey import survey
    from pvd_survey.survey_questions import Answers

    _, source, month, employer, gender, experience, diploma, fields, department, key = row
    answers = Answers(
        month, employer, gender, experience, diploma, tuple(fields.split("|")) if fields else (), department
    )
    return survey.CountedRecord(answers, key, source == "invitation")


def _write_0007_data(engine, settings, tokens):
    """What a 0007 database holds: answers and counts in clear, answer times on the invitations, a draft, a pool row."""
    import hashlib
    import json
    import secrets

    from pvd_survey.disclosure import KEY_SPACE
    from pvd_survey.survey.links import _encrypt, _refs
    from pvd_survey.survey.release import _answers_payload

    salts = {name: secrets.token_hex(32) for name in tokens}
    refs = {name: _refs(settings, salt) for name, salt in salts.items()}
    times = {  # (opened_at, submitted_at): the answer events 0008 must forget
        "a": ("2026-11-02 09:00:00", "2026-11-02 09:05:00"),
        "b": ("2026-11-03 10:00:00", "2026-11-03 10:07:00"),
        "c": ("2026-11-04 11:00:00", None),
        "d": ("2026-11-05 12:00:00", "2026-11-05 12:03:00"),
        "e": (None, None),
    }
    with engine.begin() as connection:
        for number, name in enumerate(tokens, start=1):
            connection.execute(
                text(
                    "INSERT INTO survey_invitation (id, email, department, token_hash, status, sent_count, created_at, "
                    "last_sent_at, opened_at, submitted_at, record_key, respondent_salt) VALUES (:id, :email, '35', "
                    ":hash, 'active', 1, '2026-11-01 08:00:00', '2026-11-01 08:00:00', :opened, :submitted, :key, "
                    ":salt)"
                ),
                {
                    "id": number,
                    "email": f"{name}@example.fr",
                    "hash": hashlib.sha256(tokens[name].encode()).hexdigest(),
                    "opened": times[name][0],
                    "submitted": times[name][1],
                    "key": 10 + number,
                    "salt": salts[name],
                },
            )
        for row in OLD_ANSWERS:
            respondent, source, month, employer, gender, experience, diploma, fields, department, key = row
            record = _old_record(row)
            connection.execute(
                text(
                    "INSERT INTO survey_response (id, source, respondent_ref, start_month, start_period, employer, "
                    "gender, experience, diploma, training_field, department, region, record_key) VALUES (:id, "
                    ":source, :ref, :month, :period, :employer, :gender, :experience, :diploma, :fields, "
                    ":department, :region, :key)"
                ),
                {
                    "id": secrets.token_hex(16),
                    "source": source,
                    "ref": refs[respondent].response if respondent else None,
                    "month": month,
                    "period": record.answers.start_period,
                    "employer": employer,
                    "gender": gender,
                    "experience": experience,
                    "diploma": diploma,
                    "fields": fields,
                    "department": department,
                    "region": record.answers.region,
                    "key": key,
                },
            )
        # The old pre-aggregated counts (the national cells of the respondents and of gender are enough here).
        national = {("_respondents", ""): [0, 0]}
        for row in OLD_ANSWERS:
            record = _old_record(row)
            for cell in (("_respondents", ""), ("gender", record.answers.gender or "")):
                national.setdefault(cell, [0, 0])
                national[cell][0] += 1
                national[cell][1] += record.record_key
        for (question, option), (count, key_sum) in national.items():
            connection.execute(
                text("INSERT INTO survey_count VALUES ('*', '*', '*', '*', :question, :option, :count, :key_sum)"),
                {"question": question, "option": option, "count": count, "key_sum": key_sum},
            )
        connection.execute(text("UPDATE survey_release SET released_at = '2026-11-03 10:07:00', groups = 1"))
        # A draft and a waiting change, sealed the 0007 way (no padding).
        draft = json.dumps({"employer": "commune", "training_field": ["architecture"]}, separators=(",", ":"))
        connection.execute(
            text("INSERT INTO survey_draft (ref, sealed) VALUES (:ref, :sealed)"),
            {"ref": refs["c"].draft, "sealed": _encrypt(settings, draft.encode(), refs["c"].draft.encode())},
        )
        waiting = _old_record(("d", "invitation", "2021-03", "epci", "femme", "lt1", "bac2_3", "autre", "21", 0))
        change = json.dumps({"ref": refs["d"].response, "answers": _answers_payload(waiting.answers)})
        connection.execute(
            text("INSERT INTO survey_pool (ref, sealed) VALUES (:ref, :sealed)"),
            {"ref": refs["d"].pool, "sealed": _encrypt(settings, change.encode(), refs["d"].pool.encode())},
        )
    return refs, {cell: (count, key_sum % KEY_SPACE) for cell, (count, key_sum) in national.items()}


def _stored_bytes(engine, url: str) -> bytes:
    """What a copy of the answers' side holds, byte for byte: the tables' files (PostgreSQL), or the whole file."""
    if TEST_BACKEND == "sqlite":
        from pathlib import Path

        from tests.conftest import file_bytes_from_another_process

        db.scrub_sqlite_wal(engine)
        database = Path(make_url(url).database)
        stored = file_bytes_from_another_process(database) + file_bytes_from_another_process(
            database.with_name(database.name + "-wal")
        )
        with engine.connect() as connection:  # the schema itself names codes (e.g. organisation kinds)
            schema = connection.execute(text("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")).scalars().all()
        for statement in schema:
            stored = stored.replace(statement.encode(), b"")
        return stored
    with engine.connect() as connection:
        connection.execute(text("CHECKPOINT"))
        files = (
            connection.execute(
                text(
                    "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relname IN ('survey_response', "
                    "'survey_release') OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relname IN "
                    "('survey_response', 'survey_release'))"
                )
            )
            .scalars()
            .all()
        )
        assert len(files) >= 3  # both tables and a TOAST table
        return b"".join(
            connection.execute(text("SELECT pg_read_binary_file(:path)"), {"path": path}).scalar() for path in files
        )


def test_upgrade_from_0007_seals_answers_and_counts_and_forgets_answer_times(empty_database_url, settings):
    from collections import Counter
    from datetime import date

    from alembic import command
    from sqlalchemy.orm import Session

    from pvd_survey import stats, survey
    from pvd_survey.models import SurveyResponse
    from pvd_survey.survey import totals as totals_store

    engine = db.make_engine(empty_database_url)
    try:
        command.upgrade(db.alembic_config(engine), "0007")
        tokens = {name: f"jeton-{name}-{uuid.uuid4().hex}" for name in "abcde"}
        refs, old_counts = _write_0007_data(engine, settings, tokens)

        assert db.migrate(engine, settings.secret_key) == db.head_revision()

        tables = set(inspect(engine).get_table_names())
        assert "survey_count" not in tables and {"survey_release_log", "survey_reminder"} <= tables
        invitation_columns = {column["name"] for column in inspect(engine).get_columns("survey_invitation")}
        assert not invitation_columns & {"opened_at", "submitted_at"}
        assert {column["name"] for column in inspect(engine).get_columns("survey_response")} == {
            "id",
            "respondent_ref",
            "sealed",
        }
        today = date(2026, 11, 22)
        with Session(engine) as session:
            # Every answer, with its record key and whether it came through a link, and nothing else.
            records = survey.counted_records(session, settings)
            assert Counter(map(repr, records)) == Counter(repr(_old_record(row)) for row in OLD_ANSWERS)
            stored_refs = set(session.scalars(select(SurveyResponse.respondent_ref)))
            assert stored_refs == {refs["a"].response, refs["b"].response, None}
            # The figures are those of the old counts: the same cells, the same keys, so the same noise.
            totals = survey.current_totals(session, settings)
            for (question, option), (count, key_sum) in old_counts.items():
                cell = totals_store.CELL_INDEX[(question, option)]
                assert (int(totals.counts[..., cell].sum()), int(totals.keys[..., cell].sum()) % 256) == (
                    count,
                    key_sum,
                )
            expected = survey.Totals.empty()
            for row in OLD_ANSWERS:
                record = _old_record(row)
                expected.add(record.answers, record.record_key, record.linked)
            for filters in (stats.Filters(), stats.Filters(region="53"), stats.Filters(employer="epci")):
                assert stats.survey_stats(session, filters, k=2, today=today, settings=settings) == (
                    stats.stats_of_totals(expected, filters, 2, today)
                )
            # Every link still opens its person's answers, draft and waiting change.
            first = survey.open_survey(session, tokens["a"], settings)
            assert first.submitted and not first.pending and first.form["start_month"] == "2020-07"
            assert survey.open_survey(session, tokens["b"], settings).form["gender"] == "homme"
            drafting = survey.open_survey(session, tokens["c"], settings)
            assert drafting.has_draft and drafting.form == {"employer": "commune", "training_field": ["architecture"]}
            waiting = survey.open_survey(session, tokens["d"], settings)
            assert waiting.submitted and waiting.pending and waiting.form["department"] == "21"
            assert survey.open_survey(session, tokens["e"], settings).form == {}
            session.rollback()
        with engine.connect() as connection:
            sealed_rows = connection.execute(text("SELECT * FROM survey_response")).all()
            release_rows = connection.execute(text("SELECT * FROM survey_release")).all()
            # Drafts and waiting changes sealed at 0007 (sizes that followed their content) now have one size each.
            for table, kind in (("survey_draft", "draft"), ("survey_pool", "pool")):
                sizes = set(connection.execute(text(f"SELECT length(sealed) FROM {table}")).scalars())
                assert sizes == {12 + 16 + survey.links.SEALED_SIZES[kind]}, (table, sizes)
            invitation_versions = (
                connection.execute(text("SELECT DISTINCT xmin::text FROM survey_invitation")).scalars().all()
                if TEST_BACKEND == "postgresql"
                else []
            )
        # No answer value in clear on the answers' side: not in a column, not in a sealed value ...
        departments = {row[8] for row in OLD_ANSWERS if row[8]}
        for row in [*sealed_rows, *release_rows]:
            for value in row:
                assert value not in departments
                if isinstance(value, bytes | str):
                    raw = value if isinstance(value, bytes) else value.encode()
                    assert not any(clear in raw for clear in CLEAR_VALUES), row
                    assert not any(f'"{code}"'.encode() in raw for code in departments), row
        # ... nor anywhere in the stored bytes of those tables (dropped tables' pages included on SQLite).
        stored = _stored_bytes(engine, empty_database_url)
        assert stored and not [clear for clear in CLEAR_VALUES if clear in stored]
        if TEST_BACKEND == "postgresql":
            # One transaction wrote every invitation row again: none keeps the id of an old submission's.
            assert len(invitation_versions) == 1
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- 0009 -> 0010: CHECKs on stored codes


def test_upgrade_to_0010_checks_codes_and_keeps_rows_that_others_point_at(empty_database_url):
    """On SQLite the CHECKs rebuild job_posting, which applications point at: rows and links survive, both ways."""
    from alembic import command

    engine = db.make_engine(empty_database_url)
    statements = (
        "INSERT INTO organisation (id, name, kind, department, created_at) "
        "VALUES (1, 'Commune de Montbard', 'commune', '21', '2026-11-01')",
        "INSERT INTO job_posting (id, organisation_id, title, employer_kind, department, region, communes, contract, "
        "working_time, deadline, description, missions, anah_opah_ru, status, created_at, updated_at) VALUES (5, 1, "
        "'Chef de projet', 'commune', '21', '27', 'Montbard', 'cdd', 'partiel', '2027-01-01', '', '', false, "
        "'published', '2026-11-01', '2026-11-01')",
        "INSERT INTO job_application (id, posting_id, reference, token_hash, consent_contact, status, created_at, "
        "updated_at, last_contact_at, record_key) VALUES (7, 5, 'C1', 'h', false, 'recue', '2026-11-02', "
        "'2026-11-02', '2026-11-02', 3)",
        "INSERT INTO meeting (id, title, kind, city, venue, starts_at, ends_at, capacity, confirmed_count, arrivals, "
        "last_seat_arrival, revision, registration_opens_at, registration_closes_at, audiences, description, "
        "created_at, updated_at) VALUES (2, 'Atelier', 'atelier', 'Dijon', '', '2027-01-02 10:00', "
        "'2027-01-02 12:00', 10, 0, 1, 0, 0, '2026-11-01', '2027-01-01', 'elu', '', '2026-11-01', '2026-11-01')",
        "INSERT INTO registration (id, meeting_id, arrival, status, email, full_name, attendee_role, organisation, "
        "needs, reference, consented_at, created_at, cancelled_by, record_key) VALUES (3, 2, 1, 'cancelled', "
        "'x@example.fr', 'X', 'elu', '', '', 'R1', '2026-11-01', '2026-11-01', 'participant', 4)",
    )
    rows = (
        "SELECT id, working_time, employer_kind FROM job_posting",
        "SELECT id, posting_id FROM job_application",
        "SELECT id, cancelled_by FROM registration",
    )
    try:
        command.upgrade(db.alembic_config(engine), "0009")
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
        indexes = {table: inspect(engine).get_indexes(table) for table in ("job_posting", "registration")}

        command.upgrade(db.alembic_config(engine), "0010")  # (0013 adds an index of its own to registration)
        with engine.connect() as connection:
            assert [connection.execute(text(query)).all() for query in rows] == [
                [(5, "partiel", "commune")],
                [(7, 5)],
                [(3, "participant")],
            ]
        assert {table: inspect(engine).get_indexes(table) for table in indexes} == indexes
        for statement in (
            "UPDATE job_posting SET working_time = 'mi-temps'",
            "UPDATE job_posting SET employer_kind = 'syndicat'",
            "UPDATE registration SET cancelled_by = 'robot'",
            "DELETE FROM job_posting",  # the application still points at it
        ):
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(text(statement))

        command.downgrade(db.alembic_config(engine), "0009")
        with engine.connect() as connection:
            assert [connection.execute(text(query)).all() for query in rows][1] == [(7, 5)]
        with engine.begin() as connection:
            connection.execute(text("UPDATE job_posting SET working_time = 'mi-temps'"))
    finally:
        engine.dispose()


def test_only_migrate_changes_the_schema_other_commands_refuse_a_database_not_at_theirs(empty_database_url):
    """An upgrade never happens by accident (`stats` run from a newer checkout), nor a downgrade, nor a new file."""
    from alembic import command

    from tests.factories import run_cli

    def refused(expected: str) -> None:
        result = run_cli(empty_database_url, "stats")
        assert result.returncode == 4, result.stderr
        assert expected in result.stderr and "Traceback" not in result.stderr

    sqlite_file = Path(make_url(empty_database_url).database or "") if TEST_BACKEND == "sqlite" else None
    if sqlite_file is not None:
        # A typo in a SQLite path: named, and no new empty database made.
        refused(f"Aucune base de données à l'emplacement {sqlite_file}")
        assert not sqlite_file.exists()
    else:
        refused("La base de données est vide")
    engine = db.make_engine(empty_database_url)
    try:
        head = db.head_revision()
        previous = next(s.down_revision for s in db.ScriptDirectory.from_config(db.alembic_config()).walk_revisions())
        if sqlite_file is not None:
            assert run_cli(empty_database_url, "migrate").returncode == 0  # made owner-only, like the key file
            assert sqlite_file.stat().st_mode & 0o777 == 0o600
            command.downgrade(db.alembic_config(engine), str(previous))
        else:
            command.upgrade(db.alembic_config(engine), str(previous))
        refused(f"La base de données est à la version {previous} du schéma et ce code attend la version {head}")
        assert db.current_revision(engine) == previous
        assert run_cli(empty_database_url, "migrate").returncode == 0
        assert db.current_revision(engine) == head
        assert run_cli(empty_database_url, "stats").returncode == 0

        # Code older than its database: says so, without a trace, and `migrate` does not touch it either.
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
        refused("version 0099_future du schéma, plus récente que ce code")
        result = run_cli(empty_database_url, "migrate")
        assert result.returncode == 4 and "plus récente que ce code" in result.stderr
        assert db.current_revision(engine) == "0099_future"
    finally:
        engine.dispose()


def test_a_pool_of_one_connection_is_enough_to_migrate(empty_database_url):
    """PVD_DB_POOL_SIZE=1: on PostgreSQL the lock's connection runs the upgrade (a second one would never come)."""
    engine = db.make_engine(empty_database_url, pool_size=1, pool_timeout=5)
    try:
        assert db.migrate(engine) == db.head_revision()
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_upgrade_to_0013_gives_every_live_registration_its_ticket(empty_database_url, settings):
    """Registrations made before tickets existed get one: their code (made from the key) scans at the door."""
    from alembic import command

    from pvd_survey.meetings import tickets

    engine = db.make_engine(empty_database_url)
    statements = (
        "INSERT INTO meeting (id, title, kind, city, venue, starts_at, ends_at, capacity, confirmed_count, arrivals, "
        "last_seat_arrival, revision, registration_opens_at, registration_closes_at, audiences, description, "
        "created_at, updated_at) VALUES (2, 'Atelier', 'atelier', 'Dijon', '', '2027-01-02 10:00', "
        "'2027-01-02 12:00', 10, 1, 2, 1, 0, '2026-11-01', '2027-01-01', 'elu', '', '2026-11-01', '2026-11-01')",
        "INSERT INTO registration (id, meeting_id, arrival, status, email, full_name, attendee_role, organisation, "
        "needs, reference, consented_at, created_at, record_key) VALUES (3, 2, 1, 'confirmed', "
        "'x@example.fr', 'X', 'elu', '', '', 'RV-AAAA2222', '2026-11-01', '2026-11-01', 4)",
        "INSERT INTO registration (id, meeting_id, arrival, status, email, full_name, attendee_role, organisation, "
        "needs, reference, consented_at, created_at, record_key, anonymised_at) VALUES (4, 2, 2, 'cancelled', "
        "NULL, '', 'elu', '', '', 'RV-BBBB3333', '2025-11-01', '2025-11-01', 5, '2026-11-01')",
    )
    try:
        command.upgrade(db.alembic_config(engine), "0012")
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
        assert db.migrate(engine, settings.secret_key) == db.head_revision()
        with engine.connect() as connection:
            hashes = dict(connection.execute(text("SELECT id, ticket_hash FROM registration ORDER BY id")).all())
        code = tickets.ticket_code(settings.secret_key, 2, "RV-AAAA2222")
        assert hashes == {3: tickets.links.token_hash(code), 4: None}  # an anonymised one names nobody: none
        arguments = "SELECT pronargs FROM pg_proc WHERE proname = 'pvd_register'"
        if TEST_BACKEND == "postgresql":  # the registration function takes the ticket's hash, then no longer
            with engine.connect() as connection:
                assert connection.execute(text(arguments)).scalar_one() == 23
        command.downgrade(db.alembic_config(engine), "0012")
        if TEST_BACKEND == "postgresql":
            with engine.connect() as connection:
                assert connection.execute(text(arguments)).scalar_one() == 22
        assert "ticket_hash" not in {column["name"] for column in inspect(engine).get_columns("registration")}
        assert "door_pass" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_0014_keeps_registrations_and_a_downgrade_confirms_a_running_offer(empty_database_url):
    """Upgraded: the rows stay, and the database refuses an 'offered' registration without a deadline. Downgraded:
    a running offer's person keeps the place it held (counted in the seat counter), confirmed."""
    from alembic import command

    engine = db.make_engine(empty_database_url)
    try:
        command.upgrade(db.alembic_config(engine), "0013")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO meeting (id, title, kind, city, venue, starts_at, ends_at, capacity, confirmed_count, "
                    "arrivals, last_seat_arrival, revision, registration_opens_at, registration_closes_at, audiences, "
                    "description, created_at, updated_at) VALUES (2, 'Atelier', 'atelier', 'Dijon', '', "
                    "'2027-01-02 10:00', '2027-01-02 12:00', 1, 1, 2, 1, 0, '2026-11-01', '2027-01-01', 'elu', '', "
                    "'2026-11-01', '2026-11-01')"
                )
            )
            for number, status in ((1, "cancelled"), (2, "waiting")):
                connection.execute(
                    text(
                        "INSERT INTO registration (id, meeting_id, arrival, status, email, full_name, attendee_role, "
                        "organisation, needs, reference, consented_at, created_at, record_key) VALUES "
                        f"({number}, 2, {number}, '{status}', 'p{number}@example.fr', 'P', 'elu', '', '', "
                        f"'RV-{number}', '2026-11-01', '2026-11-01', 4)"
                    )
                )
        assert db.migrate(engine) == db.head_revision()
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE registration SET status = 'offered' WHERE id = 2"))
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE registration SET status = 'offered', offered_at = '2026-12-07 10:00', "
                    "offer_expires_at = '2026-12-08 10:00' WHERE id = 2"
                )
            )
        command.downgrade(db.alembic_config(engine), "0013")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status, confirmed_at FROM registration ORDER BY id")).all()
        assert [(row[0], row[1]) for row in rows] == [(1, "cancelled"), (2, "confirmed")]
        assert str(rows[1][2]).startswith("2026-12-07 10:00")
        assert "offer_expires_at" not in {column["name"] for column in inspect(engine).get_columns("registration")}
        assert db.migrate(engine) == db.head_revision()  # and up again
    finally:
        engine.dispose()
