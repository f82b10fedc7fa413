"""The operator command line, run as operators run it (a real process), on the test database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pvd_survey import accounts, db, mail
from pvd_survey.cli import build_parser
from tests.conftest import PROJECT_ROOT, STRONG_PASSWORD

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)


def run_cli(database_url, *args, stdin="", **env):
    environment = {
        **os.environ,
        "PVD_DATABASE_URL": database_url,
        "PVD_ARGON2_PROFILE": "fast-tests",
        "PVD_BASE_URL": "http://pvd.test",
        **env,
    }
    for key in ("PVD_SMTP_HOST", "PVD_MAIL_FROM"):
        if key not in env:
            environment.pop(key, None)
    return subprocess.run(
        [sys.executable, "-m", "pvd_survey", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environment,
        timeout=60,
    )


def users(factory):
    with db.read_only(factory) as session:
        return accounts.list_users(session)


def test_every_command_has_help(database_url):
    assert {"migrate", "create-user", "send-mail", "seed-demo"} <= set(COMMANDS)
    for command in COMMANDS:
        result = run_cli(database_url, command, "--help")
        assert result.returncode == 0, result.stderr
        assert "usage: python -m pvd_survey " + command in result.stdout


def test_migrate_is_idempotent(factory, database_url):
    result = run_cli(database_url, "migrate")
    assert result.returncode == 0 and db.head_revision() in result.stdout


def test_create_user_with_password_from_stdin_can_log_in(factory, settings, database_url):
    result = run_cli(
        database_url,
        "create-user",
        "--email",
        "Claire.Durand@anct.gouv.fr",
        "--role",
        "direction",
        "--name",
        "Claire Durand",
        "--password-stdin",
        stdin=STRONG_PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert "claire.durand@anct.gouv.fr" in result.stdout
    with factory.begin() as session:
        outcome = accounts.authenticate(session, "claire.durand@anct.gouv.fr", STRONG_PASSWORD, settings)
    assert outcome.user.role == "direction"


def test_create_recruiter_with_organisation_by_name(factory, database_url):
    result = run_cli(
        database_url, "create-organisation", "--name", "Commune de Revel", "--kind", "commune", "--department", "31"
    )
    assert result.returncode == 0, result.stderr
    result = run_cli(
        database_url,
        "create-user",
        "--email",
        "rh@revel.fr",
        "--role",
        "recruteur",
        "--organisation",
        "Commune de Revel",
        "--no-password",
    )
    assert result.returncode == 0, result.stderr
    [user] = users(factory)
    assert (user.role, user.organisation_name, user.has_password) == ("recruteur", "Commune de Revel", False)


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (
            ["create-user", "--email", "pas-une-adresse", "--role", "admin", "--no-password"],
            "",
            1,
            "L'adresse e-mail n'est pas valide",
        ),
        (["create-user", "--email", "a@example.fr", "--role", "chef"], "", 2, "invalid choice"),
        (["create-user", "--role", "admin"], "", 2, "--email"),
        (
            ["create-user", "--email", "a@example.fr", "--role", "admin", "--password-stdin"],
            "password1234\n",
            1,
            "parmi les plus courants",
        ),
        (["create-user", "--email", "a@example.fr", "--role", "admin"], "", 1, "--password-stdin"),
        (
            ["create-user", "--email", "a@example.fr", "--role", "recruteur", "--no-password"],
            "",
            1,
            "rattaché à une organisation",
        ),
        (
            [
                "create-user",
                "--email",
                "a@example.fr",
                "--role",
                "recruteur",
                "--organisation",
                "Nulle part",
                "--no-password",
            ],
            "",
            1,
            "Organisation introuvable",
        ),
        (
            ["create-organisation", "--name", "X", "--kind", "commune", "--department", "99"],
            "",
            1,
            "Département inconnu",
        ),
        (["send-mail"], "", 1, "Aucun serveur SMTP"),
        (["send-mail", "--loop", "--interval", "-3"], "", 2, "strictement positif"),
        (["nimporte-quoi"], "", 2, "invalid choice"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(factory, database_url, args, stdin, code, message):
    result = run_cli(database_url, *args, stdin=stdin)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert users(factory) == []


def test_bad_configuration_is_reported_without_traceback(factory, database_url):
    result = run_cli(database_url, "migrate", PVD_SMTP_HOST="smtp.example.fr", PVD_SMTP_PORT="vingt-cinq")
    assert result.returncode == 2
    assert "PVD_SMTP_PORT doit être un nombre entier" in result.stderr
    assert "PVD_MAIL_FROM" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_database_is_reported(tmp_path):
    result = run_cli("postgresql+psycopg://postgres@127.0.0.1:1/nothing", "migrate")
    assert result.returncode == 3
    assert "Base de données injoignable" in result.stderr and "Traceback" not in result.stderr


def test_send_mail_delivers_outbox_to_real_smtp(factory, database_url, smtp_server):
    with factory.begin() as session:
        mail.enqueue(session, recipient="cp@example.fr", subject="Bonjour", body="Texte", kind="test")
    result = run_cli(
        database_url,
        "send-mail",
        PVD_SMTP_HOST="127.0.0.1",
        PVD_SMTP_PORT=str(smtp_server.port),
        PVD_SMTP_SECURITY="none",
        PVD_MAIL_FROM="pvd@anct.gouv.fr",
    )
    assert result.returncode == 0, result.stderr
    assert "1 envoyé(s)" in result.stdout
    assert [m["To"] for m in smtp_server.messages] == ["cp@example.fr"]


def test_send_mail_loop_stops_on_sigterm(factory, database_url, smtp_server):
    import signal
    import time

    environment = {
        **os.environ,
        "PVD_DATABASE_URL": database_url,
        "PVD_SMTP_HOST": "127.0.0.1",
        "PVD_SMTP_PORT": str(smtp_server.port),
        "PVD_SMTP_SECURITY": "none",
        "PVD_MAIL_FROM": "pvd@anct.gouv.fr",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pvd_survey", "send-mail", "--loop", "--interval", "0.2"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with factory.begin() as session:
            mail.enqueue(session, recipient="cp@example.fr", subject="Bonjour", body="Texte", kind="test")
        deadline = time.monotonic() + 20
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m["To"] for m in smtp_server.messages] == ["cp@example.fr"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0


def test_seed_demo_is_idempotent(factory, database_url, settings):
    first = run_cli(database_url, "seed-demo")
    assert first.returncode == 0, first.stderr
    assert "mot de passe" in first.stdout
    before = users(factory)
    assert {u.role for u in before} == {"direction", "recruteur"}
    assert all(u.organisation_name for u in before if u.role == "recruteur")
    second = run_cli(database_url, "seed-demo")
    assert second.returncode == 0 and "déjà présentes" in second.stdout
    assert len(users(factory)) == len(before)
    # The printed passwords really work.
    line = next(line for line in first.stdout.splitlines() if "claire.durand" in line)
    password = line.split("mot de passe : ")[1]
    with factory.begin() as session:
        assert accounts.authenticate(session, "claire.durand@demo.anct.gouv.fr", password, settings).error is None
