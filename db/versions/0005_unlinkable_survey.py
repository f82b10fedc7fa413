"""unlinkable survey: no link between invitations and answers, release pool, cell keys

Moves existing data to the new design:
- the invitation -> response foreign key is dropped; each invitation gets a random respondent salt, and
  the response it pointed to gets the keyed hash of that salt (server key), so the person's link still
  finds it while nothing stored leads from one to the other;
- drafts leave the invitation rows and are sealed (encrypted with the server key) on the answers' side;
- responses are rewritten in random order with random ids and record keys, without their times;
- record keys for invitations, applications and registrations; counts rebuilt with their key sums;
- messages already delivered lose their body, link and attachments (personal links in clear).

The server key comes from db.migrate(engine, secret_key) or, failing that, from the settings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:40:00
"""

import json
import random
import secrets
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.orm import Session

from pvd_survey.survey_questions import COUNTED_QUESTIONS

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ANSWER_COLUMNS = (
    "start_month",
    "start_period",
    "employer",
    "gender",
    "experience",
    "diploma",
    "training_field",
    "department",
    "region",
)


def _random_key_sql(dialect: str) -> str:
    return "abs(random()) % 256" if dialect == "sqlite" else "floor(random() * 256)::int"


def _server_key() -> str:
    key = context.config.attributes.get("secret_key")
    if key:
        return key
    from pvd_survey.config import load_settings

    return load_settings().secret_key


def _response_table() -> None:
    op.create_table(
        "survey_response",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("respondent_ref", sa.String(length=64), nullable=True),
        sa.Column("start_month", sa.String(length=7), nullable=True),
        sa.Column("start_period", sa.String(length=7), nullable=True),
        sa.Column("employer", sa.String(length=20), nullable=True),
        sa.Column("gender", sa.String(length=20), nullable=True),
        sa.Column("experience", sa.String(length=20), nullable=True),
        sa.Column("diploma", sa.String(length=20), nullable=True),
        sa.Column("training_field", sa.String(length=400), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=True),
        sa.Column("record_key", sa.Integer(), nullable=False),
        sa.CheckConstraint("source IN ('invitation', 'import')", name=op.f("ck_survey_response_source")),
        sa.CheckConstraint("record_key >= 0 AND record_key < 256", name=op.f("ck_survey_response_record_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response")),
        sa.UniqueConstraint("respondent_ref", name=op.f("uq_survey_response_respondent_ref")),
        sqlite_with_rowid=False,
    )


