"""recruitment

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:55:34.286658
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recruiter_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('organisation_name', sa.String(length=200), nullable=False),
    sa.Column('organisation_kind', sa.String(length=20), nullable=False),
    sa.Column('department', sa.String(length=3), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("organisation_kind IN ('epci', 'commune', 'autre')", name=op.f('ck_recruiter_request_organisation_kind')),
    sa.CheckConstraint("status IN ('unconfirmed', 'pending', 'approved', 'refused')", name=op.f('ck_recruiter_request_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recruiter_request')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_recruiter_request_token_hash'))
    )
    with op.batch_alter_table('recruiter_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recruiter_request_email'), ['email'], unique=False)
        batch_op.create_index('ix_recruiter_request_status', ['status', 'created_at'], unique=False)

    op.create_table('job_posting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('employer_kind', sa.String(length=20), nullable=False),
    sa.Column('department', sa.String(length=3), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=False),
    sa.Column('communes', sa.Text(), nullable=False),
    sa.Column('contract', sa.String(length=20), nullable=False),
    sa.Column('working_time', sa.String(length=100), nullable=False),
    sa.Column('salary_min', sa.Integer(), nullable=True),
    sa.Column('salary_max', sa.Integer(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('missions', sa.Text(), nullable=False),
    sa.Column('anah_opah_ru', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("contract IN ('projet', 'cdd', 'titulaire', 'autre')", name=op.f('ck_job_posting_contract')),
    sa.CheckConstraint("status IN ('draft', 'published', 'closed', 'filled')", name=op.f('ck_job_posting_status')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_job_posting_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_posting'))
    )
    with op.batch_alter_table('job_posting', schema=None) as batch_op:
        batch_op.create_index('ix_job_posting_board_department', ['status', 'department', 'published_at'], unique=False)
        batch_op.create_index('ix_job_posting_board_region', ['status', 'region', 'published_at'], unique=False)
        batch_op.create_index('ix_job_posting_organisation', ['organisation_id', 'status'], unique=False)
        batch_op.create_index('ix_job_posting_status_deadline', ['status', 'deadline'], unique=False)

    op.create_table('job_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('posting_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('full_name', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('cover_letter_text', sa.Text(), nullable=True),
    sa.Column('consent_contact', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rejection_reason', sa.String(length=20), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('last_contact_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("rejection_reason IS NULL OR rejection_reason IN ('profil', 'pourvu', 'doublon', 'autre')", name=op.f('ck_job_application_reason')),
    sa.CheckConstraint("status IN ('recue', 'examen', 'entretien', 'retenue', 'non_retenue', 'retiree')", name=op.f('ck_job_application_status')),
    sa.ForeignKeyConstraint(['posting_id'], ['job_posting.id'], name=op.f('fk_job_application_posting_id_job_posting')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_application')),
    sa.UniqueConstraint('posting_id', 'email', name='uq_job_application_posting_email'),
    sa.UniqueConstraint('reference', name=op.f('uq_job_application_reference')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_job_application_token_hash'))
    )
    with op.batch_alter_table('job_application', schema=None) as batch_op:
        batch_op.create_index('ix_job_application_email', ['email'], unique=False)
        batch_op.create_index('ix_job_application_pipeline', ['posting_id', 'status', 'created_at'], unique=False)

    op.create_table('password_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_password_token_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_password_token_token_hash'))
    )
    with op.batch_alter_table('password_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_token_user_id'), ['user_id'], unique=False)

    op.create_table('application_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('storage_name', sa.String(length=36), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('cv', 'letter')", name=op.f('ck_application_file_kind')),
    sa.ForeignKeyConstraint(['application_id'], ['job_application.id'], name=op.f('fk_application_file_application_id_job_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_file')),
    sa.UniqueConstraint('application_id', 'kind', name='uq_application_file_application_kind'),
    sa.UniqueConstraint('storage_name', name=op.f('uq_application_file_storage_name'))
    )


def downgrade() -> None:
    op.drop_table('application_file')
    with op.batch_alter_table('password_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_token_user_id'))

    op.drop_table('password_token')
    with op.batch_alter_table('job_application', schema=None) as batch_op:
        batch_op.drop_index('ix_job_application_pipeline')
        batch_op.drop_index('ix_job_application_email')

    op.drop_table('job_application')
    with op.batch_alter_table('job_posting', schema=None) as batch_op:
        batch_op.drop_index('ix_job_posting_status_deadline')
        batch_op.drop_index('ix_job_posting_organisation')
        batch_op.drop_index('ix_job_posting_board_region')
        batch_op.drop_index('ix_job_posting_board_department')

    op.drop_table('job_posting')
    with op.batch_alter_table('recruiter_request', schema=None) as batch_op:
        batch_op.drop_index('ix_recruiter_request_status')
        batch_op.drop_index(batch_op.f('ix_recruiter_request_email'))

    op.drop_table('recruiter_request')
