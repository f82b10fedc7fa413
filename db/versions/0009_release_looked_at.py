"""survey releases: the last moment of the schedule the background work looked at

A release happens only at the first background pass after a moment of the schedule: that pass writes
the moment on the release row (`looked_at`) whether it released or not, so that the k-th answer,
arriving later in the same slot, waits for the next moment instead of making the figures move seconds
after it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_release") as batch:
        batch.add_column(sa.Column("looked_at", sa.DateTime(), nullable=True))
    # The last release's moment was looked at.
    op.execute("UPDATE survey_release SET looked_at = released_at")


def downgrade() -> None:
    with op.batch_alter_table("survey_release") as batch:
        batch.drop_column("looked_at")
