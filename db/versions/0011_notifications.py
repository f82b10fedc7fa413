"""notifications: preferences of accounts, job alert subscriptions, one-click unsubscribe links, daily runs

- `notification_preference`: how often an account wants an e-mail about a topic (new applications for recruiters,
  recruiter requests waiting for the direction); no row means the default, an e-mail each time.
- `job_alert`: someone's subscription to new postings of a region (optionally one department), double opt-in
  (confirmed through a personal link, hashed); unsubscribing deletes the row.
- `unsubscribe_link`: the one-click unsubscribe link of each notification e-mail, only its token's SHA-256,
  pointing at an account's topic or at a job alert (deleted with either).
- `notification_run`: one row per daily sending (recruiters' digest, job alerts), claimed once a day by a
  conditional UPDATE.
- `outbox_message.unsubscribe_url`: the address of the `List-Unsubscribe` header, erased once the message is sent.

The codes of the CHECK constraints are those of pvd_survey/vocabulary.py, written out here so that this migration
keeps meaning what it meant when the vocabulary changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TOPICS = "topic IN ('new_application', 'recruiter_request')"


def upgrade() -> None:
    op.create_table(
        "job_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("covered_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_alert")),
        sa.UniqueConstraint("email", "region", "department", name="uq_job_alert_email_region_department"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_job_alert_token_hash")),
    )
    op.create_index("ix_job_alert_confirmed", "job_alert", ["confirmed_at", "region"], unique=False)

    op.create_table(
        "notification_run",
        sa.Column("job", sa.String(length=30), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("covered_until", sa.DateTime(), nullable=False),
        sa.CheckConstraint("job IN ('application_digest', 'job_alerts')", name=op.f("ck_notification_run_job")),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_notification_run")),
    )

    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "frequency IN ('immediate', 'daily', 'none')", name=op.f("ck_notification_preference_frequency")
        ),
        sa.CheckConstraint(TOPICS, name=op.f("ck_notification_preference_topic")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_notification_preference_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "topic", name=op.f("pk_notification_preference")),
    )

    op.create_table(
        "unsubscribe_link",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("topic", sa.String(length=30), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(f"topic IS NULL OR {TOPICS}", name=op.f("ck_unsubscribe_link_topic")),
        sa.CheckConstraint(
            "(user_id IS NOT NULL AND topic IS NOT NULL AND alert_id IS NULL) "
            "OR (user_id IS NULL AND topic IS NULL AND alert_id IS NOT NULL)",
            name=op.f("ck_unsubscribe_link_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["job_alert.id"], name=op.f("fk_unsubscribe_link_alert_id_job_alert"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_unsubscribe_link_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_unsubscribe_link")),
    )
    op.create_index(op.f("ix_unsubscribe_link_alert_id"), "unsubscribe_link", ["alert_id"], unique=False)
    op.create_index(op.f("ix_unsubscribe_link_created_at"), "unsubscribe_link", ["created_at"], unique=False)
    op.create_index(op.f("ix_unsubscribe_link_user_id"), "unsubscribe_link", ["user_id"], unique=False)

    # A nullable column: SQLite adds it with a plain ALTER TABLE (no rebuild).
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("unsubscribe_url", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("unsubscribe_url")
    op.drop_index(op.f("ix_unsubscribe_link_user_id"), table_name="unsubscribe_link")
    op.drop_index(op.f("ix_unsubscribe_link_created_at"), table_name="unsubscribe_link")
    op.drop_index(op.f("ix_unsubscribe_link_alert_id"), table_name="unsubscribe_link")
    op.drop_table("unsubscribe_link")
    op.drop_table("notification_preference")
    op.drop_table("notification_run")
    op.drop_index("ix_job_alert_confirmed", table_name="job_alert")
    op.drop_table("job_alert")
