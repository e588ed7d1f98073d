"""supervisors silently watching conversations, one row per watching socket

Revision ID: e17a00000004
Revises: e17a00000003
Create Date: 2026-12-05 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e17a00000004'
down_revision = 'e17a00000003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'conversation_watcher',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sid', sa.String(length=64), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('renewed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['conversation_id'], ['conversation.id'],
            name=op.f('fk_conversation_watcher_conversation_id_conversation'),
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['staff_user.id'],
            name=op.f('fk_conversation_watcher_user_id_staff_user'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_watcher')),
        sa.UniqueConstraint('sid', 'conversation_id', name='uq_watcher_sid_conversation'),
    )
    with op.batch_alter_table('conversation_watcher') as batch_op:
        batch_op.create_index(
            op.f('ix_conversation_watcher_conversation_id'), ['conversation_id'], unique=False
        )
        batch_op.create_index(op.f('ix_conversation_watcher_sid'), ['sid'], unique=False)


def downgrade():
    with op.batch_alter_table('conversation_watcher') as batch_op:
        batch_op.drop_index(op.f('ix_conversation_watcher_sid'))
        batch_op.drop_index(op.f('ix_conversation_watcher_conversation_id'))
    op.drop_table('conversation_watcher')
