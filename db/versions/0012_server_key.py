"""server_key: the fingerprint of the server key the database is opened with (a keyed hash, never the key)

Recorded by the first start that opens the database without error (pvd_survey/survey/totals.py, remember_key);
a start with another key is then refused, even before the survey has any answer.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_server_key_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_key")),
    )


def downgrade() -> None:
    op.drop_table("server_key")
