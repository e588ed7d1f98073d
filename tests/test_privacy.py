"""Visitors stay anonymous: nothing about their address or browser is kept."""

import ast
import hashlib
import hmac
import logging
import re
import secrets
import time
from pathlib import Path

import redis
from flask import current_app
from sqlalchemy import inspect, select, text, update

from helpline import create_app
from helpline.api import service as api_service
from helpline.auth.models import hasher
from helpline.codes import ALPHABET, keyed_hash
from helpline.extensions import anonymous_rate_key, db, socketio
from helpline.forms.models import FormSubmission
from helpline.inbox.models import Client, Conversation, Service
from tests import factories
from tests.addresses import VisitorAt
from tests.test_forms import codes, helpwanted_answers, send
from tests.test_phone import COUNSELLOR_PHONE, NUMBER, SERVICE_NUMBER, ask_for_callback

ROOT = Path(__file__).resolve().parent.parent
ADDRESS = "203.0.113.77"
AGENT = "Mozilla/5.0 (VisitorPhone; Unique-Agent-7f3a)"


def everything_stored() -> str:
    dump = []
    for table in inspect(db.engine).get_table_names():
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            dump.append(" ".join(str(value) for value in row))
    return "\n".join(dump)


def test_privacy_no_address_or_user_agent_is_stored_from_a_chat(app, counsellor):
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


def test_privacy_the_browser_token_is_stored_only_as_an_hmac_under_the_hash_key(app, visitor):
    token = "b" * 43
    visitor(browser_token=token).say("hoi")
    stored = db.session.scalar(select(Client.browser_hash))

    assert stored == keyed_hash("browser", token)
    expected = hmac.new(app.config["HASH_KEY"], f"browser:{token}".encode(), hashlib.sha256)
    assert stored == expected.hexdigest()
    other_key = hmac.new(b"another key", f"browser:{token}".encode(), hashlib.sha256)
    assert stored != other_key.hexdigest()  # without HASH_KEY it links to no token
    assert token not in everything_stored()


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


def test_privacy_redis_holds_only_keyed_hashes_of_addresses_each_with_an_expiry(
    app, database_url_for_tests, redis_url, caplog
):
    server = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url_for_tests,
            "TESTING": True,
            # A key of its own, so that no earlier test's counters stand for these.
            "SECRET_KEY": secrets.token_hex(16),
            "WTF_CSRF_ENABLED": False,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": redis_url,
            "SOCKETIO_CHANNEL": app.config["SOCKETIO_CHANNEL"],
            "VISITOR_SWEEP_SECONDS": 0,
        }
    )
    shared = redis.Redis.from_url(redis_url, decode_responses=True)
    before = set(shared.keys("*"))
    browser = server.test_client()
    browser.environ_base["REMOTE_ADDR"] = ADDRESS

    assert VisitorAt(server, ADDRESS).start_new_chat("hoi")["ok"]
    assert send(browser, **helpwanted_answers()).status_code == 200
    browser.post("/login", data={"email": "nobody@example.org", "password": "x" * 12})

    made = set(shared.keys("*")) - before
    with server.app_context():
        place, limiter_key = keyed_hash("address", ADDRESS), anonymous_rate_key_for(ADDRESS)
        db.engine.dispose()
    assert any(place in key for key in made)  # new chats counted by address, the chat's mark
    assert sum(limiter_key in key for key in made) >= 2  # the form's and sign-in's limits
    # Only this server's keys: other runs may share the Redis database.
    ours = {key for key in made if key.startswith(server.config["SOCKETIO_CHANNEL"])}
    ours |= {key for key in made if limiter_key in key}
    assert ours
    for key in ours:
        assert ADDRESS not in key and ADDRESS not in str(shared.dump(key))
        assert shared.ttl(key) > 0, key  # each expires by itself
    stored = everything_stored()
    assert place not in stored and limiter_key not in stored and ADDRESS not in stored
    assert ADDRESS not in caplog.text and place not in caplog.text


def anonymous_rate_key_for(address: str) -> str:
    """The rate-limit key of a request from `address`."""
    with current_app.test_request_context(environ_base={"REMOTE_ADDR": address}):
        return anonymous_rate_key()


def test_privacy_no_staff_member_sees_an_address_a_browser_token_or_a_conversation_token(
    app, counsellor
):
    anna, sam = counsellor("Anna"), counsellor("Sam", role="supervisor")
    person = VisitorAt(app, ADDRESS, browser_token="w" * 43)
    person.say("Ik wil iets vragen")
    seen = [anna.emit("list", {}), anna.claim(1), anna.emit("open", {"conversation_id": 1})]
    seen += [anna.emit("history", {"conversation_id": 1}), anna.say(1, "Vertel maar")]
    person.say("Het gaat over school")
    seen += [sam.emit("open", {"conversation_id": 1}), anna.drain(), sam.drain()]
    api = {"Authorization": f"Bearer {api_service.create_token(sam.user, 'test').value}"}
    seen += [
        sam.http.get("/inbox").get_data(as_text=True),
        app.test_client().get("/api/v1/conversations", headers=api).get_json(),
        app.test_client().get("/api/v1/conversations/1", headers=api).get_json(),
    ]

    everything_shown = str(seen)
    assert "Het gaat over school" in everything_shown  # staff did see the chat itself
    for secret in (person.token, person.browser, ADDRESS, keyed_hash("address", ADDRESS)):
        assert secret not in everything_shown
    person.close()


