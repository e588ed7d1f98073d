"""retention period per service, purge marks, conversation tokens kept only as a keyed hash

Revision ID: e15f00000001
Revises: a15f00000001
Create Date: 2026-12-04 16:30:00.000000

The tokens are hashed with the HASH_KEY of the app that runs the migration (`flask db
upgrade`: the same environment as the servers, see docs/deploy.md). A new column replaces the
old one rather than hashing in place: a column named `token` holding hashes would mislead,
and code comparing a raw token with it would silently find nothing instead of failing.
Downgrading cannot bring the tokens back: the old column then holds the hashes, so no
conversation of before can be resumed.
"""
import hashlib
import hmac

from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'e15f00000001'
down_revision = 'a15f00000001'
branch_labels = None
depends_on = None

conversation = sa.table(
    'conversation',
    sa.column('id', sa.Integer),
    sa.column('token', sa.String),
    sa.column('token_hash', sa.String),
)


def _keyed_hash(token):
    # As helpline.codes.keyed_hash("conversation", token), with the running app's HASH_KEY.
    key = current_app.config['HASH_KEY']
    return hmac.new(key, f'conversation:{token}'.encode(), hashlib.sha256).hexdigest()


def upgrade():
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('retention_days', sa.Integer(), server_default='365', nullable=False)
        )
        batch_op.add_column(sa.Column('retention_lease_until', sa.DateTime(), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f('ck_service_retention_days_positive'), 'retention_days >= 1'
        )

    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(), nullable=True))

    bind = op.get_bind()
    rows = bind.execute(sa.select(conversation.c.id, conversation.c.token)).all()
    hashed = [{'row_id': row_id, 'hashed': _keyed_hash(token)} for row_id, token in rows]
    if hashed:
        bind.execute(
            conversation.update()
            .where(conversation.c.id == sa.bindparam('row_id'))
            .values(token_hash=sa.bindparam('hashed')),
            hashed,
        )

    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_conversation_token'), type_='unique')
        batch_op.drop_column('token')
        batch_op.create_unique_constraint(batch_op.f('uq_conversation_token_hash'), ['token_hash'])


def downgrade():
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token', sa.String(length=64), nullable=True))

    # The tokens themselves are gone: each conversation gets its hash, unique and unusable.
    bind = op.get_bind()
    bind.execute(
        conversation.update().values(
            token=sa.func.coalesce(conversation.c.token_hash, sa.cast(conversation.c.id, sa.String))
        )
    )

    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_conversation_token_hash'), type_='unique')
        batch_op.drop_column('purged_at')
        batch_op.drop_column('token_hash')
        batch_op.alter_column('token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_conversation_token'), ['token'])

    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_service_retention_days_positive'), type_='check')
        batch_op.drop_column('retention_lease_until')
        batch_op.drop_column('retention_days')
