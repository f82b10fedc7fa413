"""meetings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 07:52:38.051222
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=True),
    sa.Column('city', sa.String(length=120), nullable=False),
    sa.Column('venue', sa.String(length=300), nullable=False),
    sa.Column('online_url', sa.String(length=500), nullable=True),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('confirmed_count', sa.Integer(), nullable=False),
    sa.Column('arrivals', sa.Integer(), nullable=False),
    sa.Column('last_seat_arrival', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('registration_opens_at', sa.DateTime(), nullable=False),
    sa.Column('registration_closes_at', sa.DateTime(), nullable=False),
    sa.Column('audiences', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('rencontre_regionale', 'atelier', 'webinaire', 'autre')", name=op.f('ck_meeting_kind')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_meeting_capacity_positive')),
    sa.CheckConstraint('confirmed_count >= 0 AND confirmed_count <= capacity', name=op.f('ck_meeting_seats_within_capacity')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_meeting_ends_after_start')),
    sa.CheckConstraint('registration_closes_at <= starts_at', name=op.f('ck_meeting_closes_before_start')),
    sa.CheckConstraint('registration_opens_at < registration_closes_at', name=op.f('ck_meeting_opens_before_closing')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting'))
    )
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.create_index('ix_meeting_upcoming', ['starts_at', 'region'], unique=False)

    op.create_table('registration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('arrival', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('attendee_role', sa.String(length=20), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('department', sa.String(length=3), nullable=True),
    sa.Column('needs', sa.Text(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('consented_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_by', sa.String(length=20), nullable=True),
    sa.Column('reminded_at', sa.DateTime(), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('anonymised_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("attendee_role IN ('chef_de_projet', 'elu', 'partenaire', 'autre')", name=op.f('ck_registration_attendee_role')),
    sa.CheckConstraint("status IN ('confirmed', 'waiting', 'cancelled')", name=op.f('ck_registration_status')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], name=op.f('fk_registration_meeting_id_meeting'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration')),
    sa.UniqueConstraint('meeting_id', 'arrival', name='one_per_arrival'),
    sa.UniqueConstraint('meeting_id', 'email', name='one_per_email'),
    sa.UniqueConstraint('reference', name=op.f('uq_registration_reference')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_registration_token_hash'))
    )
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.create_index('ix_registration_queue', ['meeting_id', 'status', 'arrival'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index('ix_registration_queue')

    op.drop_table('registration')
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_index('ix_meeting_upcoming')

    op.drop_table('meeting')
