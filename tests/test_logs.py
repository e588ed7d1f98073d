"""Nothing secret in the logs: not when the database refuses what a visitor, a counsellor or a
caller sends, and not when a stranger sends the server a request it cannot read.

The database refuses for real: on PostgreSQL a CHECK constraint that no row passes (its error
repeats the refused row), on SQLite a trigger. Every log line is captured at DEBUG.
"""

import contextlib
import http.server
import logging
import socket
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import text, update
from twilio.http.http_client import TwilioHttpClient

from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.inbox.models import Service
from tests import factories
from tests.servers import Server

NOTE = "client said she is 14"
LINE = "+31800000001"  # Stop it Now!'s number, as Twilio reports it


@pytest.fixture
def logs(caplog):
    """Every log line of every logger that is not quieted on purpose, from DEBUG up."""
    caplog.set_level(logging.DEBUG)
    return caplog


@contextlib.contextmanager
def database_refuses(table: str):
    """Inside, the database refuses every new or changed row of `table` with an error of its
    own."""
    postgresql = db.engine.dialect.name == "postgresql"
    db.session.rollback()
    with db.engine.begin() as connection:
        if postgresql:
            # NOT VALID: the rows already there stay; only new ones are checked.
            connection.execute(
                text(f"ALTER TABLE {table} ADD CONSTRAINT refuse_rows CHECK (false) NOT VALID")
            )
        else:
            for change in ("INSERT", "UPDATE"):
                connection.execute(
                    text(
                        f"CREATE TRIGGER refuse_{change} BEFORE {change} ON {table} "
                        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                    )
                )
    try:
        yield
    finally:
        db.session.rollback()
        with db.engine.begin() as connection:
            if postgresql:
                connection.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT refuse_rows"))
            else:
                connection.execute(text("DROP TRIGGER refuse_INSERT"))
                connection.execute(text("DROP TRIGGER refuse_UPDATE"))


@contextlib.contextmanager
def table_missing(table: str):
    """Inside, `table` is gone (renamed away): every statement naming it fails."""
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        yield
    finally:
        db.session.rollback()
        with db.engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))


def logged(caplog) -> str:
    """Everything logged: each line as formatted, tracebacks included, and each bare message."""
    return caplog.text + "\n".join(record.getMessage() for record in caplog.records)


def assert_not_logged(caplog, *secrets: str) -> None:
    everything = logged(caplog)
    for secret in secrets:
        assert secret not in everything


def test_a_refused_visitor_message_leaves_neither_its_text_nor_the_chat_token_in_the_logs(
    app, visitor, logs
):
    ama = visitor()
    assert ama.say("Hallo, is daar iemand?")["ok"]
    with database_refuses("message"):
        ack = ama.say("Mijn stiefvader stuurt me foto's")

    assert ack["error"]["code"] == "server_error"
    assert "socket event message failed" in logged(logs)
    assert_not_logged(logs, "Mijn stiefvader stuurt me foto's", ama.token, ama.browser)


def test_a_visitor_leaving_while_the_database_refuses_leaves_no_chat_token_in_the_logs(
    app, visitor, logs
):
    ama = visitor()
    assert ama.say("Hallo")["ok"]
    with database_refuses("conversation"):
        ama.close()  # the chat is marked as left: refused

    assert "socket event disconnect failed" in logged(logs)
    assert_not_logged(logs, ama.token, ama.browser)


def test_a_refused_note_leaves_not_its_text_in_the_logs(app, visitor, counsellor, logs):
    ama = visitor()
    ama.say("Hallo")
    anna = counsellor("Anna")
    conversation_id = ama.conversation().id
    assert anna.claim(conversation_id)["ok"]
    with database_refuses("message"):
        ack = anna.say(conversation_id, NOTE, note=True)

    assert ack["error"]["code"] == "server_error"
    assert "socket event message failed" in logged(logs)
    assert_not_logged(logs, NOTE)


