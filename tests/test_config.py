"""Settings: defaults, environment over secrets.toml, and every bad value reported at once."""

from __future__ import annotations

import pytest

from pvd_survey.config import DEFAULT_SQLITE_PATH, ConfigError, load_settings

pytestmark = pytest.mark.database_independent  # pure: run once, on SQLite (see conftest)


def settings_from(env=None, secrets_text=None, tmp_path=None):
    path = tmp_path / "secrets.toml"
    if secrets_text is not None:
        path.write_text(secrets_text, encoding="utf-8")
    return load_settings(env or {}, secrets_path=path)


def test_defaults_use_embedded_sqlite_and_no_smtp(tmp_path):
    settings = settings_from(tmp_path=tmp_path)
    assert settings.database_url == f"sqlite:///{DEFAULT_SQLITE_PATH}"
    assert settings.is_sqlite and settings.smtp is None
    assert settings.argon2_profile == "production"
    assert (settings.login_max_failures, settings.login_lock_minutes) == (5, 15)
    assert settings.outbox_retention_days == 30


def test_outbox_retention_is_read(tmp_path):
    assert settings_from({"PVD_OUTBOX_RETENTION_DAYS": "7"}, tmp_path=tmp_path).outbox_retention_days == 7
    assert settings_from(secrets_text="PVD_OUTBOX_RETENTION_DAYS = 1\n", tmp_path=tmp_path).outbox_retention_days == 1


def test_pool_settings_are_read(tmp_path):
    default = settings_from({}, tmp_path=tmp_path)
    assert (default.db_pool_size, default.db_pool_timeout_seconds) == (10, 10)
    settings = settings_from({"PVD_DB_POOL_SIZE": "4", "PVD_DB_POOL_TIMEOUT_SECONDS": "3"}, tmp_path=tmp_path)
    assert (settings.db_pool_size, settings.db_pool_timeout_seconds) == (4, 3)


def test_embedded_installation_makes_its_server_key_once_outside_the_database(tmp_path):
    first = settings_from(tmp_path=tmp_path)
    key_file = tmp_path / "pvd-secret.key"
    assert len(first.secret_key) >= 32 and key_file.read_text().strip() == first.secret_key
    assert key_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert settings_from(tmp_path=tmp_path).secret_key == first.secret_key  # the next start reads it back
    assert settings_from({"PVD_SECRET_KEY": "e" * 40}, tmp_path=tmp_path).secret_key == "e" * 40


def test_secrets_file_is_read_and_environment_wins(tmp_path):
    secrets_text = (
        'PVD_DATABASE_URL = "postgresql+psycopg://pvd@db.internal/pvd"\n'
        'PVD_SMTP_HOST = "smtp.example.fr"\nPVD_MAIL_FROM = "pvd@anct.gouv.fr"\n'
        'PVD_SMTP_SECURITY = "ssl"\n'
    )
    settings = settings_from(
        {"PVD_SMTP_HOST": "relay.anct.gouv.fr", "PVD_SECRET_KEY": "k" * 32}, secrets_text, tmp_path
    )
    assert settings.database_url == "postgresql+psycopg://pvd@db.internal/pvd"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == ("relay.anct.gouv.fr", 465, "ssl")


def test_bare_postgresql_scheme_uses_psycopg3(tmp_path):
    settings = settings_from(
        {"PVD_DATABASE_URL": "postgresql://pvd@db/pvd", "PVD_SECRET_KEY": "k" * 32}, tmp_path=tmp_path
    )
    assert settings.database_url == "postgresql+psycopg://pvd@db/pvd"


