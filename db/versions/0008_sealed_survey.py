"""sealed survey: answers and counts sealed under the server key, nothing of an answer on the e-mail side

Moves existing data to the new design:
- counted answers are sealed (answers, record key, whether they came through a link) at a fixed size,
  rewritten in random order with new random ids, in a new table (the old one, with its clear values
  and its row versions, is dropped whole); the person's keyed reference is kept, so links still work;
- the pre-aggregated counts (`survey_count`, clear) are dropped and their successor, one sealed snapshot
  of the totals, is built from the answers and written on the release row;
- invitations lose `opened_at` and `submitted_at`; on PostgreSQL the invitation table is emptied and
  written again (TRUNCATE makes new files), so that no row keeps the transaction id of the submission
  that last touched it, nor the old columns' bytes;
- drafts and waiting changes are sealed again at the fixed sizes (and written anew, for the same reason);
- the release log (new respondents by release, for the activity figures) and reminder rounds are created.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:30:00
"""

import random

import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ANSWER_COLUMNS = (
    "start_month",
    "employer",
    "gender",
    "experience",
    "diploma",
    "training_field",
    "department",
)


def _server_key() -> str:
    key = context.config.attributes.get("secret_key")
    if key:
        return key
    from pvd_survey.config import load_settings

    return load_settings().secret_key


def _rewrite(bind, table: str, columns: list[str], order_by: str) -> None:
    """Empty a table and write its rows again (PostgreSQL: TRUNCATE gives it a new file at commit)."""
    names = ", ".join(columns)
    rows = [dict(row._mapping) for row in bind.execute(sa.text(f"SELECT {names} FROM {table} ORDER BY {order_by}"))]
    bind.execute(sa.text(f"TRUNCATE {table}"))
    if rows:
        values = ", ".join(f":{name}" for name in columns)
        bind.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({values})"), rows)


