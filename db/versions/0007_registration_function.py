"""registration in one round trip on PostgreSQL: the function pvd_register

A new registration on PostgreSQL is one call of this function, so the meeting's row lock is held
for one round trip (and the commit) instead of four. It runs exactly the statements the portable
path of `pvd_survey/meetings/registration.py` runs, in the same order: number the attempt and take
a place if one is free (the UPDATE takes the row lock); insert the registration, or give the place
back if the same e-mail registered a moment ago (ON CONFLICT DO NOTHING); count the waiting list
ahead; queue the e-mail in the outbox. Every statement of a PL/pgSQL function sees what committed
before it (READ COMMITTED takes a fresh snapshot per statement), as separate statements would.

The e-mail is written by Python, both ways (confirmed, with its .ics; waiting, with a marker where
the position goes): the function only picks one and puts the position in. SQLite has no such
functions and keeps the portable path.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:10:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
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
        needs, token_hash, reference, consented_at, created_at, confirmed_at, cancelled_at,
        cancelled_by, reminded_at, checked_in_at, record_key
    ) VALUES (
        p_meeting_id, o_arrival, CASE WHEN o_seated THEN 'confirmed' ELSE 'waiting' END, p_email,
        p_full_name, p_attendee_role, p_organisation, p_department, p_needs, p_token_hash,
        p_reference, p_now, p_now, CASE WHEN o_seated THEN p_now END, NULL, NULL, NULL, NULL,
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
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS pvd_register")
