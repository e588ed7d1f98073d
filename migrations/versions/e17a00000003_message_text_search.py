"""full-text search over what was said: GIN indexes of the message text on PostgreSQL

Revision ID: e17a00000003
Revises: e17a00000002
Create Date: 2026-12-05 22:30:00.000000

Two expression indexes, one per text-search configuration the search matches with: `simple`
(every word as typed) and `dutch` (stemmed, without stop words). The search's expressions must
be exactly these for PostgreSQL to use them (helpline/search/text.py). SQLite searches with
LIKE and has no index for it.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e17a00000003'
down_revision = 'e17a00000002'
branch_labels = None
depends_on = None

CONFIGURATIONS = ('simple', 'dutch')


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for configuration in CONFIGURATIONS:
        op.execute(
            f'CREATE INDEX ix_message_body_{configuration} ON message '
            f"USING gin (to_tsvector('{configuration}'::regconfig, body))"
        )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for configuration in CONFIGURATIONS:
        op.execute(f'DROP INDEX ix_message_body_{configuration}')
