"""One way for every socket handler to validate, answer with an ack, and fail without a 500."""

import functools
from collections.abc import Callable

from flask import current_app
from flask_login import current_user
from marshmallow import Schema, ValidationError

from helpline.extensions import db
from helpline.inbox.errors import InboxError


def error_ack(code: str, message: str, **extra) -> dict:
    """The ack of a refused event."""
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


def acked(schema: Schema, *, staff: bool = False) -> Callable:
    """Validate the payload with `schema`, run the handler, and ack its result or the error."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def run(payload=None, *_ignored):
            if staff and not current_user.is_authenticated:
                return error_ack("unauthorized", "Sign in first.")
            try:
                result = handler(schema.load({} if payload is None else payload))
            except ValidationError as error:
                db.session.rollback()
                return error_ack("invalid", "The request is not valid.", fields=error.messages)
            except InboxError as error:
                db.session.rollback()
                return error_ack(error.code, error.message)
            except Exception:
                db.session.rollback()
                current_app.logger.exception("socket event %s failed", handler.__name__)
                return error_ack("server_error", "Something went wrong; please try again.")
            return {"ok": True, **(result or {})}

        return run

    return wrap
