"""Which visitor connections of this server process belong to which conversation.

Process-local on purpose: it only decides when this process saw the last connection of a
conversation close. The durable fact (visitor_left_at) is in the database.
"""

import threading
import time
from collections import defaultdict, deque

_lock = threading.Lock()
_conversation_of: dict[str, int] = {}
_connections: dict[int, set[str]] = defaultdict(set)
_sent: dict[str, deque] = {}


def attach(sid: str, conversation_id: int) -> bool:
    """Bind a connection to a conversation; True when it was not bound to it yet."""
    with _lock:
        previous = _conversation_of.get(sid)
        if previous == conversation_id:
            return False
        if previous is not None:
            _connections[previous].discard(sid)
        _conversation_of[sid] = conversation_id
        _connections[conversation_id].add(sid)
        return True


def conversation_of(sid: str) -> int | None:
    """The conversation this connection is bound to."""
    return _conversation_of.get(sid)


def detach(sid: str) -> int | None:
    """Forget a closed connection; returns its conversation if no other connection holds it."""
    with _lock:
        _sent.pop(sid, None)
        conversation_id = _conversation_of.pop(sid, None)
        if conversation_id is None:
            return None
        holders = _connections[conversation_id]
        holders.discard(sid)
        if holders:
            return None
        del _connections[conversation_id]
        return conversation_id


def allow_message(sid: str, per_minute: int) -> bool:
    """Sliding-window limit on messages per connection."""
    now = time.monotonic()
    with _lock:
        window = _sent.setdefault(sid, deque())
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= per_minute:
            return False
        window.append(now)
        return True
