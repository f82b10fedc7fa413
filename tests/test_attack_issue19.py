"""Attacks on issue 19 (integrity at the edges), written by an adversary: each defect found is fixed and its test
kept; attacks that failed are kept for their coverage."""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from starlette.requests import Request

from pvd_survey import accounts, db, privacy, recruitment, web
from pvd_survey.cli import commands
from pvd_survey.clock import paris_today, utcnow
from pvd_survey.errors import DomainError
from pvd_survey.models import JobPosting, LoginThrottle
from pvd_survey.recruitment import Upload
from tests.conftest import TEST_BACKEND
from tests.factories import PDF, World, application_input, make_world, published, run_cli
from tests.test_cli import GOOD_ROW, SURVEY_HEADER, responses_in

# ---------------------------------------------------------------------------- import-survey


def test_import_refuses_a_fifo_instead_of_waiting_for_a_writer_forever(database_url, tmp_path):
    # open() of a FIFO blocks until someone opens it for writing: the command hung before its S_ISREG check.
    fifo = tmp_path / "reponses.csv"
    os.mkfifo(fifo)
    outcome: list[object] = []

    def open_it() -> None:
        try:
            outcome.append(commands._open_import_file(str(fifo)))
        except Exception as error:
            outcome.append(error)

    opener = threading.Thread(target=open_it, daemon=True)
    opener.start()
    opener.join(timeout=5)
    if opener.is_alive():  # unblock it (a writer appears) before failing
        with open(fifo, "wb"):
            pass
        opener.join()
        pytest.fail("opening a FIFO waited for a writer")
    assert outcome and getattr(outcome[0], "code", None) == "import_file_not_file", outcome
    # And through the command, for a symlink to a FIFO and to /dev/zero: exit 2, a French sentence.
    for target in (fifo, Path("/dev/zero")):
        link = tmp_path / f"lien-{target.name}.csv"
        link.symlink_to(target)
        result = run_cli(database_url, "import-survey", str(link))
        assert result.returncode == 2 and "n'est pas un fichier" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        # Old Mac line ends: the header line holds a bare CR, which the CSV reader refuses.
        ((SURVEY_HEADER.strip() + "\r" + GOOD_ROW.strip() + "\r").encode(), "row_bad_csv"),
        # A header cell past the CSV reader's field limit.
        (b"x" * 200_000 + b"\n" + GOOD_ROW.encode(), "row_field_too_long"),
    ],
)
def test_a_broken_header_line_is_a_french_refusal_with_its_line_not_a_traceback(
    factory, database_url, tmp_path, content, reason
):
    source = tmp_path / "reponses.csv"
    source.write_bytes(content)
    result = run_cli(database_url, "import-survey", str(source))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1 and "ligne 1" in result.stderr, result.stderr
    assert responses_in(factory) == 0


# ---------------------------------------------------------------------------- login throttle


def _throttled_emails(factory) -> set[str]:
    with db.read_only(factory) as session:
        return set(session.scalars(select(LoginThrottle.email)))


def test_unknown_emails_tried_at_sign_in_do_not_stay_in_the_throttle_table_for_ever(factory, settings):
    # Every attempt reserves a turn on its e-mail's row, known or not: a spray of made-up (or mistyped: personal
    # data) addresses left one row each, which nothing ever deleted.
    now = utcnow()
    for n in range(3):
        assert accounts.authenticate(factory, f"Inconnu{n}@Example.fr ", "wrong password!!", settings, now).error
    for _ in range(settings.login_max_failures):
        accounts.authenticate(factory, "verrou@example.fr", "wrong password!!", settings, now)
    assert _throttled_emails(factory) == {f"inconnu{n}@example.fr" for n in range(3)} | {"verrou@example.fr"}
    with db.transaction(factory) as session:  # within the lock: nothing goes
        assert privacy.purge(session, settings, now + timedelta(minutes=1)) == []
    a_day_later = now + timedelta(days=1, minutes=1)
    with db.transaction(factory) as session:
        purged = privacy.purge(session, settings, a_day_later)
    assert {item.description for item in purged} >= {f"inconnu{n}@example.fr" for n in range(3)}
    assert _throttled_emails(factory) == set()
    # Forgotten means a fresh count: the next wrong password is the first of five again.
    assert accounts.authenticate(
        factory, "verrou@example.fr", "wrong password!!", settings, a_day_later
    ).error.code == ("bad_credentials")


# ---------------------------------------------------------------------------- applications against the close


def _application_to_a_fresh_posting(factory, settings) -> tuple[World, int, str]:
    with db.transaction(factory) as session:
        world = make_world(session, settings)
        posting_id = published(session, world.users["recruteur"])
        token = recruitment.apply(session, posting_id, application_input(), settings).token
    return world, posting_id, token


def _cv(factory, token: str) -> str:
    with db.read_only(factory) as session:
        return dict(recruitment.candidate_view(session, token).files)["cv"]


