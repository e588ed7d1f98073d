"""Settings from environment variables, with safe defaults for the embedded (SQLite) mode."""

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

# Public on purpose: only for the embedded mode; production refuses to start with it.
DEFAULT_SECRET_KEY = "embedded-mode-secret-change-me"  # noqa: S105


class ConfigurationError(RuntimeError):
    """The app refuses to start with this configuration."""


def database_url(raw: str | None, instance_path: str) -> str:
    """Normalise DATABASE_URL to an SQLAlchemy URL; default is a SQLite file in instance/."""
    if not raw:
        return f"sqlite:///{Path(instance_path) / 'helpline.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix) :]
    return raw


def async_mode(environ: dict) -> str:
    """gevent with PostgreSQL, threads with SQLite, unless SOCKETIO_ASYNC_MODE says otherwise.

    Measured (bench/chat_roundtrip.py, 200 chats): gevent's p99 was a quarter to a tenth of
    that of 1000 threads.
    SQLite waits for its write lock inside C, which would stall every greenlet, so the embedded
    mode keeps threads.
    """
    chosen = environ.get("SOCKETIO_ASYNC_MODE")
    if chosen:
        return chosen
    return "gevent" if environ.get("DATABASE_URL", "").startswith("postgres") else "threading"


def public_url(env: Mapping[str, str]) -> str:
    """Where people reach the site: PUBLIC_URL, else the address the server binds (HOST, PORT)."""
    if env.get("PUBLIC_URL"):
        return env["PUBLIC_URL"].rstrip("/")
    host = env.get("HOST") or "127.0.0.1"
    # A server bound to every interface is reached on this machine at the loopback address.
    if host in ("0.0.0.0", "::"):  # noqa: S104 (read, not bound)
        host = "127.0.0.1"
    return f"http://{host}:{env.get('PORT') or '5000'}"


def from_environment(instance_path: str) -> dict:
    """Build the configuration mapping from os.environ."""
    env = os.environ
    return {
        **_deployment(env, instance_path),
        **_chat(env),
        **_mail_and_forms(env),
        **_staff_sessions(env),
        **_phone(env),
    }


