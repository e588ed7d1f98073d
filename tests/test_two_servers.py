"""Two real server processes share events through Redis: visitor on one, counsellor on the other.

Real gunicorn processes, real PostgreSQL, real Redis, real python-socketio clients.
"""

import re
import secrets
import threading
import time
import uuid

import pytest
import requests
import socketio

from tests import factories
from tests.servers import Server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

AGENT = "Mozilla/5.0 (IntegrationPhone; Agent-9c1e)"
FORWARDED = "198.51.100.23"


class Peer:
    """A python-socketio client that records every event it receives."""

    def __init__(self, url: str, namespace: str, headers: dict | None = None):
        self.namespace = namespace
        self.events: list[tuple[str, dict]] = []
        self.changed = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace=namespace)
        self.sio.connect(
            url, namespaces=[namespace], headers=headers or {}, transports=["websocket"]
        )

    def _record(self, event, payload=None):
        with self.changed:
            self.events.append((event, payload))
            self.changed.notify_all()

    def call(self, event: str, payload: dict) -> dict:
        return self.sio.call(event, payload, namespace=self.namespace, timeout=10)

    def wait_for(self, predicate, timeout: float = 10):
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [p for e, p in self.events if predicate(e, p)]
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; received {self.events}")
                self.changed.wait(remaining)

    def texts(self, sender: str) -> list[str]:
        return [
            p["body"]
            for e, p in self.events
            if e == "message" and p["kind"] == "text" and p["sender"] == sender
        ]

    def close(self):
        self.sio.disconnect()


