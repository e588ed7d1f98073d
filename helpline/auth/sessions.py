"""How long a staff sign-in lasts: an idle timeout and an absolute lifetime, kept in the
signed session itself (when it began, when it was last used).

A socket event runs on the session its connection saved when it connected, so a counsellor
who chats without loading a page keeps that socket alive; the absolute lifetime ends the
socket as well.
"""

import time
from collections.abc import MutableMapping

from flask import current_app

SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"
# Last-use times are written back at most this often, not on every request or socket event.
SEEN_RESOLUTION = 60


def begin(session: MutableMapping) -> None:
    """Mark `session` as signed in just now."""
    now = int(time.time())
    session[SIGNED_IN_AT] = now
    session[SEEN_AT] = now


def is_current(session: MutableMapping) -> bool:
    """True when the sign-in `session` holds has neither been idle too long nor outlived its
    lifetime; a current session's last use is brought up to date."""
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(signed_in_at, int) or not isinstance(seen_at, int):
        return False
    now = int(time.time())
    config = current_app.config
    if now - signed_in_at >= config["STAFF_SESSION_HOURS"] * 3600:
        return False
    if now - seen_at >= config["STAFF_IDLE_MINUTES"] * 60:
        return False
    if now - seen_at >= SEEN_RESOLUTION:
        session[SEEN_AT] = now
    return True
