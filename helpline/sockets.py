"""Socket plumbing: one way for every handler to validate, ack and fail without a 500."""

import functools
from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user
from marshmallow import Schema, ValidationError

from helpline.auth.views import session_claim
from helpline.errors import log_unexpected
from helpline.extensions import db, socketio
from helpline.inbox.errors import InboxError


def error_ack(code: str, message: str, **extra) -> dict:
    """The ack of a refused event."""
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


def acked(schema: Schema, *, staff: bool = False, quick: Callable | None = None) -> Callable:
    """Validate the payload with `schema`, run the handler, and ack its result or the error.

    `quick`, for a staff event: tried first, with the valid payload and the staff member the
    session names (`session_claim`) before their user is loaded. It does the whole event, its
    own checks included, and returns the result; or None when it cannot, and nothing is
    changed: the event then runs as usual.
    """

    def wrap(handler: Callable) -> Callable:
        def attempt_quick(payload: dict):
            claim = session_claim()
            if claim is None:
                return None
            try:
                valid = schema.load(payload)
            except ValidationError:
                return None  # the usual way tells what is wrong, after the sign-in check
            return quick(valid, *claim)

        @functools.wraps(handler)
        def run(payload=None, *_ignored):
            payload = {} if payload is None else payload
            try:
                result = attempt_quick(payload) if quick is not None else None
                if result is None:
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
