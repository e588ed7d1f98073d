"""The schema exists only through Alembic: the migrations and the models describe the same thing."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, select, text

from helpline import create_app
from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.inbox import find
from helpline.inbox.models import Conversation

ROOT = Path(__file__).resolve().parent.parent


# SQLite cannot reflect expression indexes: the full-text indexes exist on PostgreSQL only.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_models_and_migration_head_agree(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)

    assert differences == []


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_upgrading_keeps_every_chat_reachable_by_the_token_its_visitor_holds(
    database, postgres_url, tmp_path
):
    """The migration that keeps conversation tokens only as keyed hashes hashes those already
    stored, with the HASH_KEY of the environment it runs in; downgrading works too."""
    if database == "sqlite":
        url = f"sqlite:///{tmp_path}/upgraded.db"
    else:
        # A schema of its own: the suite's migrated database stays as it is.
        with create_engine(postgres_url).begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS upgraded CASCADE"))
            connection.execute(text("CREATE SCHEMA upgraded"))
        url = f"{postgres_url}?options=-csearch_path%3Dupgraded"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "HASH_KEY": "k" * 64})
    directory = str(ROOT / "migrations")
    try:
        with app.app_context():
            upgrade(directory=directory, revision="8e3f1c0a7b52")
            with db.engine.begin() as connection:
                for statement in BEFORE_HASHED_TOKENS:
                    connection.execute(text(statement))

            upgrade(directory=directory)

            assert find.by_token("held-by-the-visitor").id == 1
            assert db.session.scalar(select(Conversation.token_hash)) == keyed_hash(
                "conversation", "held-by-the-visitor"
            )
            db.session.remove()
            downgrade(directory=directory, revision="8e3f1c0a7b52")
            upgrade(directory=directory)
            db.engine.dispose()
    finally:
        if database == "postgresql":
            with create_engine(postgres_url).begin() as connection:
                connection.execute(text("DROP SCHEMA upgraded CASCADE"))


# A chat as the schema before hashed tokens held it: its message refers to the conversation.
BEFORE_HASHED_TOKENS = (
    "INSERT INTO service (slug, name, opening_hours, chat_enabled, phone_survey) "
    "VALUES ('helpwanted', 'Helpwanted', 'always', true, false)",
    "INSERT INTO conversation (token, service_id, channel, state, abandoned, last_seq, "
    "visitor_read_seq, staff_read_seq, created_at) "
    "VALUES ('held-by-the-visitor', 1, 'chat', 'queued', false, 1, 0, 0, CURRENT_TIMESTAMP)",
    "INSERT INTO message (conversation_id, seq, sender, kind, body, created_at) "
    "VALUES (1, 1, 'visitor', 'text', 'Hallo', CURRENT_TIMESTAMP)",
)