def test_privacy_no_log_line_names_a_visitors_address_user_agent_or_words(
    app, client, counsellor, caplog
):
    caplog.set_level(logging.DEBUG)
    environ = {"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": AGENT}
    for path in ("/", "/chat/helpwanted", "/form/helpwanted", "/no/such/page"):
        client.get(path, environ_base=environ)
    person = VisitorAt(app, ADDRESS)
    person.say("Mijn naam is Noor")
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Dag Noor")
    person.close()

    assert "Mijn naam is Noor" in str(factories.messages_of(1)[0].body)
    assert ADDRESS not in caplog.text and "Unique-Agent-7f3a" not in caplog.text
    assert "Noor" not in caplog.text
    # The development server's access log (it starts with the address) and the socket layer's
    # log of every message are off.
    assert logging.getLogger("werkzeug").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("engineio.server").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("socketio.server").getEffectiveLevel() >= logging.WARNING


def test_privacy_a_callers_number_reaches_no_staff_browser_and_no_log_line(app, counsellor, caplog):
    caplog.set_level(logging.DEBUG)
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number=SERVICE_NUMBER)
    )
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    anna, sam = counsellor(user=user), counsellor("Sam", role="supervisor")
    caller = ask_for_callback(app)
    shown = [anna.emit("list", {}), anna.claim(1), anna.emit("open", {"conversation_id": 1})]
    shown += [anna.emit("call_back", {"conversation_id": 1}), anna.drain(), sam.drain()]
    shown.append(anna.http.get("/inbox").get_data(as_text=True))
    caller.status("completed", 30)

    assert f"'caller': '…{NUMBER[-2:]}'" in str(shown)  # the inbox shows the last two digits
    hashed = keyed_hash("phone", NUMBER)
    for trace in (NUMBER, NUMBER[1:], NUMBER[3:], hashed):
        assert trace not in str(shown)
        assert trace not in caplog.text
    # The callback did go out, to Twilio only, with the number decrypted on the server.
    twilio = app.config["TWILIO_HTTP_CLIENT"]
    assert any(NUMBER in str(request) for request in twilio.requests)


def test_privacy_the_inbox_list_and_its_live_rows_hold_no_message_text(app, visitor, counsellor):
    anna, sam = counsellor("Anna"), counsellor("Sam")
    person = visitor()
    person.say("Mijn geheime verhaal")
    anna.claim(1)
    anna.say(1, "Vertel")
    anna.say(1, "Geheime notitie", note=True)
    person.say("Nog een geheim")

    listed = sam.emit("list", {})
    live = sam.received("conversation")

    assert [row["id"] for row in listed["conversations"]] == [1] and live
    assert listed["conversations"][0]["unread"] == 2  # what it holds: counts, no words
    for shown in (str(listed), str(live)):
        assert "eheim" not in shown and "Vertel" not in shown


def test_privacy_every_test_named_in_privacy_md_exists():
    document = (ROOT / "docs" / "privacy.md").read_text()
    named = re.findall(r"tests/(\w+\.py)::(\w+)", document)
    missing = []
    for file_name, test_name in named:
        path = ROOT / "tests" / file_name
        tree = ast.parse(path.read_text()) if path.exists() else ast.Module(body=[])
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        if not test_name.startswith("test_") or test_name not in functions:
            missing.append(f"tests/{file_name}::{test_name}")

    assert len(named) > 40
    assert missing == []
    # Every test the document names is named so a reader can find it: with its file.
    unplaced = re.sub(r"tests/\w+\.py(::\w+)?", "", document)
    assert re.findall(r"\btest_\w+", unplaced) == []
    # Each section that makes promises says what tests them.
    sections = re.split(r"^## ", document, flags=re.MULTILINE)[1:]
    untested = [s.splitlines()[0] for s in sections if "Tested by:" not in s]
    assert untested == ["Known limits"]


def test_privacy_forms_refused_for_their_answers_do_not_count_against_the_limit(app, client):
    app.config["FORM_RATE_LIMIT"] = "2 per minute"

    refused = [send(client, **helpwanted_answers(what_happened="")) for _ in range(3)]
    taken = [send(client, **helpwanted_answers()).status_code for _ in range(3)]

    assert [response.status_code for response in refused] == [422, 422, 422]
    assert taken == [200, 200, 429]


def test_privacy_a_therapist_lists_only_the_conversations_assigned_to_them(
    app, visitor, counsellor
):
    for words in ("eerste", "tweede", "derde"):
        visitor().say(words)
    anna, tess = counsellor("Anna"), counsellor("Tess", role="therapist")
    anna.claim(1)
    # A booked chat session is assigned to its therapist (helpline.followup).
    db.session.execute(
        update(Conversation)
        .where(Conversation.id == 3)
        .values(assignee_id=tess.user_id, state="active")
    )
    db.session.commit()

    listed = tess.emit("list", {})
    everything = tess.emit("list", {"mine": False})

    assert [row["id"] for row in listed["conversations"]] == [3]
    assert [row["id"] for row in everything["conversations"]] == [3]
    assert len(anna.emit("list", {})["conversations"]) == 3
