"""HTTP error pages: JSON for API-style requests, a readable page otherwise. Never a stack trace.

Unexpected errors are logged by `log_unexpected`, here and by every other surface.
"""

import logging
import sys
import traceback

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from helpline.extensions import db
from helpline.inbox.errors import InboxError
from helpline.text import UnreadableText


def log_unexpected(logger: logging.Logger, what: str, *args) -> None:
    """Log the exception being handled: its kind and where it was raised, never its text.

    An exception's text may quote what was being stored: PostgreSQL repeats a refused row
    (a message, a note, a token, a number) and a key that already exists.
    """
    logger.error(what + "\n%s", *args, _without_text(sys.exception()))


def _without_text(error: BaseException | None) -> str:
    """The traceback of `error` and of the exceptions it was raised from, kinds and lines only."""
    chain = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    lines = []
    for error in reversed(chain):
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(error.__traceback__))
        kind = type(error)
        lines.append(f"{kind.__module__}.{kind.__qualname__} (its text is not logged)\n")
    return "".join(lines).rstrip("\n")


def _wants_json() -> bool:
    return (
        request.path.startswith("/api/v1/") or request.accept_mimetypes.best == "application/json"
    )


def _respond(status: int, code: str, message: str, translated: bool = False):
    """The error as JSON or as a page; a page shows `message` in Dutch only when `translated`."""
    if _wants_json():
        return jsonify({"error": {"code": code, "message": message}}), status
    page = render_template("error.html", status=status, message=message, translated=translated)
    return page, status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _respond(400, "csrf", "The form has expired. Reload the page and try again.")

    @app.errorhandler(InboxError)
    def inbox_error(error: InboxError):
        db.session.rollback()
        return _respond(error.status, error.code, error.message)

    @app.errorhandler(429)
    def too_many(error):
        message = gettext(
            "You have tried this several times in a short while. "
            "Please wait a few minutes and try again."
        )
        return _respond(429, "rate_limited", message, translated=True)

    @app.errorhandler(413)
    def too_large(error):
        message = gettext("What you sent is too large. Files and images cannot be sent, only text.")
        return _respond(413, "too_large", message, translated=True)

    @app.errorhandler(UnreadableText)
    def unreadable_text(error: UnreadableText):
        return _respond(400, "unreadable_text", error.description, translated=True)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return _respond(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        log_unexpected(app.logger, "request failed: %s %s", request.method, request.path)
        return _respond(500, "server_error", InternalServerError.description)