def _deployment(env: Mapping[str, str], instance_path: str) -> dict:
    """Secrets, stores, addresses, language and purge schedule of this deployment."""
    return {
        "HELPLINE_ENV": env.get("HELPLINE_ENV", "development"),
        "SECRET_KEY": env.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "HASH_KEY": env.get("HASH_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": database_url(env.get("DATABASE_URL"), instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 300},
        "SQLITE_BEGIN_IMMEDIATE": True,
        "REDIS_URL": env.get("REDIS_URL") or None,
        # Redis pub/sub channel of this deployment's socket events.
        "SOCKETIO_CHANNEL": env.get("SOCKETIO_CHANNEL", "helpline"),
        "SOCKETIO_ASYNC_MODE": async_mode(env),
        # Origins allowed to open socket.io connections; empty means same origin only.
        "SOCKETIO_ORIGINS": [o for o in env.get("SOCKETIO_ORIGINS", "").split(",") if o],
        # Where people reach the site; used in the links of e-mails and booking messages.
        "PUBLIC_URL": public_url(env),
        "PROXY_FIX": int(env.get("PROXY_FIX", "0")),
        # Fernet key for the few details kept encrypted; derived from SECRET_KEY when unset.
        "ENCRYPTION_KEY": env.get("ENCRYPTION_KEY") or None,
        "TIMEZONE": env.get("HELPLINE_TIMEZONE", "Europe/Amsterdam"),
        "BABEL_DEFAULT_LOCALE": "nl",
        "BABEL_DEFAULT_TIMEZONE": env.get("HELPLINE_TIMEZONE", "Europe/Amsterdam"),
        "BABEL_TRANSLATION_DIRECTORIES": str(
            Path(__file__).resolve().parent.parent / "translations"
        ),
        "LANGUAGES": ["nl", "en"],
        # How often each server process tries to purge what retention no longer keeps (one
        # server at a time does it); 0 turns the schedule off.
        "RETENTION_PURGE_SECONDS": float(env.get("RETENTION_PURGE_SECONDS", "3600")),
    }


def _chat(env: Mapping[str, str]) -> dict:
    """Limits and timings of the chat, for visitors and counsellors."""
    return {
        "CHAT_MAX_LENGTH": 4000,
        # The supervisor board marks a conversation waiting longer than this, and is sent to
        # those watching at most once per BOARD_EMIT_SECONDS.
        "BOARD_WAIT_WARNING_SECONDS": int(env.get("BOARD_WAIT_WARNING_SECONDS", "120")),
        "BOARD_EMIT_SECONDS": float(env.get("BOARD_EMIT_SECONDS", "1")),
        "DEFAULT_MAX_CHATS": int(env.get("DEFAULT_MAX_CHATS", "3")),
        # A visitor whose last connection dropped is shown as gone after this many seconds.
        "VISITOR_GRACE_SECONDS": int(env.get("VISITOR_GRACE_SECONDS", "60")),
        # How often each server process looks for visitors who have gone; 0 turns it off.
        "VISITOR_SWEEP_SECONDS": int(env.get("VISITOR_SWEEP_SECONDS", "5")),
        # How often each server process renews the supervisors' watches it holds; a watch not
        # renewed for three times as long (its server died) ends. 0: never renewed nor ended.
        "WATCHERS_RENEW_SECONDS": int(env.get("WATCHERS_RENEW_SECONDS", "30")),
        # Messages a single visitor connection may send per minute.
        "VISITOR_MESSAGES_PER_MINUTE": int(env.get("VISITOR_MESSAGES_PER_MINUTE", "30")),
        # Where quick exit (the button, or Esc) takes a visitor: a neutral site, not the helpline.
        "QUICK_EXIT_URL": env.get("QUICK_EXIT_URL", "https://www.google.nl"),
        # New chats one browser, and one address (a school, a family), may start per window.
        "CHAT_NEW_PER_BROWSER": int(env.get("CHAT_NEW_PER_BROWSER", "5")),
        "CHAT_NEW_PER_ADDRESS": int(env.get("CHAT_NEW_PER_ADDRESS", "20")),
        "CHAT_NEW_WINDOW_SECONDS": int(env.get("CHAT_NEW_WINDOW_SECONDS", "3600")),
        # How long a chat's address hash is kept (in Redis only) so a block can include it.
        "CHAT_ADDRESS_SECONDS": int(env.get("CHAT_ADDRESS_SECONDS", "86400")),
    }


def _mail_and_forms(env: Mapping[str, str]) -> dict:
    """Outgoing mail, and the limits of the contact forms and their replies."""
    return {
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": env.get("MAIL_USE_TLS", "") == "1",
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_FROM": env.get("MAIL_FROM", "noreply@helpline.invalid"),
        "FORM_RATE_LIMIT": env.get("FORM_RATE_LIMIT", "5 per 10 minutes"),
        "REPLY_LOOKUP_RATE_LIMIT": env.get("REPLY_LOOKUP_RATE_LIMIT", "10 per hour"),
        "REPLY_WRITE_RATE_LIMIT": env.get("REPLY_WRITE_RATE_LIMIT", "30 per hour"),
        # A signed-in form reader may keep writing for this long without re-entering the secret.
        "REPLY_SESSION_SECONDS": int(env.get("REPLY_SESSION_SECONDS", "3600")),
        "MAX_CONTENT_LENGTH": 256 * 1024,
    }


def _staff_sessions(env: Mapping[str, str]) -> dict:
    """Sign-in limits, session lifetimes, cookies and rate-limit storage."""
    return {
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # A staff sign-in ends after this long without a request or socket event, and after
        # this long in any case.
        "STAFF_IDLE_MINUTES": int(env.get("STAFF_IDLE_MINUTES", "30")),
        "STAFF_SESSION_HOURS": int(env.get("STAFF_SESSION_HOURS", "12")),
        "RATELIMIT_STORAGE_URI": env.get("REDIS_URL") or "memory://",
        # Redis unreachable: each process counts in its own memory (logged once, as "Rate limit
        # storage unreachable - falling back to in-memory storage") until Redis answers again,
        # instead of refusing sign-in and forms while the chat works on.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("HELPLINE_ENV") == "production",
        "REMEMBER_COOKIE_SECURE": env.get("HELPLINE_ENV") == "production",
        "WTF_CSRF_TIME_LIMIT": None,
    }


def _phone(env: Mapping[str, str]) -> dict:
    """The phone line: the Twilio account, and how long callers wait and may speak."""
    return {
        # Twilio Voice (docs/phone.md). Without an account SID outside production, the REST
        # calls go to the built-in phone simulator instead of Twilio.
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        # A twilio.http.HttpClient to use instead of Twilio's own (tests, the simulator).
        "TWILIO_HTTP_CLIENT": None,
        # Hosts a voicemail may be fetched from, to play it in the inbox.
        "TWILIO_MEDIA_HOSTS": env.get("TWILIO_MEDIA_HOSTS", "api.twilio.com").split(","),
        # A caller waiting this long without a free counsellor is offered voicemail or callback.
        "PHONE_QUEUE_WAIT_SECONDS": int(env.get("PHONE_QUEUE_WAIT_SECONDS", "180")),
        "PHONE_VOICEMAIL_SECONDS": int(env.get("PHONE_VOICEMAIL_SECONDS", "120")),
        # Seconds the counsellor's phone rings before the call goes back to the queue.
        "PHONE_DIAL_TIMEOUT": int(env.get("PHONE_DIAL_TIMEOUT", "20")),
        # Twilio's text-to-speech voice for the Dutch messages.
        "PHONE_VOICE": env.get("PHONE_VOICE", "Polly.Lotte"),
    }


def finalise(config: dict) -> None:
    """Derive dependent settings and refuse unsafe production settings."""
    if config["HELPLINE_ENV"] == "production" and config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        raise ConfigurationError("SECRET_KEY must be set in production")
    key = (
        config["HASH_KEY"]
        or hashlib.sha256(b"hash-key:" + config["SECRET_KEY"].encode()).hexdigest()
    )
    config["HASH_KEY"] = key.encode() if isinstance(key, str) else key
    if urlsplit(config["QUICK_EXIT_URL"]).scheme not in ("http", "https"):
        raise ConfigurationError("QUICK_EXIT_URL must be a web address starting with https://")
    production = config["HELPLINE_ENV"] == "production"
    config.setdefault("PHONE_SIMULATED", not config["TWILIO_ACCOUNT_SID"] and not production)
    if config["PHONE_SIMULATED"]:
        # The simulator signs its webhooks like Twilio would, with a key of this installation.
        config["TWILIO_ACCOUNT_SID"] = config["TWILIO_ACCOUNT_SID"] or "AC" + "0" * 32
        config["TWILIO_AUTH_TOKEN"] = (
            config["TWILIO_AUTH_TOKEN"]
            or hashlib.sha256(b"twilio-simulator:" + config["SECRET_KEY"].encode()).hexdigest()
        )
    uri = config["SQLALCHEMY_DATABASE_URI"]
    # A failed statement's error (logged) names the statement, never its values: message text,
    # notes, tokens and numbers are what the statements carry.
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **config["SQLALCHEMY_ENGINE_OPTIONS"],
        "hide_parameters": True,
    }
    if uri.startswith("postgresql"):
        # Many socket threads share one process: more connections than the default 5 + 10.
        # A pooled connection is tested as it is handed out, so one that PostgreSQL closed
        # (restart, failover, idle timeout) is replaced instead of failing a visitor's message.
        options = {
            "pool_size": 20,
            "max_overflow": 30,
            "pool_pre_ping": True,
            **config["SQLALCHEMY_ENGINE_OPTIONS"],
        }
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        # An unreachable Redis is noticed within a second, not after the system's TCP timeout.
        config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
        )
    if uri.startswith("sqlite"):
        # Socket handlers run in many threads; wait for the write lock instead of failing.
        options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {"timeout": 30, "check_same_thread": False}
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options
