"""Which visitor connections of this server process belong to which conversation.

Process-local on purpose: it decides when this process saw the last connection of a conversation
close, and which conversations this process sends heartbeats for. The durable facts
(visitor_left_at, visitor_seen_at) are in the database.
"""

import threading
import time
from collections import defaultdict, deque

from flask import Flask, current_app


class Presence:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conversation_of: dict[str, int] = {}
        self._connections: dict[int, set[str]] = defaultdict(set)
        self._sent: dict[str, deque] = {}

    def attach(self, sid: str, conversation_id: int) -> tuple[bool, int | None, bool]:
        """Bind a connection to a conversation.

        Returns (whether the binding is new, the conversation it was bound to before, whether
        that one has now lost its last connection on this process).
        """
        with self._lock:
            previous = self._conversation_of.get(sid)
            if previous == conversation_id:
                return False, None, False
            orphaned = False
            if previous is not None:
                holders = self._connections[previous]
                holders.discard(sid)
                if not holders:
                    del self._connections[previous]
                    orphaned = True
            self._conversation_of[sid] = conversation_id
            self._connections[conversation_id].add(sid)
            return True, previous, orphaned

    def conversation_of(self, sid: str) -> int | None:
        """The conversation this connection is bound to."""
        return self._conversation_of.get(sid)

    def detach(self, sid: str) -> int | None:
        """Forget a closed connection; returns its conversation if no other connection holds it."""
        with self._lock:
            self._sent.pop(sid, None)
            conversation_id = self._conversation_of.pop(sid, None)
            if conversation_id is None:
                return None
            holders = self._connections[conversation_id]
            holders.discard(sid)
            if holders:
                return None
            del self._connections[conversation_id]
            return conversation_id

    def live_conversations(self) -> list[int]:
        """Conversations with at least one visitor connection on this process."""
        with self._lock:
            return list(self._connections)

    def allow_message(self, sid: str, per_minute: int) -> bool:
        """Sliding-window limit on messages per connection."""
        now = time.monotonic()
        with self._lock:
            window = self._sent.setdefault(sid, deque())
            while window and now - window[0] > 60:
                window.popleft()
            if len(window) >= per_minute:
                return False
            window.append(now)
            return True


def init_app(app: Flask) -> None:
    app.extensions["visitor_presence"] = Presence()


def current() -> Presence:
    """The presence registry of the running app."""
    return current_app.extensions["visitor_presence"]
