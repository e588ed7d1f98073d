"""gunicorn settings. Threads carry the websockets (Flask-SocketIO threading mode): one worker
process per server, many threads; more servers share events through REDIS_URL."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = 1
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "1000"))
timeout = 0  # websockets stay open; liveness is socket.io's own ping
graceful_timeout = 10
# No %(h)s (address) and no %(a)s (user agent): visitors stay anonymous in the logs too.
accesslog = os.environ.get("ACCESS_LOG", "-")
access_log_format = "%(m)s %(U)s %(s)s %(b)s %(M)sms"
errorlog = "-"