def _count_table(with_key_sum: bool) -> None:
    op.create_table(
        "survey_count",
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("employer", sa.String(length=20), nullable=False),
        sa.Column("start_period", sa.String(length=7), nullable=False),
        sa.Column("question", sa.String(length=40), nullable=False),
        sa.Column("option", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        *([sa.Column("key_sum", sa.BigInteger(), nullable=False)] if with_key_sum else []),
        sa.PrimaryKeyConstraint(
            "region", "department", "employer", "start_period", "question", "option", name=op.f("pk_survey_count")
        ),
        sqlite_with_rowid=not with_key_sum,
    )
    op.create_index(
        "ix_survey_count_dimensions", "survey_count", ["question", "employer", "start_period", "region", "department"]
    )


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    random_key = _random_key_sql(dialect)

    for name in ("survey_draft", "survey_pool"):
        op.create_table(
            name,
            sa.Column("ref", sa.String(length=64), nullable=False),
            sa.Column("sealed", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("ref", name=op.f(f"pk_{name}")),
            sqlite_with_rowid=False,
        )
    release = op.create_table(
        "survey_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("last_group_size", sa.Integer(), nullable=False),
        sa.Column("groups", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_survey_release_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_release")),
    )
    op.bulk_insert(release, [{"id": 1, "released_at": None, "last_group_size": 0, "groups": 0}])

    for table in ("job_application", "registration", "survey_invitation"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("record_key", sa.Integer(), nullable=False, server_default="0"))
        op.execute(f"UPDATE {table} SET record_key = {random_key}")
        with op.batch_alter_table(table) as batch:
            batch.alter_column("record_key", server_default=None)
    # The counts are rebuilt below anyway: a new table, with the cell keys, clustered on its key on SQLite.
    op.drop_table("survey_count")
    _count_table(with_key_sum=True)
    with op.batch_alter_table("survey_invitation") as batch:
        batch.add_column(sa.Column("respondent_salt", sa.String(length=64), nullable=True))

    # Read what has to move before the old columns and table go.
    invitations = bind.execute(sa.text("SELECT id, draft, response_id FROM survey_invitation")).all()
    responses = bind.execute(sa.text(f"SELECT id, source, {', '.join(ANSWER_COLUMNS)} FROM survey_response")).all()
    salts = {invitation_id: secrets.token_hex(32) for invitation_id, _, _ in invitations}
    for invitation_id, salt in salts.items():
        bind.execute(
            sa.text("UPDATE survey_invitation SET respondent_salt = :salt WHERE id = :id"),
            {"salt": salt, "id": invitation_id},
        )
    needs_key = any(draft or response_id for _, draft, response_id in invitations)
    keys = SimpleNamespace(secret_key=_server_key() if needs_key else "")

    from pvd_survey.survey import links

    ref_of_response = {}
    drafts = []
    for invitation_id, draft, response_id in invitations:
        if not (draft or response_id):
            continue
        refs = links._refs(keys, salts[invitation_id])
        if response_id is not None:
            ref_of_response[response_id] = refs.response
        if draft:
            if isinstance(draft, str):  # (SQLite's JSON read through text())
                draft = json.loads(draft)
            drafts.append({"ref": refs.draft, "sealed": links._seal(keys, draft, refs.draft)})

    with op.batch_alter_table("survey_invitation") as batch:
        batch.drop_constraint("uq_survey_invitation_response_id", type_="unique")
        batch.drop_constraint("fk_survey_invitation_response_id_survey_response", type_="foreignkey")
        batch.drop_column("response_id")
        batch.drop_column("draft")
        batch.drop_column("draft_saved_at")
        batch.alter_column("respondent_salt", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("survey_response") as batch:
        batch.drop_index("ix_survey_response_submitted_at")
    op.drop_table("survey_response")
    _response_table()

    rows = []
    for response in responses:
        values = dict(zip(("id", "source", *ANSWER_COLUMNS), response, strict=True))
        old_id = values.pop("id")
        values.update(
            id=secrets.token_hex(16),
            respondent_ref=ref_of_response.get(old_id),
            record_key=secrets.randbelow(256),
        )
        rows.append(values)
    random.SystemRandom().shuffle(rows)
    metadata = sa.MetaData()
    metadata.reflect(bind, only=("survey_response", "survey_draft"))
    if rows:
        bind.execute(metadata.tables["survey_response"].insert(), rows)
    if drafts:
        bind.execute(metadata.tables["survey_draft"].insert(), drafts)
    # The counts are rebuilt with their key sums (the code of this revision's recount).
    _recount(Session(bind=bind))
    # Messages already delivered lose their personal content now, as new ones do at delivery.
    op.execute(
        "UPDATE outbox_message SET body = '', link = NULL, attachments = NULL WHERE status IN ('sent', 'manual')"
    )


def downgrade() -> None:
    # For development only: the links cannot come back (nothing stored leads from an invitation to its
    # answers), so the old structure is rebuilt empty of answers, drafts and counts.
    op.drop_table("survey_response")
    op.create_table(
        "survey_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("start_month", sa.String(length=7), nullable=True),
        sa.Column("start_period", sa.String(length=7), nullable=True),
        sa.Column("employer", sa.String(length=20), nullable=True),
        sa.Column("gender", sa.String(length=20), nullable=True),
        sa.Column("experience", sa.String(length=20), nullable=True),
        sa.Column("diploma", sa.String(length=20), nullable=True),
        sa.Column("training_field", sa.String(length=400), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("source IN ('invitation', 'import')", name=op.f("ck_survey_response_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response")),
    )
    with op.batch_alter_table("survey_response") as batch:
        batch.create_index("ix_survey_response_submitted_at", ["submitted_at"], unique=False)
    with op.batch_alter_table("survey_invitation") as batch:
        batch.add_column(sa.Column("draft", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("draft_saved_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("response_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_survey_invitation_response_id", ["response_id"])
        batch.create_foreign_key(
            "fk_survey_invitation_response_id_survey_response",
            "survey_response",
            ["response_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.drop_column("respondent_salt")
    for table in ("job_application", "registration", "survey_invitation"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("record_key")
    op.drop_table("survey_count")
    _count_table(with_key_sum=False)
    op.drop_table("survey_release")
    op.drop_table("survey_pool")
    op.drop_table("survey_draft")


# ---------------------------------------------------------------------------- this revision's recount
# Frozen here (the app's code moved on): the counts of this revision, rebuilt from the responses.

_RESPONSES_DIMS = ("region", "department", "employer", "start_period")
_RESPONSE = sa.table(
    "survey_response",
    *(
        sa.column(name)
        for name in (
            "region",
            "department",
            "employer",
            "start_period",
            "gender",
            "experience",
            "diploma",
            "training_field",
            "record_key",
        )
    ),
)
_COUNT = sa.table(
    "survey_count",
    *(
        sa.column(name)
        for name in ("region", "department", "employer", "start_period", "question", "option", "count", "key_sum")
    ),
)
RESPONDENTS = "_respondents"
ANSWERED_PREFIX = "_answered:"
ALL = "*"


def _recount(session: Session) -> None:
    """Rebuild the pre-aggregated counts from the responses (repair tool; also used by the benchmark).

    The finest cells are grouped from the responses, then every roll-up is summed from them.
    """
    session.execute(sa.delete(_COUNT))
    dims = [sa.func.coalesce(_RESPONSE.c[name], "") for name in ("region", "department", "employer", "start_period")]

    def finest(question: str, option: str = "", column=None, where=None):
        # Literals are rendered inline so that PostgreSQL knows their type in INSERT ... SELECT.
        option_expr = sa.func.coalesce(column, "") if column is not None else sa.literal(option, literal_execute=True)
        query = sa.select(
            sa.literal(question, literal_execute=True),
            *dims,
            option_expr,
            sa.func.count(),
            sa.func.sum(_RESPONSE.c.record_key),
        ).group_by(*dims)
        if column is not None:
            query = query.group_by(option_expr)
        return query.where(where) if where is not None else query

    queries = [finest(RESPONDENTS)]
    for question in COUNTED_QUESTIONS:
        if question.kind == "multiple":
            padded = sa.literal("|") + _RESPONSE.c.training_field + sa.literal("|")
            queries += [
                finest(question.code, option, where=padded.like(f"%|{option}|%")) for option in question.options
            ]
            queries.append(finest(ANSWERED_PREFIX + question.code, where=_RESPONSE.c.training_field != ""))
        else:
            queries.append(finest(question.code, column=_RESPONSE.c[question.code]))
    target = ["question", "region", "department", "employer", "start_period", "option", "count", "key_sum"]
    for query in queries:
        session.execute(sa.insert(_COUNT).from_select(target, query))

    # Roll-ups, summed from the finest cells (read before any roll-up row exists).
    star = sa.literal(ALL, literal_execute=True)
    c = _COUNT.c
    finest_rows = (c.region != ALL) & (c.department != ALL) & (c.employer != ALL) & (c.start_period != ALL)
    levels = []
    for place in ("finest", "region", "country"):
        for all_employers in (False, True):
            for all_periods in (False, True):
                if place == "finest" and not all_employers and not all_periods:
                    continue
                levels.append((place, all_employers, all_periods))
    selects = []
    for place, all_employers, all_periods in levels:
        region = star if place == "country" else c.region
        department = c.department if place == "finest" else star
        employer = star if all_employers else c.employer
        period = star if all_periods else c.start_period
        group = [c.question, *(col for col in (region, department, employer, period) if col is not star), c.option]
        selects.append(
            sa.select(
                c.question, region, department, employer, period, c.option, sa.func.sum(c.count), sa.func.sum(c.key_sum)
            )
            .where(finest_rows)
            .group_by(*group)
        )
    for query in selects:
        session.execute(sa.insert(_COUNT).from_select(target, query))
