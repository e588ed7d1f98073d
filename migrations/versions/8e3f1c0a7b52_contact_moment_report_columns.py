"""contact moments and conversation categories carry copies of their conversation, for the report

Revision ID: 8e3f1c0a7b52
Revises: 5c1e7a2b9d40
Create Date: 2026-11-23 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8e3f1c0a7b52'
down_revision = '5c1e7a2b9d40'
branch_labels = None
depends_on = None

# A person is the client, or minus the conversation when no client is known.
COPIES = {
    'contact_moment': {
        'service_id': 'c.service_id',
        'channel': 'c.channel',
        'person': 'COALESCE(c.client_id, -c.id)',
    },
    'conversation_category': {
        'service_id': 'c.service_id',
        'opened_at': 'c.created_at',
        'person': 'COALESCE(c.client_id, -c.id)',
    },
}
TYPES = {
    'service_id': sa.Integer(),
    'channel': sa.String(length=10),
    'person': sa.Integer(),
    'opened_at': sa.DateTime(),
}


def _backfill(table):
    copies = COPIES[table]
    if op.get_bind().dialect.name == 'postgresql':
        assignments = ', '.join(f'{column} = {value}' for column, value in copies.items())
        op.execute(
            f'UPDATE {table} AS t SET {assignments} '
            'FROM conversation AS c WHERE c.id = t.conversation_id'
        )
    else:
        assignments = ', '.join(
            f'{column} = (SELECT {value} FROM conversation AS c '
            f'WHERE c.id = {table}.conversation_id)'
            for column, value in copies.items()
        )
        op.execute(f'UPDATE {table} SET {assignments}')


def upgrade():
    for table, copies in COPIES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in copies:
                batch_op.add_column(sa.Column(column, TYPES[column], nullable=True))
        _backfill(table)

    with op.batch_alter_table('contact_moment', schema=None) as batch_op:
        for column in COPIES['contact_moment']:
            batch_op.alter_column(column, existing_type=TYPES[column], nullable=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_contact_moment_service_id_service'), 'service', ['service_id'], ['id']
        )
        batch_op.create_check_constraint('channel', "channel IN ('chat', 'form', 'phone')")
        batch_op.drop_index('ix_contact_moment_started_at')
        batch_op.create_index(
            'ix_contact_moment_report',
            ['started_at'],
            unique=False,
            postgresql_include=['service_id', 'channel', 'kind', 'person'],
        )

    with op.batch_alter_table('conversation_category', schema=None) as batch_op:
        for column in COPIES['conversation_category']:
            batch_op.alter_column(column, existing_type=TYPES[column], nullable=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_conversation_category_service_id_service'),
            'service',
            ['service_id'],
            ['id'],
        )
        batch_op.create_index(
            'ix_conversation_category_report',
            ['opened_at'],
            unique=False,
            postgresql_include=['service_id', 'category_id', 'conversation_id', 'person'],
        )


def downgrade():
    with op.batch_alter_table('conversation_category', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_category_report')
        batch_op.drop_constraint(
            batch_op.f('fk_conversation_category_service_id_service'), type_='foreignkey'
        )
        for column in reversed(COPIES['conversation_category']):
            batch_op.drop_column(column)

    with op.batch_alter_table('contact_moment', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_moment_report')
        batch_op.create_index('ix_contact_moment_started_at', ['started_at'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_contact_moment_channel'), type_='check')
        batch_op.drop_constraint(
            batch_op.f('fk_contact_moment_service_id_service'), type_='foreignkey'
        )
        for column in reversed(COPIES['contact_moment']):
            batch_op.drop_column(column)
