"""Visitors stay anonymous: nothing about their address or browser is kept."""

from sqlalchemy import inspect, select, text

from helpline.codes import keyed_hash
from helpline.extensions import db, socketio

ADDRESS = "203.0.113.77"
AGENT = "Mozilla/5.0 (VisitorPhone; Unique-Agent-7f3a)"


def everything_stored() -> str:
    dump = []
    for table in inspect(db.engine).get_table_names():
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            dump.append(" ".join(str(value) for value in row))
    return "\n".join(dump)


def test_no_address_or_user_agent_is_stored_from_a_chat(app, counsellor):
    environ = {"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": AGENT, "HTTP_X_FORWARDED_FOR": ADDRESS}
    browser = app.test_client()
    browser.get("/chat/helpwanted", environ_base=environ)
    person = socketio.test_client(app, namespace="/chat", headers={"User-Agent": AGENT})
    person.emit(
        "message",
        {"service": "helpwanted", "visitor": "v" * 43, "client_msg_id": "abcdefgh1", "body": "hoi"},
        namespace="/chat",
        callback=True,
    )
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Hallo")
    person.disconnect(namespace="/chat")

    stored = everything_stored()

    assert "hoi" in stored  # the dump does include what was written
    assert ADDRESS not in stored
    assert "Unique-Agent-7f3a" not in stored
    assert "v" * 43 not in stored  # the browser token is kept only as a keyed hash


def test_visitor_pages_set_no_cookies_and_send_strict_security_headers(app, client):
    for path in ("/", "/chat/helpwanted", "/chat/stopitnow?lang=en"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_browser_token_hash_depends_on_the_server_secret(app, visitor):
    from helpline.inbox.models import Client

    visitor(browser_token="b" * 43).say("hoi")
    first = db.session.scalar(select(Client.browser_hash))

    assert len(first) == 64 and first != "b" * 43


def test_privacy_conversation_tokens_are_stored_only_as_keyed_hashes(app, visitor, counsellor):
    person = visitor()
    person.say("Ik durf het niemand te vertellen")
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Ik ben er")
    person.close()

    stored = everything_stored()

    assert "Ik durf het niemand te vertellen" in stored  # the dump holds the chat itself
    assert person.token not in stored
    assert keyed_hash("conversation", person.token) in stored
    person.reconnect()
    resumed = person.resume()
    assert [m["body"] for m in resumed["messages"] if m["sender"] != "system"] == [
        "Ik durf het niemand te vertellen",
        "Ik ben er",
    ]