@pytest.mark.parametrize(
    ("env", "expected_problem"),
    [
        ({"PVD_DATABASE_URL": "mysql://root@db/pvd"}, "PVD_DATABASE_URL doit commencer"),
        ({"PVD_SMTP_HOST": "smtp.example.fr"}, "PVD_MAIL_FROM"),
        ({"PVD_SMTP_HOST": "s", "PVD_MAIL_FROM": "a@b.fr", "PVD_SMTP_PORT": "70000"}, "entre 1 et 65535"),
        ({"PVD_SMTP_HOST": "s", "PVD_MAIL_FROM": "a@b.fr", "PVD_SMTP_SECURITY": "tls1"}, "PVD_SMTP_SECURITY"),
        ({"PVD_SMTP_HOST": "s", "PVD_MAIL_FROM": "a@b.fr", "PVD_SMTP_USER": "u"}, "PVD_SMTP_PASSWORD"),
        ({"PVD_BASE_URL": "pvd.anct.gouv.fr"}, "PVD_BASE_URL doit commencer"),
        ({"PVD_LOGIN_MAX_FAILURES": "0"}, "PVD_LOGIN_MAX_FAILURES doit être supérieur"),
        ({"PVD_LOGIN_LOCK_MINUTES": "un quart d'heure"}, "PVD_LOGIN_LOCK_MINUTES doit être un nombre entier"),
        ({"PVD_MAIL_THREAD": "peut-être"}, "PVD_MAIL_THREAD doit valoir true ou false"),
        ({"PVD_ARGON2_PROFILE": "weak"}, "PVD_ARGON2_PROFILE"),
        ({"PVD_DATABASE_URL": "postgresql+psycopg://pvd@db/pvd"}, "PVD_SECRET_KEY est obligatoire avec PostgreSQL"),
        ({"PVD_SECRET_KEY": "trop-courte"}, "PVD_SECRET_KEY doit compter au moins 32 caractères"),
        ({"PVD_OUTBOX_RETENTION_DAYS": "abc"}, "PVD_OUTBOX_RETENTION_DAYS doit être un nombre entier"),
        ({"PVD_OUTBOX_RETENTION_DAYS": "0"}, "PVD_OUTBOX_RETENTION_DAYS doit être supérieur ou égal à 1"),
        ({"PVD_DB_POOL_SIZE": "0"}, "PVD_DB_POOL_SIZE doit être supérieur ou égal à 1"),
        ({"PVD_DB_POOL_SIZE": "dix"}, "PVD_DB_POOL_SIZE doit être un nombre entier"),
        ({"PVD_DB_POOL_TIMEOUT_SECONDS": "0"}, "PVD_DB_POOL_TIMEOUT_SECONDS doit être supérieur ou égal à 1"),
        ({"PVD_DB_POOL_TIMEOUT_SECONDS": "2.5"}, "PVD_DB_POOL_TIMEOUT_SECONDS doit être un nombre entier"),
        ({"PVD_WAITLIST_OFFER_HOURS": "0"}, "PVD_WAITLIST_OFFER_HOURS doit être supérieur ou égal à 1"),
        ({"PVD_WAITLIST_OFFER_HOURS": "721"}, "PVD_WAITLIST_OFFER_HOURS doit être compris entre 1 et 720"),
    ],
)
def test_bad_values_are_reported_in_french(tmp_path, env, expected_problem):
    with pytest.raises(ConfigError) as caught:
        settings_from(env, tmp_path=tmp_path)
    assert any(expected_problem in problem for problem in caught.value.problems), caught.value.problems


def test_all_problems_are_reported_together(tmp_path):
    with pytest.raises(ConfigError) as caught:
        settings_from({"PVD_BASE_URL": "x", "PVD_LOGIN_MAX_FAILURES": "-1", "PVD_SMTP_HOST": "s"}, tmp_path=tmp_path)
    assert len(caught.value.problems) == 3


def test_broken_secrets_file_is_reported(tmp_path):
    with pytest.raises(ConfigError) as caught:
        settings_from(secrets_text="PVD_SMTP_HOST = smtp.example.fr\n", tmp_path=tmp_path)
    assert "n'est pas un fichier TOML valide" in caught.value.problems[0]


