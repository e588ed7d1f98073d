"""The schema exists only through Alembic: the migrations and the models describe the same thing."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from helpline.extensions import db


def test_models_and_migration_head_agree(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)

    assert differences == []