def signed_in(url: str, email: str) -> requests.Session:
    """A browser session signed in on the server at `url`, through both steps."""
    session = requests.Session()
    page = session.get(f"{url}/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    response = session.post(
        f"{url}/login",
        data={"email": email, "password": factories.PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    response = session.post(
        f"{url}/login/code",
        data={"code": factories.totp_code(email), "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    return session


def sign_in(url: str, email: str) -> str:
    """The session cookie of a sign-in on the server at `url`."""
    return "; ".join(f"{c.name}={c.value}" for c in signed_in(url, email).cookies)


@pytest.fixture
def servers(app, database_url_for_tests, redis_url):
    env = {
        "DATABASE_URL": database_url_for_tests,
        "REDIS_URL": redis_url,
        "SOCKETIO_CHANNEL": f"two-servers-{uuid.uuid4().hex}",
        "SECRET_KEY": "two-servers-secret",
        "ACCESS_LOG": "-",
        # Every test signs in from this one address, and the limit's counts are kept in Redis.
        "LOGIN_RATE_LIMIT": "100 per minute",
    }
    first, second = Server(env), Server(env)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
def test_visitor_and_counsellor_on_different_servers_chat_and_survive_cut_connections(app, servers):
    one, two = servers
    anna = factories.staff_user("Anna")
    cookie = sign_in(two.url, anna.email)
    browser = secrets.token_urlsafe(32)
    visitor_headers = {"User-Agent": AGENT, "X-Forwarded-For": FORWARDED}

    assert requests.get(f"{one.url}/chat/helpwanted", headers=visitor_headers, timeout=10).ok
    visitor = Peer(one.url, "/chat", visitor_headers)
    counsellor = Peer(two.url, "/inbox", {"Cookie": cookie, "User-Agent": AGENT})
    opened = visitor.call(
        "message",
        {"service": "helpwanted", "visitor": browser, "client_msg_id": "v-first-1", "body": "Help"},
    )
    assert opened["ok"], opened
    token = opened["token"]

    new = counsellor.wait_for(lambda e, p: e == "new_conversation")[0]
    assert counsellor.call("claim", {"conversation_id": new["id"]})["ok"]
    counsellor.call("open", {"conversation_id": new["id"]})
    reply = counsellor.call(
        "message", {"conversation_id": new["id"], "client_msg_id": "c-reply-1", "body": "Hoi!"}
    )
    assert reply["ok"]
    visitor.wait_for(lambda e, p: e == "message" and p["body"] == "Hoi!")
    thanks = visitor.call(
        "message", {"token": token, "client_msg_id": "v-second-1", "body": "Dank je"}
    )
    counsellor.wait_for(lambda e, p: e == "message" and p["body"] == "Dank je")

    # The visitor's connection drops; the counsellor writes on; the visitor comes back on the
    # other server and receives exactly what was missed, in order. Like the chat page, the
    # visitor counts what its acks brought too (its own messages come back in their ack only).
    last_seen = max([p["seq"] for e, p in visitor.events if e == "message"] + [thanks["seq"]])
    visitor.close()
    for i, body in enumerate(["Ben je er nog?", "Neem je tijd."]):
        counsellor.call(
            "message", {"conversation_id": new["id"], "client_msg_id": f"c-miss-{i}x", "body": body}
        )
    counsellor.call(
        "message",
        {"conversation_id": new["id"], "client_msg_id": "c-note-1", "body": "geheim", "note": True},
    )
    visitor = Peer(two.url, "/chat", visitor_headers)
    resumed = visitor.call("resume", {"token": token, "last_seq": last_seen})
    assert [m["body"] for m in resumed["messages"]] == ["Ben je er nog?", "Neem je tijd."]

    # Now the counsellor's connection drops and comes back on the first server.
    last_staff = max(p["seq"] for e, p in counsellor.events if e == "message")
    counsellor.close()
    for i, body in enumerate(["Ik ben er", "Nog een vraag"]):
        visitor.call("message", {"token": token, "client_msg_id": f"v-miss-{i}x", "body": body})
    counsellor = Peer(one.url, "/inbox", {"Cookie": cookie})
    missed = counsellor.call("open", {"conversation_id": new["id"], "since_seq": last_staff})
    assert [m["body"] for m in missed["messages"]] == ["Ik ben er", "Nog een vraag"]
    # And live traffic flows again across the two servers.
    counsellor.call(
        "message",
        {"conversation_id": new["id"], "client_msg_id": "c-after-1", "body": "Welkom terug"},
    )
    visitor.wait_for(lambda e, p: e == "message" and p["body"] == "Welkom terug")
    assert "geheim" not in visitor.texts("counsellor")
    visitor.close()
    counsellor.close()

    # Neither server's request log shows who the visitor is.
    logs = one.log() + two.log()
    assert "GET /chat/helpwanted 200" in logs  # the access log is on
    for secret in ("127.0.0.1 -", FORWARDED, "Agent-9c1e"):
        assert secret not in logs


@pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
def test_a_visitor_message_reaches_the_counsellor_on_the_other_server_then_its_unread_count(
    app, servers
):
    one, two = servers
    anna = factories.staff_user("Anna")
    cookie = sign_in(two.url, anna.email)
    visitor = Peer(one.url, "/chat")
    counsellor = Peer(two.url, "/inbox", {"Cookie": cookie})
    opened = visitor.call(
        "message",
        {
            "service": "helpwanted",
            "visitor": secrets.token_urlsafe(32),
            "client_msg_id": "v-first-1",
            "body": "Hallo",
        },
    )
    assert opened["ok"], opened
    conversation_id = counsellor.wait_for(lambda e, p: e == "new_conversation")[0]["id"]
    assert counsellor.call("claim", {"conversation_id": conversation_id})["ok"]
    assert counsellor.call("open", {"conversation_id": conversation_id})["ok"]

    sent = visitor.call(
        "message", {"token": opened["token"], "client_msg_id": "v-second-1", "body": "Ben je daar?"}
    )
    assert sent["ok"], sent

    # The counsellor on the other server sees the message, then the chat's unread count, in
    # the order the first server sent them.
    counsellor.wait_for(lambda e, p: e == "message" and p["body"] == "Ben je daar?")
    activity = counsellor.wait_for(lambda e, p: e == "activity" and p["last_seq"] == sent["seq"])
    assert activity[0]["unread"] == 2
    about_it = [
        e
        for e, p in counsellor.events
        if e in ("message", "activity") and sent["seq"] in (p.get("seq"), p.get("last_seq"))
    ]
    assert about_it == ["message", "activity"]
    visitor.close()
    counsellor.close()


@pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
def test_a_chat_goes_on_while_colleagues_sign_in_on_the_same_server(app, servers):
    """Checking a password takes argon2 some 150 ms of CPU; a running chat does not wait."""
    one, _two = servers
    colleagues = [factories.staff_user(f"Colleague{i}").email for i in range(3)]
    visitor = Peer(one.url, "/chat")
    opened = visitor.call(
        "message",
        {
            "service": "helpwanted",
            "visitor": secrets.token_urlsafe(32),
            "client_msg_id": "v-first-1",
        }
        | {"body": "Hallo"},
    )
    assert opened["ok"], opened
    finished: list[str] = []
    pages = {email: requests.Session() for email in colleagues}
    forms = {}
    for email, session in pages.items():
        page = session.get(f"{one.url}/login", timeout=10).text
        forms[email] = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def sign_in_now(email: str) -> None:
        data = {"email": email, "password": factories.PASSWORD, "csrf_token": forms[email]}
        response = pages[email].post(f"{one.url}/login", data=data, allow_redirects=False)
        if response.status_code == 302:
            code = {"code": factories.totp_code(email), "csrf_token": forms[email]}
            response = pages[email].post(f"{one.url}/login/code", data=code, allow_redirects=False)
        finished.append("signed in" if response.status_code == 302 else response.text)

    signing_in = [threading.Thread(target=sign_in_now, args=(e,)) for e in colleagues]
    for thread in signing_in:
        thread.start()
    time.sleep(0.05)  # the server is checking their passwords now
    ack = visitor.call(
        "message",
        {"token": opened["token"], "client_msg_id": "v-second-2", "body": "Is daar iemand?"},
    )
    finished.append("chat answered")
    for thread in signing_in:
        thread.join(timeout=30)

    assert ack["ok"], ack
    assert finished == ["chat answered"] + ["signed in"] * 3
    visitor.close()
