"""Rows read with Core statements, put into the session as the ORM objects a query would load.

On the paths every chat message takes (the staff member behind a socket event, the conversation
a message belongs to), the ORM's query machinery (cache keys, compile state, row processors for
joined relationships) costs several times the statement itself. There, a prebuilt Core
statement reads the rows and `loaded` turns each into an object: in the session, unmodified,
its relationships loaded or loading lazily, exactly as after `session.get`.
"""

import functools
from collections.abc import Sequence

from sqlalchemy import inspect
from sqlalchemy.engine import Row
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict

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
