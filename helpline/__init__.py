"""The helpline platform: one live inbox for chat, contact form and phone."""

import logging
from pathlib import Path
from typing import NoReturn

from flask import Flask, abort, request
from flask.logging import default_handler
from flask_babel import get_locale
from sqlalchemy.orm import configure_mappers
from werkzeug.middleware.proxy_fix import ProxyFix

from helpline.abuse import store as visitor_marks
from helpline.chat import connections as chat_connections
from helpline.config import finalise, from_environment
from helpline.extensions import (
    babel,
    configure_sqlite,
    csrf,
    db,
    limiter,
    login_manager,
    migrate,
    socketio,
)
from helpline.navigation import header_links
from helpline.text import refuse_unreadable_text

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment, overridden by `config` (tests pass their own)."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(from_environment(app.instance_path))
    if config:
        app.config.update(config)
    finalise(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_logging(app)
    register_input_checks(app)
    register_extensions(app)
    register_proxy(app)
    register_blueprints(app)
    # The blueprints have imported every model. Relating the mappers now, not lazily during
    # some first query, readies the ORM before a worker's very first socket event.
    configure_mappers()
    register_errorhandlers(app)
    register_security_headers(app)
    register_commands(app)
    return app


def register_proxy(app: Flask) -> None:
    # Outside Socket.IO's middleware, so that socket events too see the visitor's address
    # (for the limits on new chats) and not the proxy's.
    if app.config["PROXY_FIX"]:
        hops = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_logging(app: Flask) -> None:
    # The development server's access log starts every line with the client's address.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("engineio.server").setLevel(logging.WARNING)
    logging.getLogger("socketio.server").setLevel(logging.WARNING)
    # At INFO and DEBUG SQLAlchemy logs every statement's values and every row it reads.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    # Flask-Limiter says when Redis is unreachable and it counts in memory instead, to a logger
    # whose only handler discards everything: its lines go where the app's own go.
    limiter_log = logging.getLogger("flask-limiter")
    if default_handler not in limiter_log.handlers:
        limiter_log.addHandler(default_handler)


# Where the Socket.IO server answers (its default, spelled out for the URL rule below).
SOCKETIO_PATH = "socket.io"

# Staff pages outside the staff blueprints (the phone simulator, the therapists' pages).
STAFF_PATHS = ("/inbox", "/phone/", "/followup/", "/admin/", "/reports")


def is_staff_page() -> bool:
    """True on pages for staff (English, no visitor header or quick exit)."""
    return (
        request.blueprint in ("auth", "inbox", "admin", "reports")
        or request.path.startswith(STAFF_PATHS)
        or request.path.startswith("/api/")
    )


def select_locale() -> str:
    """Visitors get Dutch unless they chose English; staff pages are English."""
    if is_staff_page():
        return "en"
    chosen = request.args.get("lang")
    return chosen if chosen in ("nl", "en") else "nl"


def register_input_checks(app: Flask) -> None:
    # Before the extensions' own hooks: CSRFProtect reads the form, which must be UTF-8 first.
    app.before_request(refuse_unreadable_text)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, immediate=app.config["SQLITE_BEGIN_IMMEDIATE"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["is_staff_page"] = is_staff_page
    app.jinja_env.globals["staff_links"] = header_links
    chat_connections.init_app(app)
    visitor_marks.init_app(app)
    # Handlers must be declared before the first init_app: declared later, they would bind to
    # that one server only, and every further app (tests build one each) would have none.
    from helpline.abuse import events as abuse_events  # noqa: F401
    from helpline.canned import events as canned_events  # noqa: F401
    from helpline.chat import events as chat_events  # noqa: F401
    from helpline.inbox import events as inbox_events  # noqa: F401
    from helpline.phone import events as phone_events  # noqa: F401

    if app.config["REDIS_URL"]:
        queue = {
            "message_queue": app.config["REDIS_URL"],
            "channel": app.config["SOCKETIO_CHANNEL"],
        }
    else:
        # Explicitly none: Flask-SocketIO would otherwise keep the queue of an earlier app.
        queue = {"message_queue": None, "client_manager": None}
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        path=SOCKETIO_PATH,
        **queue,
        cors_allowed_origins=app.config["SOCKETIO_ORIGINS"] or None,
        logger=False,
        engineio_logger=False,
        # A vanished connection is noticed after at most 25 + 20 s, within the visitor grace
        # period (60 s); pinging more often costs as much as the messages themselves at 400
        # connections.
        ping_interval=25,
        ping_timeout=20,
    )


def register_blueprints(app: Flask) -> None:
    from helpline.abuse.views import bp as abuse_bp
    from helpline.admin.views import bp as admin_bp
    from helpline.api.views import bp as api_bp
    from helpline.auth.views import bp as auth_bp
    from helpline.canned.views import bp as canned_bp
    from helpline.chat.views import bp as chat_bp
    from helpline.followup.views import bp as followup_bp
    from helpline.followup.views import visitor_bp as booked_chat_bp
    from helpline.forms.views import bp as forms_bp
    from helpline.inbox.views import bp as inbox_bp
    from helpline.phone.views import bp as phone_bp
    from helpline.reports.views import bp as reports_bp
    from helpline.search.views import bp as search_bp
    from helpline.survey.keypad import bp as keypad_survey_bp
    from helpline.survey.views import bp as survey_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(chat_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(forms_bp)
    app.register_blueprint(phone_bp)
    app.register_blueprint(followup_bp)
    app.register_blueprint(booked_chat_bp)
    app.register_blueprint(survey_bp)
    app.register_blueprint(keypad_survey_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(abuse_bp)
    app.register_blueprint(canned_bp)
    app.register_blueprint(search_bp)
    register_socketio_path(app)


def register_socketio_path(app: Flask) -> None:
    """A URL rule for Socket.IO's own path, which the Socket.IO server answers before Flask.

    Every socket event runs in a request context built from its connection's first request.
    Without a rule for that URL, each event would raise and keep a NotFound whose traceback
    holds the context: a reference cycle per event, left to the cyclic garbage collector, whose
    full collections pause every connection of the process.
    """

    def answered_by_socketio() -> NoReturn:
        abort(404)

    # Two rules: a connection's first request is plain HTTP (long-polling) or a WebSocket
    # handshake, and Werkzeug matches the two kinds separately.
    for websocket in (False, True):
        app.add_url_rule(
            f"/{SOCKETIO_PATH}/",
            endpoint="socketio",
            view_func=answered_by_socketio,
            websocket=websocket,
        )


def register_errorhandlers(app: Flask) -> None:
    from helpline.errors import register

    register(app)


def register_security_headers(app: Flask) -> None:
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: the CSRF check over HTTPS compares the Referer.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response


def register_commands(app: Flask) -> None:
    from helpline.commands import register
    from helpline.retention import commands as retention

    register(app)
    retention.register(app)
