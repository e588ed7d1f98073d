"""When PostgreSQL drops connections or Redis goes away, visitors and staff carry on."""

import re
import secrets
import uuid

import pytest
import requests
import socketio
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests import factories
from tests.servers import Server, free_port

on_postgresql = pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)


def close_every_other_connection(database_url: str) -> int:
    """PostgreSQL ends every connection to the database but this one (as a restart or a
    failover would); how many it ended."""
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection:
        ended = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    engine.dispose()
    return ended


@on_postgresql
def test_visitor_messages_get_through_after_postgresql_ended_the_pooled_connections(
    app, visitor, database_url_for_tests
):
    chats = [visitor() for _ in range(3)]
    for chat in chats:
        assert chat.say("Hallo")["ok"]  # each event leaves a connection in the pool

    assert close_every_other_connection(database_url_for_tests) > 0

    for chat in chats:
        ack = chat.say("Ben je er nog?")
        assert ack["ok"], ack
    newcomer = visitor()
    assert newcomer.say("Mag ik iets vragen?")["ok"]


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]


@on_postgresql
@pytest.mark.slow
def test_sign_in_forms_and_chat_work_on_when_redis_cannot_be_reached(app, database_url_for_tests):
    anna = factories.staff_user("Anna")
    env = {
        "DATABASE_URL": database_url_for_tests,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "SOCKETIO_CHANNEL": f"outage-{uuid.uuid4().hex}",
        "SECRET_KEY": "outage-secret",
    }
    with Server(env) as server:
        staff = requests.Session()
        token = csrf_token(staff.get(f"{server.url}/login", timeout=10).text)
        signed_in = staff.post(
            f"{server.url}/login",
            data={"email": anna.email, "password": factories.PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        wrong = staff.post(
            f"{server.url}/login",
            data={"email": anna.email, "password": "not her password", "csrf_token": token},
            timeout=10,
        )

        sender = requests.Session()
        token = csrf_token(sender.get(f"{server.url}/form/helpwanted", timeout=10).text)
        form = sender.post(
            f"{server.url}/form/helpwanted",
            data={
                "csrf_token": token,
                "submission_key": secrets.token_urlsafe(24),
                "about": "myself",
                "age_band": "16_17",
                "what_happened": "Iemand dreigt mijn foto's te delen.",
            },
            timeout=10,
        )

        chat = socketio.Client(reconnection=False)
        chat.connect(server.url, namespaces=["/chat"], transports=["websocket"])
        opened = chat.call(
            "message",
            {
                "service": "helpwanted",
                "visitor": secrets.token_urlsafe(32),
                "client_msg_id": "outage-1",
                "body": "Hallo",
            },
            namespace="/chat",
            timeout=10,
        )
        chat.disconnect()
        log = server.log()

    assert signed_in.status_code == 302, signed_in.text
    assert wrong.status_code in (200, 422)
    assert form.status_code == 200
    assert opened["ok"], opened
    assert "Rate limit storage unreachable - falling back to in-memory storage" in log
