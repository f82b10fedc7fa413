"""meeting tickets, the door and certificates: each registration's ticket hash, « accueil » door passes

- `registration.ticket_hash`: the SHA-256 of the ticket's code, which is made again whenever needed from the
  server key, the meeting and the registration's reference (`PVD-R<meeting>-<26 base32 characters>`); the code
  itself is never stored. Every registration not yet anonymised gets its hash here, so the tickets of people
  registered before this version work at the door like the new ones (shown on their private page; e-mailed
  with their next message).
- `registration.certificate_sent_at`: when the attendance certificate was e-mailed (once per person).
- `door_pass`: the people the direction names « accueil » for a meeting; their personal link (only its hash
  stored) opens that meeting's door page.
- `pvd_register` (PostgreSQL, migration 0007) takes the ticket hash too.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:40:00
"""

import base64
import hashlib
import hmac
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CREATE = """
CREATE FUNCTION pvd_register(
    p_meeting_id integer,
    p_email varchar,
    p_full_name varchar,
    p_attendee_role varchar,
    p_organisation varchar,
    p_department varchar,
    p_needs text,
    p_token_hash varchar,
    p_ticket_hash varchar,
    p_reference varchar,
    p_record_key integer,
    p_now timestamp without time zone,
    p_mail_now timestamp without time zone,
    p_link varchar,
    p_confirmed_subject varchar,
    p_confirmed_body text,
    p_confirmed_kind varchar,
    p_confirmed_attachments json,
    p_waiting_subject varchar,
    p_waiting_body text,
    p_waiting_kind varchar,
    p_waiting_attachments json,
    p_position_marker text,
    OUT o_arrival integer,
    OUT o_seated boolean,
    OUT o_registration_id integer,
    OUT o_position integer
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_last_seat_arrival integer;
BEGIN
    -- Number the attempt and take a place if one is free; every SET reads the row as it was, so
    -- last_seat_arrival equals our arrival exactly when we took a place. Takes the row lock.
    UPDATE meeting
       SET arrivals = arrivals + 1,
           confirmed_count = CASE WHEN confirmed_count < capacity THEN confirmed_count + 1
                                  ELSE confirmed_count END,
           last_seat_arrival = CASE WHEN confirmed_count < capacity THEN arrivals + 1
                                    ELSE last_seat_arrival END
     WHERE id = p_meeting_id
    RETURNING arrivals, last_seat_arrival INTO o_arrival, v_last_seat_arrival;
    IF NOT FOUND THEN
        RETURN;  -- o_arrival NULL: no such meeting
    END IF;
    o_seated := v_last_seat_arrival = o_arrival;

    INSERT INTO registration (
        meeting_id, arrival, status, email, full_name, attendee_role, organisation, department,
        needs, token_hash, ticket_hash, reference, consented_at, created_at, confirmed_at, cancelled_at,
        cancelled_by, reminded_at, checked_in_at, record_key
    ) VALUES (
        p_meeting_id, o_arrival, CASE WHEN o_seated THEN 'confirmed' ELSE 'waiting' END, p_email,
        p_full_name, p_attendee_role, p_organisation, p_department, p_needs, p_token_hash,
        p_ticket_hash, p_reference, p_now, p_now, CASE WHEN o_seated THEN p_now END, NULL, NULL, NULL, NULL,
        p_record_key
    )
    ON CONFLICT (meeting_id, email) DO NOTHING
    RETURNING id INTO o_registration_id;
    IF o_registration_id IS NULL THEN
        -- The same e-mail registered a moment ago: give the place back, the caller answers as a
        -- second attempt.
        IF o_seated THEN
            UPDATE meeting SET confirmed_count = confirmed_count - 1 WHERE id = p_meeting_id;
        END IF;
        RETURN;
    END IF;

    IF NOT o_seated THEN
        SELECT count(*) + 1 INTO o_position
          FROM registration
         WHERE meeting_id = p_meeting_id AND status = 'waiting' AND arrival < o_arrival;
    END IF;

    INSERT INTO outbox_message (recipient, subject, body, link, kind, attachments, status, attempts,
                                next_attempt_at, created_at)
    VALUES (
        p_email,
        CASE WHEN o_seated THEN p_confirmed_subject
             ELSE replace(p_waiting_subject, p_position_marker, o_position::text) END,
        CASE WHEN o_seated THEN p_confirmed_body
             ELSE replace(p_waiting_body, p_position_marker, o_position::text) END,
        p_link,
        CASE WHEN o_seated THEN p_confirmed_kind ELSE p_waiting_kind END,
        CASE WHEN o_seated THEN p_confirmed_attachments ELSE p_waiting_attachments END,
        'pending', 0, p_mail_now, p_mail_now
    );
END;
$$"""


def _server_key() -> str:
    key = context.config.attributes.get("secret_key")
    if key:
        return key
    from pvd_survey.config import load_settings

    return load_settings().secret_key


def ticket_hash(secret_key: str, meeting_id: int, reference: str) -> str:
    """The SHA-256 of a ticket's code, as this version makes it (written out: the app's code may change)."""
    subject = f"pvd/billet/{meeting_id}/{reference}".encode()
    digest = hmac.new(secret_key.encode("utf-8"), subject, hashlib.sha256).digest()
    code = f"PVD-R{meeting_id}-" + base64.b32encode(digest[:16]).decode("ascii").rstrip("=")
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _function_of_0007() -> str:
    path = Path(__file__).with_name("0007_registration_function.py")
    spec = importlib.util.spec_from_file_location("pvd_migration_0007", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CREATE


def upgrade() -> None:
    with op.batch_alter_table("registration") as batch:
        batch.add_column(sa.Column("ticket_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(op.f("uq_registration_ticket_hash"), ["ticket_hash"])
        batch.add_column(sa.Column("certificate_sent_at", sa.DateTime(), nullable=True))
    op.create_table(
        "door_pass",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_door_pass_meeting_id_meeting"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_door_pass")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_door_pass_token_hash")),
    )
    op.create_index(op.f("ix_door_pass_meeting_id"), "door_pass", ["meeting_id"], unique=False)
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, meeting_id, reference FROM registration WHERE anonymised_at IS NULL")).all()
    if rows:
        key = _server_key()
        bind.execute(
            sa.text("UPDATE registration SET ticket_hash = :hash WHERE id = :id"),
            [{"id": row.id, "hash": ticket_hash(key, row.meeting_id, row.reference)} for row in rows],
        )
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION pvd_register")
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION pvd_register")
        op.execute(_function_of_0007())
    op.drop_index(op.f("ix_door_pass_meeting_id"), table_name="door_pass")
    op.drop_table("door_pass")
    with op.batch_alter_table("registration") as batch:
        batch.drop_column("certificate_sent_at")
        batch.drop_constraint(op.f("uq_registration_ticket_hash"), type_="unique")
        batch.drop_column("ticket_hash")
