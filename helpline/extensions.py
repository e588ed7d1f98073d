"""Extension objects, bound to an app in create_app()."""

import hashlib
import hmac

from flask import current_app, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from wtforms import ValidationError

# Named constraints so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def configure_sqlite(engine: Engine, *, immediate: bool = True) -> None:
    """SQLite settings for many threads on one file.

    WAL lets readers work while one writer writes. BEGIN IMMEDIATE takes the write lock when a
    transaction starts: SQLite cannot lock a row, and a transaction that read first and writes
    later would otherwise either fail ("database is locked") or decide on stale counts.
    """

    @event.listens_for(engine, "connect")
    def connect(connection, record) -> None:
        connection.isolation_level = None  # the "begin" hook below opens transactions
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def anonymous_rate_key() -> str:
    """Rate-limit key: a keyed hash of the address, so not even Redis holds a visitor's IP."""
    address = (request.remote_addr or "unknown").encode()
    return hmac.new(current_app.config["HASH_KEY"], address, hashlib.sha256).hexdigest()[:32]


# Objects stay readable after commit: the service builds its socket payloads from them without
# reloading. Where a conditional UPDATE bypasses the ORM, the service expires what it changed.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
socketio = SocketIO()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=anonymous_rate_key)


def csrf_valid() -> bool:
    """The form's CSRF token is valid (visitor pages check it to answer with their own page)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return False
    return True
