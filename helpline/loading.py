"""Rows read with Core statements, put into the session as the ORM objects a query would load.

On the paths every chat message takes (the staff member behind a socket event, the conversation
a message belongs to), the ORM's query machinery (cache keys, compile state, row processors for
joined relationships) costs several times the statement itself. There, a prebuilt Core
statement reads the rows and `loaded` turns each into an object: in the session, unmodified,
its relationships loaded or loading lazily, exactly as after `session.get`.

On PostgreSQL, a statement the session runs between transactions (a socket event's first read,
a message's append) runs as a transaction of its own (`_alone`): autocommit, without the round
trips of BEGIN and COMMIT, each of which waits for PostgreSQL and for the event loop to come
back to the event. At READ COMMITTED every statement sees what was committed before it
started, so a read alone sees what it would see as a transaction's first statement.
"""

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from sqlalchemy import event, inspect
from sqlalchemy.engine import Compiled, Connection, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict
from sqlalchemy.sql import Executable

from helpline.extensions import db


@functools.cache
def columns(model: type) -> tuple:
    """The model's table columns, in the order `from_row` expects them."""
    return tuple(model.__table__.columns)


@functools.cache
def attribute_keys(model: type) -> tuple[str, ...]:
    """The model's attribute names, in the order of `columns(model)`."""
    mapper = inspect(model)
    return tuple(mapper.get_property_by_column(column).key for column in columns(model))


@functools.cache
def _key_attributes(model: type) -> tuple[str, ...]:
    mapper = inspect(model)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


def in_session(model: type, key: object):
    """`session.get(model, key)` when the session already holds that object (refreshed if it
    has expired), without a query otherwise: None, for the caller to read it its own way."""
    session = db.session()
    if session.identity_key(model, key) in session.identity_map:
        return session.get(model, key)
    return None


def from_row(model: type, row: Row | Sequence, start: int = 0):
    """The object of `model` from the row's values at `start`, in `columns(model)` order; None
    when its key is NULL (nothing matched an outer join)."""
    keys = attribute_keys(model)
    values = dict(zip(keys, row[start : start + len(keys)], strict=True))
    return loaded(model, values)


def loaded(model: type, values: dict):
    """The session's object of `model` with these column values (all of them, key included).

    An object the session already holds is returned as it is, as a query would.
    """
    key_values = [values[name] for name in _key_attributes(model)]
    if None in key_values:
        return None
    mapper = inspect(model)
    session = db.session()
    existing = session.identity_map.get(mapper.identity_key_from_primary_key(key_values))
    if existing is not None:
        return existing
    # As the ORM's own loading does: no constructor, no attribute events, the values set as
    # loaded; then the object is given its identity as if it had been loaded and detached.
    instance = mapper.class_manager.new_instance()
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def between_transactions() -> bool:
    """True on PostgreSQL when the session holds no connection (it has no transaction open
    on the database) and has nothing to flush: its next statement can then run alone."""
    session = db.session()
    return (
        db.engine.dialect.name == "postgresql"
        and _CONNECTED not in session.info
        and not (session.new or session.dirty or session.deleted)
    )


# A session's transaction may be begun without a connection (adding an object begins one):
# what matters is whether it holds a connection, which these events track.
_CONNECTED = "helpline.connected"


@event.listens_for(Session, "after_begin")
def _connected(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    session.info[_CONNECTED] = True


@event.listens_for(Session, "after_transaction_end")
def _released(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CONNECTED, None)


def _alone(driver: "_DriverStatement", parameters: Mapping) -> Sequence[Sequence]:
    """Run one statement as a transaction of its own and return its rows: committed (and
    durable) when this returns, or, if it fails, without a trace. Only `between_transactions`.

    It runs on a pooled connection of its own, in autocommit, straight through the driver
    (compiled once, see `_for_driver`): on a socket event's path, SQLAlchemy's execution and
    session bookkeeping cost more CPU than PostgreSQL takes to run the statement. The session
    keeps the objects it holds and stays between transactions.
    """
    values = driver.compiled.construct_params(parameters)
    for name, process in driver.bind_processors:
        values[name] = process(values[name])
    engine = db.engine
    pooled = engine.raw_connection()
    try:
        connection = pooled.driver_connection
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(driver.sql, values)
                # Not `description`, which builds a column object for each of the row's
                # (some sixty) columns on every call.
                return cursor.fetchall() if cursor.rownumber is not None else []
        finally:
            if not connection.closed:
                connection.autocommit = False  # as the pool hands it out to sessions
    except engine.dialect.loaded_dbapi.Error as error:
        if engine.dialect.is_disconnect(error, pooled, None):
            pooled.invalidate(error)
        raise DBAPIError.instance(
            driver.sql,
            values,
            error,
            engine.dialect.loaded_dbapi.Error,
            hide_parameters=engine.hide_parameters,
            dialect=engine.dialect,
        ) from error
    finally:
        pooled.close()


class _DriverStatement(NamedTuple):
    sql: str
    compiled: Compiled
    bind_processors: tuple[tuple[str, Callable], ...]


@functools.cache
def _for_driver(statement: Executable) -> _DriverStatement | None:
    """The statement compiled for PostgreSQL's driver once, with the conversions SQLAlchemy
    would apply to its parameters; None when its rows would need converting too, or its
    parameters expanding (it then runs in the session's transaction)."""
    dialect = db.engine.dialect
    compiled = statement.compile(dialect=dialect)
    if compiled.positional or any(bind.expanding for bind in compiled.binds.values()):
        return None
    for column in statement.exported_columns:
        if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
            return None
    processors = tuple(
        (name, process)
        for name, bind in compiled.binds.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    return _DriverStatement(compiled.string, compiled, processors)


def first(statement: Executable, parameters: Mapping) -> Sequence | None:
    """The statement's first row: run alone between transactions (unless its rows need
    SQLAlchemy's conversions), else in the session's transaction."""
    driver = _for_driver(statement) if between_transactions() else None
    if driver is not None:
        rows = _alone(driver, parameters)
        return rows[0] if rows else None
    return db.session.connection().execute(statement, parameters).first()
