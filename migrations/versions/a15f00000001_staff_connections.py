"""the live inbox sockets of each staff member, so that signing out ends them on every server

Revision ID: a15f00000001
Revises: b15f00000001
Create Date: 2026-12-04 16:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a15f00000001'
down_revision = 'b15f00000001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'staff_connection',
        sa.Column('sid', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('connected_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'], ['staff_user.id'],
            name=op.f('fk_staff_connection_user_id_staff_user'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('sid', name=op.f('pk_staff_connection')),
    )
    with op.batch_alter_table('staff_connection') as batch_op:
        batch_op.create_index(op.f('ix_staff_connection_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('staff_connection') as batch_op:
        batch_op.drop_index(op.f('ix_staff_connection_user_id'))
    op.drop_table('staff_connection')
