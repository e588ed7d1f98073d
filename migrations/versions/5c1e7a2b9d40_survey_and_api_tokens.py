"""survey answers, API tokens, phone survey setting

Revision ID: 5c1e7a2b9d40
Revises: ad9fcf7ba61a
Create Date: 2026-11-23 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1e7a2b9d40'
down_revision = 'ad9fcf7ba61a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('survey_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('satisfied', sa.Boolean(), nullable=True),
    sa.Column('felt_better', sa.Boolean(), nullable=True),
    sa.Column('would_recommend', sa.Boolean(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("channel IN ('chat', 'form', 'phone')", name=op.f('ck_survey_answer_channel')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_survey_answer_conversation_id_conversation')),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_survey_answer_service_id_service')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answer')),
    sa.UniqueConstraint('conversation_id', name=op.f('uq_survey_answer_conversation_id'))
    )
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_answer_answered_at'), ['answered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_answer_service_id'), ['service_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_api_token_user_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_survey', sa.Boolean(), nullable=False, server_default=sa.false()))

    # The report's queries: contact moments by start, conversations by opening.
    with op.batch_alter_table('contact_moment', schema=None) as batch_op:
        batch_op.create_index('ix_contact_moment_started_at', ['started_at'], unique=False)
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_created_at', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_created_at')
    with op.batch_alter_table('contact_moment', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_moment_started_at')
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_column('phone_survey')

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))
    op.drop_table('api_token')
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_answer_service_id'))
        batch_op.drop_index(batch_op.f('ix_survey_answer_answered_at'))
    op.drop_table('survey_answer')
