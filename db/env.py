"""Alembic environment: migrations run through pvd_survey.db.migrate() or `python -m pvd_survey migrate`."""

from alembic import context
from sqlalchemy import create_engine

from pvd_survey.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
    )


def run_migrations_online() -> None:
    """Run on the connection given by pvd_survey.db.migrate(), or on the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from pvd_survey.config import load_settings

        url = load_settings().database_url
    engine = create_engine(url)
    with engine.begin() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported: run `python -m pvd_survey migrate`.")
run_migrations_online()
