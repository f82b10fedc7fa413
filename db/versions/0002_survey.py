"""survey

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:02:24.274926
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('app_setting',
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_app_setting'))
    )
    op.create_table('survey_count',
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('department', sa.String(length=3), nullable=False),
    sa.Column('employer', sa.String(length=20), nullable=False),
    sa.Column('start_period', sa.String(length=7), nullable=False),
    sa.Column('question', sa.String(length=40), nullable=False),
    sa.Column('option', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('region', 'department', 'employer', 'start_period', 'question', 'option', name=op.f('pk_survey_count'))
    )
    with op.batch_alter_table('survey_count', schema=None) as batch_op:
        batch_op.create_index('ix_survey_count_dimensions', ['question', 'employer', 'start_period', 'region', 'department'], unique=False)

    op.create_table('survey_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('start_month', sa.String(length=7), nullable=True),
    sa.Column('start_period', sa.String(length=7), nullable=True),
    sa.Column('employer', sa.String(length=20), nullable=True),
    sa.Column('gender', sa.String(length=20), nullable=True),
    sa.Column('experience', sa.String(length=20), nullable=True),
    sa.Column('diploma', sa.String(length=20), nullable=True),
    sa.Column('training_field', sa.String(length=400), nullable=False),
    sa.Column('department', sa.String(length=3), nullable=True),
    sa.Column('region', sa.String(length=2), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("source IN ('invitation', 'import')", name=op.f('ck_survey_response_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_response'))
    )
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_response_submitted_at'), ['submitted_at'], unique=False)

    op.create_table('survey_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('department', sa.String(length=3), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('sent_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('draft', sa.JSON(), nullable=True),
    sa.Column('draft_saved_at', sa.DateTime(), nullable=True),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f('ck_survey_invitation_status')),
    sa.ForeignKeyConstraint(['response_id'], ['survey_response.id'], name=op.f('fk_survey_invitation_response_id_survey_response'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_invitation')),
    sa.UniqueConstraint('email', name=op.f('uq_survey_invitation_email')),
    sa.UniqueConstraint('response_id', name=op.f('uq_survey_invitation_response_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_survey_invitation_token_hash'))
    )



def downgrade() -> None:

    op.drop_table('survey_invitation')
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_response_submitted_at'))

    op.drop_table('survey_response')
    with op.batch_alter_table('survey_count', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_count_dimensions')

    op.drop_table('survey_count')
    op.drop_table('app_setting')

