"""Visitors at an address: in-process socket clients, and real clients through a proxy."""

import secrets

import pytest
import socketio as python_socketio
from sqlalchemy import func, select

from helpline.extensions import db, socketio
from helpline.inbox.models import Conversation
from tests import factories
from tests.servers import demo_server

HOME = "198.51.100.7"
SCHOOL = "203.0.113.40"


class VisitorAt(factories.Visitor):
    """A visitor whose connections come from one address."""

    def __init__(self, app, address: str, browser_token: str | None = None):
        self.address = address
        super().__init__(app, browser_token)
        self.sio.disconnect(namespace=self.NS)
        self.reconnect()

    def reconnect(self) -> None:
        self.close()
        http = self.app.test_client()
        http.environ_base["REMOTE_ADDR"] = self.address
        self.sio = socketio.test_client(self.app, namespace=self.NS, flask_test_client=http)

    def start_new_chat(self, body: str = "hallo") -> dict:
        self.token = None
        return self.say(body)


@pytest.fixture
def visitor_at(app):
    """A function making visitors at an address (HOME unless given)."""
    made = []

    def connect(address: str = HOME, browser_token: str | None = None) -> VisitorAt:
        made.append(VisitorAt(app, address, browser_token))
        return made[-1]

    yield connect
    for v in made:
        v.close()


def waiting_chats() -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.state == "queued")
    )


def error_code(ack: dict) -> str | None:
    return None if ack["ok"] else ack["error"]["code"]


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory):
    """A gunicorn server behind one (pretended) proxy, one new chat per address, and a
    Helpwanted queue of one place."""
    yield from demo_server(
        tmp_path_factory.mktemp("abuse"),
        "abuse",
        (
            ["service", "hours", "helpwanted", "always"],
            ["service", "hours", "stopitnow", "always"],
            ["service", "queue-limit", "helpwanted", "1"],
        ),
        PROXY_FIX="1",
        CHAT_NEW_PER_ADDRESS="1",
    )


def connect_through_proxy(url: str, forwarded_for: str) -> python_socketio.Client:
    client = python_socketio.Client()
    client.connect(url, headers={"X-Forwarded-For": forwarded_for}, namespaces=["/chat"])
    return client


def start_chat(client: python_socketio.Client, service: str) -> dict:
    payload = {
        "service": service,
        "visitor": secrets.token_urlsafe(32),
        "client_msg_id": factories.new_id(),
        "body": "hallo",
    }
    return client.call("message", payload, namespace="/chat", timeout=10)


def open_chat_through_proxy(url: str, forwarded_for: str, service: str) -> dict:
    client = connect_through_proxy(url, forwarded_for)
    try:
        return start_chat(client, service)
    finally:
        client.disconnect()
