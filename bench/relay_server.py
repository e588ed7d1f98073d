"""The baseline of bench/chat_roundtrip.py: a bare python-socketio relay, no database.

Served exactly like the app (`gunicorn -c gunicorn.conf.py`, the same worker class and Socket.IO
async mode), so the difference in round-trip time is what the helpline code itself adds. A
visitor (namespace /chat) and a counsellor (namespace /inbox) `join` the room of one
conversation; every `message` is acked and relayed to the other side.

With RELAY_REDIS_URL set, emits go through a Redis message queue as the app's do (for
telling apart what Redis costs from what the handlers cost).
"""

import json
import os

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
    payload = {
        "conversation_id": conversation_id,
        "client_msg_id": data.get("client_msg_id"),
        "sender": "visitor",
        "body": data.get("body"),
    }
    sio.emit("message", payload, to=_room(conversation_id), namespace=INBOX)
    return {"ok": True}


@sio.on("message", namespace=INBOX)
def counsellor_message(sid, data=None):
    data = data or {}
    conversation_id = _conversation_id(data.get("conversation_id"))
    if conversation_id is None:
        return {"ok": False}
    payload = {
        "client_msg_id": data.get("client_msg_id"),
        "sender": "counsellor",
        "body": data.get("body"),
    }
    sio.emit("message", payload, to=_room(conversation_id), namespace=CHAT)
    return {"ok": True}


def _plain(environ, start_response):
    """Everything that is not Socket.IO: /healthz for the start-up check, 404 otherwise."""
    if environ.get("PATH_INFO") == "/healthz":
        body = json.dumps({"ok": True}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


app = socketio.WSGIApp(sio, _plain)
