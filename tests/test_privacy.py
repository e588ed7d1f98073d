"""Visitors stay anonymous: nothing about their address or browser is kept."""

import hashlib
import hmac
import time

from sqlalchemy import inspect, select, text

from helpline.auth.models import hasher
from helpline.codes import ALPHABET, keyed_hash
from helpline.extensions import db, socketio
from helpline.forms.models import FormSubmission
from tests.test_forms import codes, helpwanted_answers, send

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


def test_privacy_a_form_secret_is_random_and_kept_only_as_an_argon2_hash(app, client):
    answers = helpwanted_answers()
    code, secret = codes(send(client, **answers).get_data(as_text=True))
    db.session.rollback()
    submission = db.session.scalar(select(FormSubmission))
    typed = secret.replace("-", "")

    # What a database dump and HASH_KEY could make of the submission: none of it is the secret.
    assert hasher.verify(submission.secret_hash, typed)
    key = submission.submission_key.encode()
    for purpose in ("reply-secret", "reply-code", "secret", ""):
        digest = hmac.new(app.config["HASH_KEY"], f"{purpose}:".encode() + key, hashlib.sha256)
        number = int.from_bytes(digest.digest(), "big")
        assert typed not in (base32_digits(number, len(typed)), digest.hexdigest())
    assert typed not in everything_stored()
    # The sender still gets in with both; a wrong secret is refused, as slowly as a wrong code.
    assert client.post("/form/reply", data={"code": code, "secret": secret}).status_code == 200
    wrong_secret = refusal_seconds(client, code, "AAAA-AAAA-AAAA")
    unknown_code = refusal_seconds(client, "ZZZZ-ZZZZ", secret)
    assert 0.5 < wrong_secret / unknown_code < 2


def base32_digits(number: int, length: int) -> str:
    digits = []
    for _index in range(length):
        number, remainder = divmod(number, 32)
        digits.append(ALPHABET[remainder])
    return "".join(digits)


def refusal_seconds(client, code: str, secret: str) -> float:
    """The quickest of three refusals (the others wait behind the machine's other work)."""
    timings = []
    for _attempt in range(3):
        started = time.perf_counter()
        refused = client.post("/form/reply", data={"code": code, "secret": secret})
        timings.append(time.perf_counter() - started)
        assert refused.status_code == 422
    return min(timings)
