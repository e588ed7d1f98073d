"""canned responses, and the language of a conversation

Revision ID: e17a00000001
Revises: e17a00000004
Create Date: 2026-12-05 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e17a00000001'
down_revision = 'e17a00000004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=2), nullable=True))
        batch_op.create_check_constraint('language', "language IS NULL OR language IN ('nl', 'en')")

    op.create_table(
        'canned_response',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('shortcut', sa.String(length=40), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('language', sa.String(length=2), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("language IN ('nl', 'en')", name=op.f('ck_canned_response_language')),
        sa.CheckConstraint('length(shortcut) > 0', name=op.f('ck_canned_response_has_shortcut')),
        sa.ForeignKeyConstraint(
            ['service_id'], ['service.id'], name=op.f('fk_canned_response_service_id_service')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_response')),
        sa.UniqueConstraint(
            'service_id', 'shortcut', 'language', name='uq_canned_response_shortcut'
        ),
    )
    with op.batch_alter_table('canned_response', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_canned_response_service_id'), ['service_id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('canned_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_canned_response_service_id'))

    op.drop_table('canned_response')

    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_conversation_language'), type_='check')
        batch_op.drop_column('language')
