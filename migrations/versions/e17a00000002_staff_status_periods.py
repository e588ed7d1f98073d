"""staff status periods: available, away or on break, for the board and hours available

Revision ID: e17a00000002
Revises: d15f00000001
Create Date: 2026-12-05 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e17a00000002'
down_revision = 'd15f00000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_connection') as batch_op:
        batch_op.add_column(
            sa.Column('board_only', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        'staff_status_period',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('available', 'away', 'on_break')",
            name=op.f('ck_staff_status_period_status'),
        ),
        sa.CheckConstraint(
            'ended_at IS NULL OR ended_at >= started_at',
            name=op.f('ck_staff_status_period_ends_after_start'),
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['staff_user.id'],
            name=op.f('fk_staff_status_period_user_id_staff_user'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_status_period')),
    )
    with op.batch_alter_table('staff_status_period') as batch_op:
        batch_op.create_index(
            'uq_staff_status_period_open', ['user_id'], unique=True,
            postgresql_where=sa.text('ended_at IS NULL'),
            sqlite_where=sa.text('ended_at IS NULL'),
        )
        batch_op.create_index('ix_staff_status_period_started_at', ['started_at'], unique=False)


def downgrade():
    with op.batch_alter_table('staff_status_period') as batch_op:
        batch_op.drop_index('ix_staff_status_period_started_at')
        batch_op.drop_index('uq_staff_status_period_open')
    op.drop_table('staff_status_period')
    with op.batch_alter_table('staff_connection') as batch_op:
        batch_op.drop_column('board_only')
