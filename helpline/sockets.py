"""Socket plumbing: one way for every handler to validate, ack and fail without a 500; the
Redis message queue between server processes; and the session of a socket event."""

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator

import socketio as python_socketio
from flask import Flask, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request
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
                with published_together():
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


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, not opened again for every socket event.

    Flask-SocketIO runs each event in a request context built from the connection's first
    request, and Flask opens the session cookie on every push (verify the signature, decode).
    From its first event on, a connection has the copy Flask-SocketIO keeps in its environ
    (`saved_session`), which then replaces whatever was opened: an empty session will do.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if "saved_session" in request.environ:
            return self.session_class()
        return super().open_session(app, request)


# The emits of the socket event being handled, waiting to go to the other server processes.
_pending: contextvars.ContextVar[list[dict] | None] = contextvars.ContextVar(
    "pending_publishes", default=None
)


class RedisManager(python_socketio.RedisManager):
    """python-socketio's Redis message queue, with one PUBLISH per socket event.

    An emit reaches this process's own connections at once, and the other processes through
    Redis. Handling a visitor's message emits three times (the visitor's other tabs, the staff
    who have the conversation open, the counsellor's unread count): inside
    `published_together()` these go to Redis as one envelope when the handler is done, and
    every other process unpacks it into the original emits, in order. Redis also hands every
    envelope back to the process that published it, which recognises its own by their first
    bytes and drops them without decoding.
    """

    def _publish(self, data: dict):
        pending = _pending.get()
        if pending is None:
            return self._publish_envelope([data])
        pending.append(data)
        return None

    def publish_together(self, messages: list[dict]) -> None:
        if messages:
            self._publish_envelope(messages)

    def _publish_envelope(self, messages: list[dict]):
        return super()._publish({"host": self.host_id, "messages": messages})

    def _listen(self) -> Iterator:
        probe = self.json.dumps({"host": self.host_id, "messages": []}).encode()
        own = probe[: probe.index(self.host_id.encode()) + len(self.host_id) + 1]
        for message in super()._listen():
            if message.startswith(own):
                continue
            try:
                data = self.json.loads(message)
            except ValueError:
                continue
            if isinstance(data, dict) and "messages" in data and "method" not in data:
                if data.get("host") != self.host_id:
                    yield from data["messages"]
            else:
                yield data  # from a server that publishes emits one by one


@contextlib.contextmanager
def published_together() -> Iterator[None]:
    """Hold back what the emits inside send to other processes; publish it in one go after."""
    token = _pending.set([])
    try:
        yield
    finally:
        messages = _pending.get()
        _pending.reset(token)
        manager = getattr(socketio.server, "manager", None)
        if messages and isinstance(manager, RedisManager):
            manager.publish_together(messages)
