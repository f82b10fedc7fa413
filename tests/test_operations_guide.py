"""The operator's guide (docs/exploitation.md): its backup and restore steps, run as written by bash, on the database
under test. What comes back is the same data, opened by the same key kept apart, and another key is refused."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from pvd_survey import accounts, db, survey
from pvd_survey.config import Settings
from pvd_survey.models import User
from tests.conftest import PG_ADMIN_URL, PROJECT_ROOT, STRONG_PASSWORD, TEST_BACKEND
from tests.factories import Run, invite_one, load_survey, run_cli

GUIDE = PROJECT_ROOT / "docs" / "exploitation.md"


def guide_block(name: str) -> str:
    """The shell block of the guide whose fence is ```bash NAME."""
    blocks = dict(re.findall(r"```bash ([\w-]+)\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S))
    return blocks[name]


def shell_environment(database_url: str, key: str, **places: str) -> dict[str, str]:
    """An operator's shell: the app's configuration, `python` the interpreter of the tests, the guide's variables."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PVD_")}
    environment.update(
        PATH=f"{Path(sys.executable).parent}:{environment.get('PATH', '/usr/bin:/bin')}",
        PYTHONPATH=str(PROJECT_ROOT),
        PVD_DATABASE_URL=database_url,
        PVD_SECRET_KEY=key,
        PVD_ARGON2_PROFILE="fast-tests",
        **places,
    )
    return environment


def run(command: str, cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A guide block, run by bash as a script that stops at the first error."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fill(database_url: str, settings: Settings) -> str:
    """A migrated database with an administrator, released survey answers and one invitation; its link's token."""
    engine = db.make_engine(database_url)
    try:
        db.migrate(engine, settings.secret_key)
        factory = db.make_session_factory(engine)
        with factory.begin() as session:
            accounts.create_first_admin(
                session, email="admin@anct.gouv.fr", display_name="Admin", password=STRONG_PASSWORD, settings=settings
            )
            load_survey(session, settings, {"21": 6, "29": 5})
        return invite_one(factory, settings, "cp@mairie-de-montbard.fr", "21")
    finally:
        engine.dispose()


def stats(environment: dict[str, str]) -> Run:
    """`stats` run by the operator's shell (in this process: the guide's own commands run in bash)."""
    return run_cli(
        environment["PVD_DATABASE_URL"], "stats", "--format", "json", PVD_SECRET_KEY=environment["PVD_SECRET_KEY"]
    )


def check_restored(database_url: str, settings: Settings, token: str, figures_before: dict, env) -> None:
    """The restored database holds what the backup held (not what came after), and opens with the kept key only."""
    result = stats(env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == figures_before
    engine = db.make_engine(database_url)
    try:
        factory = db.make_session_factory(engine)
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(User)) == 1  # the account made later is gone
            assert survey.open_survey(session, token, settings).submitted is False  # the personal link still works
    finally:
        engine.dispose()
    other_key = {**env, "PVD_SECRET_KEY": secrets.token_urlsafe(32)}
    refused = stats(other_key)
    assert refused.returncode == 1 and "n'est pas celle de cette base" in refused.stderr, refused.stderr


def add_an_account_after_the_backup(database_url: str, settings: Settings) -> None:
    engine = db.make_engine(database_url)
    try:
        with db.make_session_factory(engine).begin() as session:
            accounts.create_user(
                session,
                email="apres@anct.gouv.fr",
                display_name="Après",
                role="direction",
                settings=settings,
                password=STRONG_PASSWORD,
            )
    finally:
        engine.dispose()


if TEST_BACKEND == "sqlite":

    def test_the_guides_sqlite_backup_and_restore_bring_back_the_data_with_the_key_kept_apart(
        tmp_path: Path, settings: Settings
    ) -> None:
        app_dir, database = tmp_path / "app", tmp_path / "app" / "db" / "pvd.sqlite3"
        (app_dir / ".streamlit").mkdir(parents=True)
        database.parent.mkdir()
        key = secrets.token_urlsafe(32)
        (app_dir / ".streamlit" / "pvd-secret.key").write_text(key + "\n", encoding="ascii")
        url = f"sqlite:///{database}"
        settings = dataclasses.replace(settings, database_url=url, secret_key=key)
        token = fill(url, settings)
        places = dict(
            SAUVEGARDES=str(tmp_path / "sauvegardes"), COFFRE=str(tmp_path / "coffre"), BASE_SQLITE=str(database)
        )
        env = shell_environment(url, key, **places)
        before = stats(env)
        assert before.returncode == 0, before.stderr

        backup = run(guide_block("sauvegarde-sqlite"), app_dir, env)
        assert backup.returncode == 0, backup.stderr
        assert (tmp_path / "coffre" / "pvd-secret.key").read_text(encoding="ascii").strip() == key
        assert (tmp_path / "sauvegardes" / "pvd.sqlite3").stat().st_mode & 0o777 == 0o600

        # Later: another account, then the server's key and database are lost.
        add_an_account_after_the_backup(url, settings)
        (app_dir / ".streamlit" / "pvd-secret.key").unlink()
        database.write_bytes(b"perdu")

        restore = run(guide_block("restauration-sqlite"), app_dir, env)
        assert restore.returncode == 0, restore.stderr
        assert (app_dir / ".streamlit" / "pvd-secret.key").read_text(encoding="ascii").strip() == key
        assert database.stat().st_mode & 0o777 == 0o600
        check_restored(url, settings, token, json.loads(before.stdout), env)


if TEST_BACKEND == "postgresql":

    @pytest.fixture
    def two_databases() -> tuple[str, str]:
        names = [f"pvd_test_guide_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield tuple(make_url(PG_ADMIN_URL).set(database=name) for name in names)
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def test_the_guides_postgresql_backup_and_restore_bring_back_the_data_with_the_same_key(
        tmp_path: Path, settings: Settings, two_databases
    ) -> None:
        source, target = two_databases
        key = secrets.token_urlsafe(32)

        def app_url(url) -> str:
            return url.render_as_string(hide_password=False)

        def psql_url(url) -> str:  # what pg_dump and psql read: no "+psycopg"
            return url.set(drivername="postgresql").render_as_string(hide_password=False)

        settings = dataclasses.replace(settings, database_url=app_url(source), secret_key=key)
        token = fill(app_url(source), settings)
        places = dict(SAUVEGARDES=str(tmp_path / "sauvegardes"))
        env = shell_environment(app_url(source), key, BASE_PG=psql_url(source), **places)
        before = stats(env)
        assert before.returncode == 0, before.stderr

        backup = run(guide_block("sauvegarde-postgresql"), tmp_path, env)
        assert backup.returncode == 0, backup.stderr
        assert (tmp_path / "sauvegardes" / "pvd.dump").stat().st_mode & 0o777 == 0o600
        add_an_account_after_the_backup(app_url(source), settings)

        # Restored into a new, empty database, opened with the same key.
        env = shell_environment(app_url(target), key, BASE_PG=psql_url(target), **places)
        restore = run(guide_block("restauration-postgresql"), tmp_path, env)
        assert restore.returncode == 0, restore.stderr
        restored = dataclasses.replace(settings, database_url=app_url(target))
        check_restored(app_url(target), restored, token, json.loads(before.stdout), env)
