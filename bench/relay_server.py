"""The baseline of bench/chat_roundtrip.py: a bare python-socketio relay, no database.

Served exactly like the app (`gunicorn -c gunicorn.conf.py`, the same worker class and Socket.IO
async mode), so the difference in round-trip time is what the helpline code itself adds. A
visitor (namespace /chat) and a counsellor (namespace /inbox) `join` the room of one
conversation; every `message` is acked and relayed to the other side.

With RELAY_REDIS_URL set, emits go through a Redis message queue as the app's do (for
telling apart what Redis costs from what the handlers cost). With RELAY_DATABASE_URL set too,
every message is first stored in PostgreSQL, one autocommit INSERT on a pooled psycopg
connection, before it is acked and relayed: the least any server does that keeps each message
durably before passing it on and shares it between processes.
"""

import json
import os
import queue

import socketio

CHAT = "/chat"
INBOX = "/inbox"

_redis_url = os.environ.get("RELAY_REDIS_URL")
_manager = (
    socketio.RedisManager(_redis_url, channel=os.environ.get("SOCKETIO_CHANNEL", "relay"))
    if _redis_url
    else None
)
sio = socketio.Server(
    # The same mode as the helpline server in the same run (gunicorn.conf.py reads it too).
    async_mode=os.environ["SOCKETIO_ASYNC_MODE"],
    client_manager=_manager,
    ping_interval=10,
    ping_timeout=10,
    logger=False,
    engineio_logger=False,
)


class _Store:
    """A small pool of autocommit connections and one INSERT per message."""

    def __init__(self, url: str, size: int = 10):
        import psycopg

        self._connect = lambda: psycopg.connect(url, autocommit=True)
        with self._connect() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS relay_message (id bigserial PRIMARY KEY,"
                " conversation_id bigint NOT NULL, sender text NOT NULL,"
                " client_msg_id text NOT NULL, body text NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                " UNIQUE (conversation_id, sender, client_msg_id))"
            )
        self._idle: queue.LifoQueue = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(None)

    def add(self, conversation_id: int, sender: str, client_msg_id, body) -> int | None:
        connection = self._idle.get()
        try:
            if connection is None or connection.closed:
                connection = self._connect()
            row = connection.execute(
                "INSERT INTO relay_message (conversation_id, sender, client_msg_id, body)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                (conversation_id, sender, str(client_msg_id), str(body)),
            ).fetchone()
            return row[0] if row else None
        finally:
            self._idle.put(connection)


_database_url = os.environ.get("RELAY_DATABASE_URL")
_store = _Store(_database_url) if _database_url else None


def _stored(conversation_id: int, sender: str, data: dict) -> dict:
    """The message's seq when it is stored (or nothing when there is no store)."""
    if _store is None:
        return {}
    return {"seq": _store.add(conversation_id, sender, data.get("client_msg_id"), data.get("body"))}


def _room(conversation_id: int) -> str:
    return f"conv:{conversation_id}"


def _conversation_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@sio.on("join", namespace=CHAT)
def visitor_join(sid, data=None):
    conversation_id = _conversation_id((data or {}).get("conversation_id"))
    if conversation_id is None:
        return {"ok": False}
    sio.enter_room(sid, _room(conversation_id), namespace=CHAT)
    return {"ok": True, "token": str(conversation_id)}


@sio.on("join", namespace=INBOX)
def counsellor_join(sid, data=None):
    conversation_id = _conversation_id((data or {}).get("conversation_id"))
    if conversation_id is None:
        return {"ok": False}
    sio.enter_room(sid, _room(conversation_id), namespace=INBOX)
    return {"ok": True}


@sio.on("message", namespace=CHAT)
def visitor_message(sid, data=None):
    data = data or {}
    conversation_id = _conversation_id(data.get("token"))
    if conversation_id is None:
        return {"ok": False}
    stored = _stored(conversation_id, "visitor", data)
    payload = {
        "conversation_id": conversation_id,
        "client_msg_id": data.get("client_msg_id"),
        "sender": "visitor",
        "body": data.get("body"),
        **stored,
    }
    sio.emit("message", payload, to=_room(conversation_id), namespace=INBOX)
    return {"ok": True, **stored}


@sio.on("message", namespace=INBOX)
def counsellor_message(sid, data=None):
    data = data or {}
    conversation_id = _conversation_id(data.get("conversation_id"))
    if conversation_id is None:
        return {"ok": False}
    stored = _stored(conversation_id, "counsellor", data)
    payload = {
        "client_msg_id": data.get("client_msg_id"),
        "sender": "counsellor",
        "body": data.get("body"),
        **stored,
    }
    sio.emit("message", payload, to=_room(conversation_id), namespace=CHAT)
    return {"ok": True, **stored}


def _plain(environ, start_response):
    """Everything that is not Socket.IO: /healthz for the start-up check, 404 otherwise."""
    if environ.get("PATH_INFO") == "/healthz":
        body = json.dumps({"ok": True}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


app = socketio.WSGIApp(sio, _plain)
