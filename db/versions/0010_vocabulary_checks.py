"""every stored code checked by the database: working time and employer type of postings, who cancelled a registration

`job_posting.working_time` (complet / partiel), `job_posting.employer_kind` (copied from the organisation's kind)
and `registration.cancelled_by` (participant / direction) were checked by the services only; every other code
column already had its CHECK. The codes are those of pvd_survey/vocabulary.py, written out here so that this
migration keeps meaning what it meant when the vocabulary changes. The services never wrote anything else.

SQLite adds a CHECK only by rebuilding the table. Alembic's batch mode copies the rows into a new table and then
drops the old one: with foreign keys on, dropping job_posting counts every application pointing at it as a
violation, which the rows copied into a table of another name never clear, and the commit fails. So the rebuild
here drops the old table first and puts the rows back into the new table under the same name, with foreign key
checks deferred to the commit (each row put back clears the applications that point at it). The new table is the
stored CREATE TABLE statement with the CHECK added, so everything else about it stays exactly as it was.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:00:00
"""

import re
from collections.abc import Callable

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CHECKS = {
    "job_posting": {
        "ck_job_posting_working_time": "working_time IN ('complet', 'partiel')",
        "ck_job_posting_employer_kind": "employer_kind IN ('epci', 'commune', 'autre')",
    },
    "registration": {
        "ck_registration_cancelled_by": "cancelled_by IS NULL OR cancelled_by IN ('participant', 'direction')",
    },
}


def _rebuild_sqlite_table(table: str, edit: Callable[[str], str]) -> None:
    """Rebuild a SQLite table from its stored CREATE statement changed by `edit`: same rows, same indexes.

    No table referencing these ones deletes in cascade (a drop would delete the referencing rows).
    """
    bind = op.get_bind()
    create = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    indexes = (
        bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
        )
        .scalars()
        .all()
    )
    op.execute("PRAGMA defer_foreign_keys = ON")  # (until the end of the transaction)
    op.execute(f"CREATE TEMP TABLE rebuild_copy AS SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(edit(create))
    op.execute(f"INSERT INTO {table} SELECT * FROM temp.rebuild_copy")
    op.execute("DROP TABLE temp.rebuild_copy")
    for statement in indexes:
        op.execute(statement)


def _with_checks(checks: dict[str, str]) -> Callable[[str], str]:
    def edit(create: str) -> str:
        body = create.rstrip()
        assert body.endswith(")"), create
        added = "".join(f",\n\tCONSTRAINT {name} CHECK ({condition})" for name, condition in checks.items())
        return f"{body[:-1].rstrip()}{added}\n)"

    return edit


def _without_checks(checks: dict[str, str]) -> Callable[[str], str]:
    def edit(create: str) -> str:
        for name, condition in checks.items():
            pattern = rf',\s*CONSTRAINT\s+"?{name}"?\s+CHECK\s*\(\s*{re.escape(condition)}\s*\)'
            create, found = re.subn(pattern, "", create)
            assert found == 1, (name, create)
        return create

    return edit


def upgrade() -> None:
    for table, checks in CHECKS.items():
        if op.get_bind().dialect.name == "sqlite":
            _rebuild_sqlite_table(table, _with_checks(checks))
        else:
            for name, condition in checks.items():
                op.create_check_constraint(op.f(name), table, condition)


def downgrade() -> None:
    for table, checks in CHECKS.items():
        if op.get_bind().dialect.name == "sqlite":
            _rebuild_sqlite_table(table, _without_checks(checks))
        else:
            for name in checks:
                op.drop_constraint(op.f(name), table, type_="check")