@pytest.mark.parametrize("place", ["environment", "secrets"])
def test_a_misspelled_key_is_an_error_naming_the_key_it_resembles(tmp_path, place):
    typo = {"PVD_DATABASE_ULR": "postgresql://pvd@db/pvd", "PVD_SMTP_HOTS": "smtp.example.fr"}
    with pytest.raises(ConfigError) as caught:
        if place == "environment":
            settings_from(typo, tmp_path=tmp_path)
        else:
            settings_from(secrets_text="".join(f'{k} = "{v}"\n' for k, v in typo.items()), tmp_path=tmp_path)
    problems = "\n".join(caught.value.problems)
    assert "PVD_DATABASE_ULR" in problems and "Vouliez-vous écrire PVD_DATABASE_URL ?" in problems
    assert "PVD_SMTP_HOTS" in problems and "Vouliez-vous écrire PVD_SMTP_HOST ?" in problems
    assert "postgresql://pvd@db/pvd" not in problems  # the value itself is not repeated


def test_keys_of_other_programs_and_of_the_test_tools_are_not_errors(tmp_path):
    env = {"PATH": "/usr/bin", "PVD_TEST_DATABASE": "postgresql", "PVD_ALLOW_SKIPS": "1", "STREAMLIT_X": "y"}
    assert settings_from(env, tmp_path=tmp_path).database_url.startswith("sqlite")


def test_postgres_scheme_given_by_hosting_providers_uses_psycopg3(tmp_path):
    settings = settings_from(
        {"PVD_DATABASE_URL": "postgres://pvd:mot-de-passe@db/pvd", "PVD_SECRET_KEY": "k" * 32}, tmp_path=tmp_path
    )
    assert settings.database_url == "postgresql+psycopg://pvd:mot-de-passe@db/pvd"


def test_a_refused_database_url_shows_its_scheme_but_never_its_password(tmp_path):
    with pytest.raises(ConfigError) as caught:
        settings_from({"PVD_DATABASE_URL": "mysql://root:s3cret@db/pvd"}, tmp_path=tmp_path)
    problems = "\n".join(caught.value.problems)
    assert "'mysql://…@db/pvd'" in problems and "s3cret" not in problems and "root" not in problems


@pytest.mark.parametrize("sender", ["pvd@anct.gouv.fr", "Petites villes de demain <ne-pas-repondre@anct.gouv.fr>"])
def test_a_sender_address_alone_or_with_a_name_is_accepted(tmp_path, sender):
    settings = settings_from({"PVD_SMTP_HOST": "smtp.example.fr", "PVD_MAIL_FROM": sender}, tmp_path=tmp_path)
    assert settings.smtp is not None and settings.smtp.sender == sender


@pytest.mark.parametrize(
    ("env", "expected_problem"),
    [
        ({"PVD_SMTP_HOST": "s", "PVD_MAIL_FROM": "pas une adresse"}, "PVD_MAIL_FROM doit être une adresse"),
        ({"PVD_SMTP_HOST": "s", "PVD_MAIL_FROM": "PVD <pvd@>"}, "PVD_MAIL_FROM doit être une adresse"),
        ({"PVD_DISCLOSURE_K": "1000000"}, "PVD_DISCLOSURE_K doit être compris entre 2 et 50"),
        (
            {"PVD_ARGON2_PROFILE": "fast-tests", "PVD_BASE_URL": "https://pvd.anct.gouv.fr"},
            "PVD_ARGON2_PROFILE=fast-tests est réservé aux suites de tests",
        ),
        ({"PVD_DISCLOSURE_K": "1"}, "PVD_DISCLOSURE_K doit être supérieur ou égal à 2"),
    ],
)
def test_values_outside_what_the_app_can_keep_are_refused(tmp_path, env, expected_problem):
    with pytest.raises(ConfigError) as caught:
        settings_from(env, tmp_path=tmp_path)
    assert any(expected_problem in problem for problem in caught.value.problems), caught.value.problems
