"""visitor blocks, and a limit on each service's chat queue

Revision ID: d15f00000001
Revises: e15f00000001
Create Date: 2026-12-04 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd15f00000001'
down_revision = 'e15f00000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('chat_queue_limit', sa.Integer(), server_default='30', nullable=False)
        )
        batch_op.create_check_constraint('chat_queue_limit', 'chat_queue_limit > 0')

    op.create_table(
        'visitor_block',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=False),
        sa.Column('blocked_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('until', sa.DateTime(), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('lifted_at', sa.DateTime(), nullable=True),
        sa.Column('lifted_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('until > created_at', name=op.f('ck_visitor_block_ends_after_start')),
        sa.CheckConstraint('length(reason) > 0', name=op.f('ck_visitor_block_has_reason')),
        sa.ForeignKeyConstraint(
            ['client_id'], ['client.id'], name=op.f('fk_visitor_block_client_id_client')
        ),
        sa.ForeignKeyConstraint(
            ['conversation_id'],
            ['conversation.id'],
            name=op.f('fk_visitor_block_conversation_id_conversation'),
        ),
        sa.ForeignKeyConstraint(
            ['blocked_by_id'],
            ['staff_user.id'],
            name=op.f('fk_visitor_block_blocked_by_id_staff_user'),
        ),
        sa.ForeignKeyConstraint(
            ['lifted_by_id'],
            ['staff_user.id'],
            name=op.f('fk_visitor_block_lifted_by_id_staff_user'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_visitor_block')),
    )
    op.create_index(
        'ix_visitor_block_client_until', 'visitor_block', ['client_id', 'until'], unique=False
    )


def downgrade():
    op.drop_index('ix_visitor_block_client_until', table_name='visitor_block')
    op.drop_table('visitor_block')
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_service_chat_queue_limit'), type_='check')
        batch_op.drop_column('chat_queue_limit')
