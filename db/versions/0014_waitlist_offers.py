"""waiting-list offers: a freed place is offered to the first person waiting, held until a deadline

- `registration.status` takes a fourth code, 'offered': the person first in line holds the freed place (it stays
  counted in `meeting.confirmed_count`, so nobody else can take it) until `offer_expires_at`.
- `registration.offered_at`, `offer_expires_at`: when the place was offered and until when it is held.
- `registration.offer_outcome`: how the offer ended (accepted, confirmed by a larger capacity,
  declined, expired, withdrawn by the direction).
- CHECKs: the codes, and « offered exactly while an offer runs » (a deadline, no outcome yet).
- `ix_registration_offer_deadline`: the background pass finds the offers past their deadline.

The codes are those of pvd_survey/vocabulary.py, written out here so that this migration keeps meaning what it
meant when the vocabulary changes. On SQLite the CHECKs are changed by rebuilding the table as migration 0010 does.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:30:00
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OLD_STATUS = {"ck_registration_status": "status IN ('confirmed', 'waiting', 'cancelled')"}
NEW_STATUS = {"ck_registration_status": "status IN ('confirmed', 'offered', 'waiting', 'cancelled')"}
OFFER_CHECKS = {
    "ck_registration_offer_outcome": (
        "offer_outcome IS NULL OR offer_outcome IN ('accepted', 'enlarged', 'declined', 'expired', 'withdrawn')"
    ),
    "ck_registration_offer_running": (
        "(status = 'offered' AND offer_expires_at IS NOT NULL AND offered_at IS NOT NULL AND offer_outcome IS NULL) "
        "OR (status <> 'offered' AND (offer_expires_at IS NULL OR offer_outcome IS NOT NULL))"
    ),
    "ck_registration_offer_outcome_has_deadline": "offer_outcome IS NULL OR offer_expires_at IS NOT NULL",
}
COLUMNS = ("offered_at", "offer_expires_at", "offer_outcome")


def _migration_0010():
    path = Path(__file__).with_name("0010_vocabulary_checks.py")
    spec = importlib.util.spec_from_file_location("pvd_migration_0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.add_column("registration", sa.Column("offered_at", sa.DateTime(), nullable=True))
    op.add_column("registration", sa.Column("offer_expires_at", sa.DateTime(), nullable=True))
    op.add_column("registration", sa.Column("offer_outcome", sa.String(length=20), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        rebuild = _migration_0010()
        drop_old, add_new = rebuild._without_checks(OLD_STATUS), rebuild._with_checks({**NEW_STATUS, **OFFER_CHECKS})
        rebuild._rebuild_sqlite_table("registration", lambda create: add_new(drop_old(create)))
    else:
        op.drop_constraint(op.f("ck_registration_status"), "registration", type_="check")
        for name, condition in {**NEW_STATUS, **OFFER_CHECKS}.items():
            op.create_check_constraint(op.f(name), "registration", condition)
    op.create_index(
        "ix_registration_offer_deadline", "registration", ["status", "offer_expires_at"], unique=False
    )


def downgrade() -> None:
    # A running offer's place is counted in meeting.confirmed_count: the person keeps it, confirmed.
    op.execute(
        "UPDATE registration SET status = 'confirmed', confirmed_at = offered_at, offer_outcome = 'accepted' "
        "WHERE status = 'offered'"
    )
    op.drop_index("ix_registration_offer_deadline", table_name="registration")
    if op.get_bind().dialect.name == "sqlite":
        rebuild = _migration_0010()
        drop_new, add_old = rebuild._without_checks({**NEW_STATUS, **OFFER_CHECKS}), rebuild._with_checks(OLD_STATUS)
        rebuild._rebuild_sqlite_table("registration", lambda create: add_old(drop_new(create)))
        for column in reversed(COLUMNS):  # SQLite 3.35+ drops a column no CHECK or index names any more
            op.execute(f"ALTER TABLE registration DROP COLUMN {column}")
    else:
        for name in {**NEW_STATUS, **OFFER_CHECKS}:
            op.drop_constraint(op.f(name), "registration", type_="check")
        op.create_check_constraint(op.f("ck_registration_status"), "registration", OLD_STATUS["ck_registration_status"])
        for column in reversed(COLUMNS):
            op.drop_column("registration", column)
