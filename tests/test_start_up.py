"""A server answers from the first event it receives: no window of errors after it starts.

Each server here is a fresh gunicorn process whose first socket event is the one under test.
"""

import uuid

import pytest
import socketio

from tests import factories
from tests.servers import Server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow


@pytest.fixture
def fresh_server(app, database_url_for_tests, redis_url):
    """A function starting a new server process on the test database; stopped after the test."""
    started = []

    def start() -> Server:
        server = Server(
            {
                "DATABASE_URL": database_url_for_tests,
                "REDIS_URL": redis_url,
                "SOCKETIO_CHANNEL": f"start-up-{uuid.uuid4().hex}",
                "SECRET_KEY": app.config["SECRET_KEY"],
            }
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def call_first(server: Server, namespace: str, event: str, payload: dict, headers=None) -> dict:
    """Connect to the server and send it one event; its ack."""
    client = socketio.Client(reconnection=False)
    client.connect(
        server.url, namespaces=[namespace], headers=headers or {}, transports=["websocket"]
    )
    try:
        return client.call(event, payload, namespace=namespace, timeout=10)
    finally:
        client.disconnect()


def staff_cookie(app, user) -> str:
    """The session cookie of a signed-in staff member (the servers share the app's key)."""
    browser = app.test_client()
    with browser.session_transaction() as session:
        factories.signed_in_session(session, user)
    return f"session={browser.get_cookie('session').value}"


@pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
def test_fresh_servers_answer_a_returning_visitor_and_a_counsellor_from_their_first_event(
    app, visitor, fresh_server
):
    ama = visitor()
    assert ama.say("Ben je er nog?")["ok"]
    conversation_id = ama.conversation().id
    cookie = staff_cookie(app, factories.staff_user("Anna"))

    resumed = call_first(fresh_server(), "/chat", "resume", {"token": ama.token, "last_seq": 0})
    claimed = call_first(
        fresh_server(), "/inbox", "claim", {"conversation_id": conversation_id}, {"Cookie": cookie}
    )

    assert resumed["ok"], resumed
    assert [m["body"] for m in resumed["messages"]] == ["Ben je er nog?"]
    assert claimed["ok"], claimed
    assert ama.conversation().state == "active"