def test_refused_form_answers_are_not_in_the_logs(app, client, logs):
    answers = {
        "submission_key": uuid.uuid4().hex,
        "about": "myself",
        "age_band": "12_15",
        "what_happened": "Hij heeft mijn naaktfoto's en wil geld",
        "platform": "Snapchat",
        "links": "https://example.org/profiel/lisa-2011",
    }
    with database_refuses("message"):
        response = client.post("/form/helpwanted", data=answers)

    assert response.status_code == 500
    assert "request failed: POST /form/helpwanted" in logged(logs)
    assert_not_logged(
        logs, answers["what_happened"], answers["links"], answers["submission_key"], "Snapchat"
    )


def test_a_refused_call_leaves_no_trace_of_the_callers_number_in_the_logs(app, logs):
    number = "+31612345678"
    db.session.execute(update(Service).where(Service.slug == "stopitnow").values(phone_number=LINE))
    db.session.commit()
    caller = factories.Caller(app, number=number, to=LINE)
    # Not refused by a constraint: the webhook takes that for the same call reported twice.
    with table_missing("phone_line"):
        response = caller.call()

    assert response.status_code == 500
    assert "request failed: POST /phone/voice" in logged(logs)
    # The number as dialled, its keyed hash (which recognises the caller) and the number
    # encrypted for a callback (every Fernet token starts so).
    assert_not_logged(logs, number, number[3:], keyed_hash("phone", number), "gAAAAA")


@pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
@pytest.mark.slow
def test_the_server_log_names_no_address_for_a_request_it_cannot_read_and_no_token_of_a_path(
    app, database_url_for_tests, redis_url
):
    token = "Zq9" + "x" * 40  # as long as a calendar feed's token
    env = {
        "DATABASE_URL": database_url_for_tests,
        "REDIS_URL": redis_url,
        "SOCKETIO_CHANNEL": f"logs-{uuid.uuid4().hex}",
        "SECRET_KEY": "logs-secret",
        "ACCESS_LOG": "-",
    }
    unreadable = [
        f"GET /calendar/{token}.ics HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n",
        f"GET /calendar/{token}.ics HTTP/9.9\r\n\r\n",
        f"NONSENSE {token}\r\n\r\n",
    ]
    with Server(env) as server:
        for request in unreadable:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
                connection.sendall(request.encode())
                assert connection.recv(100).startswith(b"HTTP/1.1 400")
        feed = requests.get(f"{server.url}/calendar/{token}.ics", timeout=10)
        time.sleep(0.5)  # the worker writes its log lines after answering
        log = server.log()

    assert feed.status_code == 404
    assert "GET /calendar/….ics 404" in log
    assert log.count("Invalid request") == len(unreadable)
    assert "127.0.0.1" not in log.replace(f"Listening at: {server.url}", "")
    assert "ip=" not in log
    assert "python-requests" not in log  # the feed request's user agent
    assert token not in log


class TwilioStandIn(http.server.BaseHTTPRequestHandler):
    """Answers each REST request as Twilio does, so its library's own client can be used."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"] or 0))
        body = b'{"sid": "CA00000000000000000000000000000000", "status": "queued"}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_privacy_twilios_library_logs_the_requests_of_a_callback_without_the_numbers(
    app, counsellor, logs
):
    from tests.test_phone import COUNSELLOR_PHONE, ask_for_callback

    number = "+31612345678"
    db.session.execute(update(Service).where(Service.slug == "stopitnow").values(phone_number=LINE))
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    anna = counsellor(user=user)
    ask_for_callback(app, number)
    anna.claim(1)
    assert anna.emit("call_back", {"conversation_id": 1})["ok"]
    made = list(app.config["TWILIO_HTTP_CLIENT"].requests)
    stand_in = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TwilioStandIn)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()

    # The same requests, as Twilio's own HTTP client sends (and logs) them in production.
    try:
        for request in made:
            url = f"http://127.0.0.1:{stand_in.server_port}{request['path']}"
            TwilioHttpClient(timeout=5).request(
                request["method"], url, params=request["params"], data=request["data"]
            )
    finally:
        stand_in.shutdown()

    assert any(number in str(request["data"]) for request in made)  # the callback's numbers
    assert "POST Request: http://127.0.0.1" in logged(logs)  # the library does log requests
    assert_not_logged(logs, number, number[3:], COUNSELLOR_PHONE)
