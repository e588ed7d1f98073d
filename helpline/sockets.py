"""Socket plumbing: one way for every handler to validate, ack and fail without a 500."""

import functools
from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user
from marshmallow import Schema, ValidationError

from helpline.errors import log_unexpected
from helpline.extensions import db, socketio
from helpline.inbox.errors import InboxError


def error_ack(code: str, message: str, **extra) -> dict:
    """The ack of a refused event."""
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


def acked(schema: Schema, *, staff: bool = False) -> Callable:
    """Validate the payload with `schema`, run the handler, and ack its result or the error."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def run(payload=None, *_ignored):
            payload = {} if payload is None else payload
            try:
                if staff and not current_user.is_authenticated:
                    return error_ack("unauthorized", "Sign in first.")
                result = handler(schema.load(payload))
            except ValidationError as error:
                db.session.rollback()
                return error_ack("invalid", "The request is not valid.", fields=error.messages)
            except InboxError as error:
                db.session.rollback()
                return error_ack(error.code, error.message)
            except Exception:
                db.session.rollback()
                log_unexpected(current_app.logger, "socket event %s failed", handler.__name__)
                return error_ack("server_error", "Something went wrong; please try again.")
            return {"ok": True, **(result or {})}

        return run

    return wrap


@socketio.on_error_default
def failed(error: Exception) -> bool | None:
    """An error that no `acked` handler answered (connect, disconnect): logged as every
    unexpected error is, instead of by the Socket.IO server with its text; a connection that
    failed to open is refused."""
    db.session.rollback()
    event = request.event["message"]
    log_unexpected(current_app.logger, "socket event %s failed", event)
    return False if event == "connect" else None
