"""Fixtures: every app-level test runs once on SQLite and once on the real PostgreSQL.

The schema comes from the Alembic migrations (applied once per database per session); tables are
emptied between tests. PostgreSQL and Redis must be reachable: the suite fails, never skips.
"""

import os
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from helpline import create_app
from helpline.config import database_url
from helpline.extensions import db
from helpline.inbox.models import Service
from helpline.phone.rest import SimulatedTwilio
from tests import factories
from tests.addresses import proxied_server, visitor_at  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent


def _postgres_url() -> str:
    for candidate in (os.environ.get("TEST_DATABASE_URL"), os.environ.get("DATABASE_URL")):
        if candidate and candidate.startswith("postgres"):
            return database_url(candidate, "")
    return "postgresql+psycopg://127.0.0.1:5432/test"


POSTGRES_URL = _postgres_url()
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def pytest_sessionstart(session):
    name = make_url(POSTGRES_URL).database or ""
    if "test" not in name:
        pytest.exit(
            f"refusing to run tests against database {name!r}: its name must contain 'test'", 2
        )
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        pytest.exit(
            f"PostgreSQL is unreachable at {POSTGRES_URL}: {error}\n"
            "Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            3,
        )
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as error:
        pytest.exit(
            f"Redis is unreachable at {REDIS_URL}: {error}\n"
            "Start it: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save ''",
            3,
        )


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url_for_tests(request):
    """A migrated database: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        directory = tempfile.mkdtemp(prefix="helpline-test-")
        url = f"sqlite:///{directory}/test.db"
    else:
        url = POSTGRES_URL
    _migrate(url)
    return url


@pytest.fixture
def app(database_url_for_tests):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "ENCRYPTION_KEY": factories.ENCRYPTION_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url_for_tests,
        "REDIS_URL": None,
        "WTF_CSRF_ENABLED": False,
        "VISITOR_SWEEP_SECONDS": 0,
        # The test process is not monkey-patched: its background tasks are threads, whatever
        # DATABASE_URL would choose for a server.
        "SOCKETIO_ASYNC_MODE": "threading",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SOCKETIO_CHANNEL": f"test-{uuid.uuid4().hex}",
        "TWILIO_ACCOUNT_SID": factories.ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": factories.AUTH_TOKEN,
        # Twilio's REST API is the one thing faked: its requests are recorded, per test.
        "TWILIO_HTTP_CLIENT": SimulatedTwilio(),
    }
    # Tests read the database through a twin app object: its context stays pushed for the test,
    # while every socket event still gets a fresh app context of its own, as in production.
    reader = create_app({**config, "SQLITE_BEGIN_IMMEDIATE": False})
    app = create_app(config)
    with app.app_context():
        _empty_tables()
        factories.services()
        db.session.execute(update(Service).values(opening_hours="always"))
        db.session.commit()
    with reader.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    with app.app_context():
        db.engine.dispose()


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()


@pytest.fixture
def line(app):
    """Stop it Now!'s phone number, open day and night."""
    db.session.execute(
        update(Service)
        .where(Service.slug == "stopitnow")
        .values(phone_number=factories.SERVICE_NUMBER)
    )
    db.session.commit()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def visitor(app):
    """A function making anonymous visitor connections on /chat."""
    made = []

    def connect(browser_token: str | None = None):
        v = factories.Visitor(app, browser_token)
        made.append(v)
        return v

    yield connect
    for v in made:
        v.close()


@pytest.fixture
def counsellor(app):
    """A function making signed-in staff connections on /inbox."""
    made = []

    def connect(name: str = "Anna", role: str = "counsellor", max_chats: int = 3, user=None):
        s = factories.Staff(app, user or factories.staff_user(name, role=role, max_chats=max_chats))
        made.append(s)
        return s

    yield connect
    for s in made:
        s.close()


@pytest.fixture
def redis_url():
    return REDIS_URL


@pytest.fixture
def postgres_url():
    return POSTGRES_URL
