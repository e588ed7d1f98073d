"""gunicorn settings: one worker process per server, whose greenlets (gevent, with PostgreSQL) or
threads (with SQLite) carry the websockets; more servers share events through REDIS_URL."""

import importlib.util
import os
import re
import sys
from pathlib import Path

from gunicorn.glogging import Logger

# Only helpline/config.py, not the helpline package: importing the app here, in the master,
# would import ssl and sockets before the gevent worker can monkey-patch them.
_spec = importlib.util.spec_from_file_location(
    "helpline_config", Path(__file__).resolve().parent / "helpline" / "config.py"
)
_config = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_config)
async_mode = _config.async_mode

# gevent records, for every greenlet it spawns, the stack it was spawned from: a dozen objects
# for each Socket.IO event (every event runs in a greenlet of its own), which only debugging
# uses and the cyclic garbage collector then has to walk. Read by gevent when the worker starts.
os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# One worker: a Socket.IO connection lives in the process that accepted it. A server that only
# answers Twilio's webhooks (no Socket.IO traffic reaches it) may run several: GUNICORN_WORKERS.
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
# gunicorn's control socket (~/.gunicorn/gunicorn.ctl) would be one path shared by every server of
# the machine; nothing here uses gunicornc.
control_socket_disable = True
# The same choice as the app makes (helpline.config.async_mode): gevent, one greenlet per
# connection, with PostgreSQL; threads with SQLite.
if async_mode(os.environ) == "gevent":
    worker_class = "gevent"
    worker_connections = int(os.environ.get("GUNICORN_CONNECTIONS", "4000"))
else:
    worker_class = "gthread"
    threads = int(os.environ.get("GUNICORN_THREADS", "1000"))
timeout = 0  # websockets stay open; liveness is socket.io's own ping
graceful_timeout = 10
# No %(h)s (address) and no %(a)s (user agent): visitors stay anonymous in the logs too.
accesslog = os.environ.get("ACCESS_LOG", "-")
access_log_format = "%(m)s %(U)s %(s)s %(b)s %(M)sms"
errorlog = "-"

# A path segment this long is a secret (a calendar feed's token), not a name.
_SECRET_SEGMENT = re.compile(r"[A-Za-z0-9_-]{32,}")


class AnonymousLogger(Logger):
    """gunicorn's logger, without who sent a request or the secrets a request may carry."""

    def warning(self, msg, *args, **kwargs):
        # gunicorn's own words are "Invalid request from ip=<address>: <what was wrong>", and
        # what was wrong quotes the request, which may hold a token.
        if isinstance(msg, str) and msg.startswith("Invalid request from"):
            msg, args = "Invalid request answered with an error (sender and request not logged)", ()
        super().warning(msg, *args, **kwargs)

    def atoms(self, resp, req, environ, request_time):
        """The access log's values, secrets in the path masked."""
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = _SECRET_SEGMENT.sub("…", atoms["U"])
        return atoms


logger_class = AnonymousLogger

# With threads, socket handlers spend their time waiting on the database. After each wait a
# thread needs the GIL back; with the default 5 ms switch interval it can wait that long behind
# a busy thread, once per round trip. A shorter interval hands the GIL over sooner.
sys.setswitchinterval(float(os.environ.get("GIL_SWITCH_INTERVAL", "0.0005")))


def post_worker_init(worker):
    """Keep the loaded app out of the cyclic garbage collector's full collections, and start
    the retention schedule.

    Everything imported and built at start-up (some 170,000 objects) lives as long as the
    worker; without this every full collection walks it all again, while every connection
    waits (bench/chat_roundtrip.py, 200 chats: full collections of 30 ms to over 100 ms).
    """
    import gc

    gc.collect()
    gc.freeze()
    # Each server purges on a schedule, one at a time (helpline/retention/schedule.py). The
    # benchmark's relay is served with this file too, and has no schedule.
    from flask import Flask

    from helpline.retention import schedule

    if isinstance(worker.wsgi, Flask):
        schedule.start(worker.wsgi)
