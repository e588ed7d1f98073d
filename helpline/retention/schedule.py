"""Every server purges on a schedule; a service's lease lets one server at a time do it."""

import threading

from flask import Flask

from helpline.extensions import db, socketio
from helpline.retention import service

# The first purge waits at most this long after the server starts.
FIRST_DELAY_SECONDS = 60


def start(app: Flask) -> threading.Event | None:
    """Purge every RETENTION_PURGE_SECONDS in the background of this process, until the
    returned event is set. None when the setting is 0 (no schedule)."""
    interval = app.config["RETENTION_PURGE_SECONDS"]
    if not interval:
        return None
    stopped = threading.Event()

    def run() -> None:
        socketio.sleep(min(FIRST_DELAY_SECONDS, interval))
        while not stopped.is_set():
            with app.app_context():
                try:
                    for purged in service.purge():
                        app.logger.info("retention: %s %s", purged.service, purged.counts())
                except Exception:
                    db.session.rollback()
                    app.logger.exception("retention purge failed")
                finally:
                    db.session.remove()
            socketio.sleep(interval)

    socketio.start_background_task(run)
    return stopped