def test_an_application_cannot_be_changed_after_the_deadline_before_the_posting_is_closed(factory, settings):
    # New applications stop at the deadline (the board's rule), but changes only checked the status, which the
    # background work sets later (its next pass, or the cron's purge): a CV replaced after the deadline.
    _world, posting_id, token = _application_to_a_fresh_posting(factory, settings)
    with db.transaction(factory) as session:
        session.get_one(JobPosting, posting_id).deadline = paris_today() - timedelta(days=1)
    with db.transaction(factory) as session, pytest.raises(DomainError) as refused:
        recruitment.update_by_token(session, token, cv=Upload("nouveau.pdf", PDF))
    assert refused.value.code == "posting_not_public"
    assert _cv(factory, token) == "cv-lea.pdf"


def test_a_change_to_an_application_waits_for_a_close_under_way_and_is_refused_after_it(factory, settings):
    # (An attack that failed.) The close holds the posting's row lock until it commits, and the application's,
    # since it stamps the applicants it tells: a change waits for it, then sees the posting closed (PostgreSQL;
    # SQLite's write lock runs them one after the other).
    world, posting_id, token = _application_to_a_fresh_posting(factory, settings)
    outcome: list[str] = []
    with db.transaction(factory) as closing:
        recruitment.close_posting(closing, world.users["recruteur"], posting_id, settings)

        def change() -> None:
            try:
                with db.transaction(factory) as session:
                    recruitment.update_by_token(session, token, cv=Upload("nouveau.pdf", PDF))
                outcome.append("stored")
            except DomainError as error:
                outcome.append(error.code)

        changer = threading.Thread(target=change)
        changer.start()
        if TEST_BACKEND == "postgresql":
            waiting = text("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'job_posting'::regclass")
            with db.read_only(factory) as watcher:
                for _ in range(2000):  # until the change waits for the close's lock (or has finished: the defect)
                    if outcome or watcher.execute(waiting).scalar():
                        break
                    watcher.rollback()
    changer.join()
    assert outcome == ["posting_not_public"]
    assert _cv(factory, token) == "cv-lea.pdf"


# ---------------------------------------------------------------------------- SQLite's write lock


@pytest.mark.database_independent
def test_a_write_held_up_by_another_process_past_the_busy_timeout_is_database_busy(tmp_path, monkeypatch):
    # The in-process write lock gives database_busy; another process's write (import-survey, purge, send-mail)
    # made BEGIN IMMEDIATE fail after the busy timeout with sqlite3's "database is locked": a stack trace.
    monkeypatch.setattr(db, "_SQLITE_BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "verrou.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}", pool_size=2, pool_timeout=1)
    factory = db.make_session_factory(engine)
    with db.transaction(factory) as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing
        with pytest.raises(DomainError) as busy, db.transaction(factory) as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
        assert busy.value.code == "database_busy"
        with db.read_only(factory) as session:  # a reader does not wait for any writer
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        other.execute("ROLLBACK")
        with db.transaction(factory) as session:  # and nothing was left half-way: the next write goes through
            session.execute(text("INSERT INTO t VALUES (2)"))
        with db.read_only(factory) as session:
            assert list(session.execute(text("SELECT n FROM t")).scalars()) == [2]
    finally:
        other.close()
        engine.dispose()


# ---------------------------------------------------------------------------- sign-out's origin check


def _post(headers: dict[str, str]) -> Request:
    raw = [(key.encode(), value.encode()) for key, value in headers.items()]
    return Request(
        {"type": "http", "method": "POST", "scheme": "http", "path": "/", "headers": raw, "query_string": b""}
    )


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("headers", "own"),
    [
        ({"host": "pvd.test:8501", "origin": "http://pvd.test:8501"}, True),
        ({"host": "PVD.TEST", "origin": "http://pvd.test"}, True),  # host names have no case
        ({"host": "[::1]:8501", "origin": "http://[::1]:8501"}, True),
        ({"host": "pvd.test", "referer": "http://pvd.test/compte"}, True),  # no Origin: its Referer
        ({"host": "pvd.test", "origin": "null"}, False),  # a sandboxed frame, a form under no-referrer
        ({"host": "pvd.test", "origin": "http://evil.pvd.test"}, False),  # a subdomain is another site
        ({"host": "pvd.test", "origin": "http://pvd.test:8080"}, False),  # another port too
        ({"host": "pvd.test", "origin": "https://pvd.test"}, False),  # and another scheme
        ({"host": "pvd.test", "origin": "http://pvd.test."}, False),  # the trailing dot: another origin
        ({"host": "[::1]:8501", "origin": "http://[::2]:8501"}, False),
        ({"host": "pvd.test", "origin": "http://pvd.test@evil.test"}, False),
        ({"host": "pvd.test", "origin": "http://pvd.test\\@evil.test"}, False),
        ({"host": "pvd.test", "origin": "http://pvd.test http://evil.test"}, False),
        ({"host": "pvd.test", "origin": ""}, False),
        ({"host": "pvd.test", "referer": "http://evil.test/?http://pvd.test/"}, False),
        ({"host": "pvd.test", "referer": "http://pvd.test@evil.test/"}, False),
        ({"host": "pvd.test"}, False),  # neither: refused
    ],
)
def test_sign_out_accepts_only_the_apps_own_origin(headers, own):
    # (Attacks that failed.) X-Forwarded-Host is not among them on purpose: a page of another site cannot make a
    # browser send it (a cross-site request with a custom header needs a CORS preflight, which the app never
    # grants), and a client that can send it has no victim's cookie to sign out.
    assert web.from_own_page(_post(headers)) is own
