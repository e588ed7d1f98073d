"""Short-lived counters and marks about visitors: in Redis when there is one, else in memory.

What is kept here (keyed hashes of addresses, counts of new chats) expires by itself and never
reaches the database or a log line.
"""

import threading
import time

import redis
from flask import Flask, current_app

# INCR and EXPIRE in one step: a counter can neither miss its expiry nor be read half-made.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisStore:
    """Keys under this deployment's prefix, in the Redis the servers share."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._count = self._redis.register_script(_COUNT)

    # Without Redis the chat goes on: nothing is counted or marked (blocks by browser, kept in the
    # database, still hold), and a log line says so.

    def count(self, key: str, seconds: int) -> int:
        """Add one to `key`'s counter, which starts afresh `seconds` after its first count."""
        try:
            return int(self._count(keys=[self._prefix + key], args=[seconds]))
        except redis.RedisError as error:
            _unavailable(error)
            return 0

    def put(self, key: str, value: str, seconds: int) -> None:
        try:
            self._redis.set(self._prefix + key, value, ex=max(1, seconds))
        except redis.RedisError as error:
            _unavailable(error)

    def get(self, key: str) -> str | None:
        try:
            return self._redis.get(self._prefix + key)
        except redis.RedisError as error:
            _unavailable(error)
            return None

    def delete(self, key: str) -> None:
        try:
            self._redis.delete(self._prefix + key)
        except redis.RedisError as error:
            _unavailable(error)


def _unavailable(error: redis.RedisError) -> None:
    # The error's kind only: its text could name a key, and a key holds a keyed hash.
    current_app.logger.warning(
        "Redis unreachable (%s): new chats are not limited and addresses not blocked meanwhile",
        type(error).__name__,
    )


class MemoryStore:
    """The same in this process's memory, for the embedded mode (one server process)."""

    # Expired keys are dropped when read, and all at once when this many are kept.
    SWEEP_AT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str | int, float]] = {}

    def count(self, key: str, seconds: int) -> int:
        now = time.monotonic()
        with self._lock:
            value, expires = self._live(key, now) or (0, now + seconds)
            self._keep(key, int(value) + 1, expires, now)
            return int(value) + 1

    def put(self, key: str, value: str, seconds: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._keep(key, value, now + max(1, seconds), now)

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._live(key, time.monotonic())
            return None if found is None else str(found[0])

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def _keep(self, key: str, value: str | int, expires: float, now: float) -> None:
        if len(self._values) >= self.SWEEP_AT:
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
        self._values[key] = (value, expires)

    def _live(self, key: str, now: float) -> tuple[str | int, float] | None:
        found = self._values.get(key)
        if found is not None and found[1] <= now:
            del self._values[key]
            return None
        return found


def init_app(app: Flask) -> None:
    # Kept where the rate limits are kept: the shared Redis (REDIS_URL) unless set otherwise.
    url = app.config["RATELIMIT_STORAGE_URI"]
    prefix = f"{app.config['SOCKETIO_CHANNEL']}:abuse:"
    shared = url.startswith(("redis://", "rediss://"))
    app.extensions["visitor_marks"] = RedisStore(url, prefix) if shared else MemoryStore()


def current() -> RedisStore | MemoryStore:
    """The store of the running app."""
    return current_app.extensions["visitor_marks"]