def _reseal(bind, table: str, kind: str) -> None:
    rows = bind.execute(sa.text(f"SELECT ref, sealed FROM {table} ORDER BY ref")).all()
    if not rows:
        return
    from types import SimpleNamespace

    from pvd_survey.survey.links import SEALED_SIZES, _seal, _unseal

    keys = SimpleNamespace(secret_key=_server_key())
    resealed = [
        {"ref": ref, "sealed": _seal(keys, _unseal(keys, bytes(sealed), ref), ref, SEALED_SIZES[kind])}
        for ref, sealed in rows
    ]
    bind.execute(sa.text(f"{'TRUNCATE' if bind.dialect.name == 'postgresql' else 'DELETE FROM'} {table}"))
    bind.execute(sa.table(table, sa.column("ref"), sa.column("sealed", sa.LargeBinary)).insert(), resealed)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    old = bind.execute(
        sa.text(f"SELECT respondent_ref, source, record_key, {', '.join(ANSWER_COLUMNS)} FROM survey_response")
    ).all()

    op.create_table(
        "survey_response_sealed",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("respondent_ref", sa.String(length=64), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response_sealed")),
        sqlite_with_rowid=False,
    )
    release_table = sa.table(
        "survey_release",
        sa.column("id"),
        sa.column("groups"),
        sa.column("last_group_size"),
        sa.column("totals", sa.LargeBinary),
        sa.column("totals_version"),
    )
    with op.batch_alter_table("survey_release") as batch:
        batch.add_column(sa.Column("totals", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("totals_version", sa.String(length=16), nullable=True))

    if old:
        from types import SimpleNamespace

        from pvd_survey.survey.release import CountedRecord, seal_response
        from pvd_survey.survey.totals import Totals, seal
        from pvd_survey.survey_questions import Answers

        keys = SimpleNamespace(secret_key=_server_key())
        totals = Totals.empty()
        rows = []
        for respondent_ref, source, record_key, *answers in old:
            values = dict(zip(ANSWER_COLUMNS, answers, strict=True))
            raw_fields = values.pop("training_field")
            fields = tuple(raw_fields.split("|")) if raw_fields else ()
            record = CountedRecord(Answers(**values, training_field=fields), int(record_key), source == "invitation")
            totals.add(record.answers, record.record_key, record.linked)
            rows.append(seal_response(keys, record, respondent_ref))
        random.SystemRandom().shuffle(rows)
        table = sa.table(
            "survey_response_sealed", sa.column("id"), sa.column("respondent_ref"), sa.column("sealed", sa.LargeBinary)
        )
        for start in range(0, len(rows), 5000):
            bind.execute(table.insert(), rows[start : start + 5000])
        import secrets

        sealed = seal(keys, totals)
        version = secrets.token_hex(8)
        exists = bind.execute(sa.text("SELECT count(*) FROM survey_release WHERE id = 1")).scalar()
        if exists:
            bind.execute(release_table.update().where(release_table.c.id == 1).values(totals=sealed, totals_version=version))
        else:
            bind.execute(
                release_table.insert().values(id=1, groups=0, last_group_size=0, totals=sealed, totals_version=version)
            )

    op.drop_table("survey_response")
    op.rename_table("survey_response_sealed", "survey_response")
    if dialect == "postgresql":
        op.execute("ALTER TABLE survey_response RENAME CONSTRAINT pk_survey_response_sealed TO pk_survey_response")
    op.create_index(
        "uq_survey_response_respondent_ref",
        "survey_response",
        ["respondent_ref"],
        unique=True,
        sqlite_where=sa.text("respondent_ref IS NOT NULL"),
        postgresql_where=sa.text("respondent_ref IS NOT NULL"),
    )
    op.drop_table("survey_count")

    with op.batch_alter_table("survey_invitation") as batch:
        batch.drop_column("opened_at")
        batch.drop_column("submitted_at")
    if dialect == "postgresql":
        _rewrite(
            bind,
            "survey_invitation",
            [
                "id",
                "email",
                "department",
                "token_hash",
                "respondent_salt",
                "status",
                "sent_count",
                "created_at",
                "last_sent_at",
                "record_key",
            ],
            "id",
        )

    # Drafts and waiting changes sealed before 0008 have sizes that follow their content: sealed again at the
    # fixed sizes, and (PostgreSQL) written into new files, so no row keeps a submission's transaction id.
    for table, kind in (("survey_pool", "pool"), ("survey_draft", "draft")):
        _reseal(bind, table, kind)

    op.create_table(
        "survey_release_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("new_respondents", sa.Integer(), nullable=False),
        sa.Column("new_key_sum", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_release_log")),
    )
    op.create_index("ix_survey_release_log_released_at", "survey_release_log", ["released_at"])
    op.create_table(
        "survey_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_reminder")),
        sa.UniqueConstraint("due_at", name=op.f("uq_survey_reminder_due_at")),
    )


def downgrade() -> None:
    # For development only: sealed answers cannot come back in clear without the key's holder doing it on
    # purpose, so the old structure is rebuilt empty of answers and counts.
    op.drop_table("survey_reminder")
    op.drop_index("ix_survey_release_log_released_at", table_name="survey_release_log")
    op.drop_table("survey_release_log")
    with op.batch_alter_table("survey_invitation") as batch:
        batch.add_column(sa.Column("opened_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("submitted_at", sa.DateTime(), nullable=True))
    op.drop_index("uq_survey_response_respondent_ref", table_name="survey_response")
    op.drop_table("survey_response")
    with op.batch_alter_table("survey_release") as batch:
        batch.drop_column("totals")
        batch.drop_column("totals_version")
    op.create_table(
        "survey_response",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("respondent_ref", sa.String(length=64), nullable=True),
        *(sa.Column(name, sa.String(length=20), nullable=True) for name in ("start_month", "start_period")),
        *(sa.Column(name, sa.String(length=20), nullable=True) for name in ("employer", "gender", "experience")),
        sa.Column("diploma", sa.String(length=20), nullable=True),
        sa.Column("training_field", sa.String(length=400), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=True),
        sa.Column("record_key", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response")),
        sa.UniqueConstraint("respondent_ref", name=op.f("uq_survey_response_respondent_ref")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "survey_count",
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("employer", sa.String(length=20), nullable=False),
        sa.Column("start_period", sa.String(length=7), nullable=False),
        sa.Column("question", sa.String(length=40), nullable=False),
        sa.Column("option", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("key_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "region", "department", "employer", "start_period", "question", "option", name=op.f("pk_survey_count")
        ),
        sqlite_with_rowid=False,
    )
