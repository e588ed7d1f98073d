"""A staff sign-in ends when it is idle too long and, in any case, after its lifetime; on the
socket as well as on pages."""

import time
from pathlib import Path

import time_machine

from helpline.extensions import db
from tests.factories import messages_of

MINUTE = 60


def later(minutes: float):
    """Move the clock `minutes` ahead of now (and let it run on)."""
    return time_machine.travel(time.time() + minutes * MINUTE, tick=True)


def waiting_chat(visitor) -> int:
    person = visitor()
    assert person.say("Hallo, ik heb hulp nodig")["ok"]
    return person.conversation().id


def test_a_cookie_left_idle_longer_than_the_idle_timeout_no_longer_opens_the_inbox(app, counsellor):
    anna = counsellor()

    for minutes in (20, 40, 60):
        with later(minutes):
            assert anna.http.get("/inbox").status_code == 200
    with later(60 + 31):
        answer = anna.http.get("/inbox")

    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_cookie_signed_in_30_days_ago_no_longer_opens_the_inbox(app, counsellor):
    anna = counsellor()

    with later(30 * 24 * 60):
        answer = anna.http.get("/inbox")

    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_session_in_constant_use_ends_after_its_lifetime(app, counsellor):
    app.config["STAFF_SESSION_HOURS"] = 1
    anna = counsellor()

    for minutes in (20, 40, 55):
        with later(minutes):
            assert anna.http.get("/inbox").status_code == 200
    with later(61):
        answer = anna.http.get("/inbox")

    assert answer.status_code == 302


def test_idle_timeout_follows_its_setting(app, counsellor):
    app.config["STAFF_IDLE_MINUTES"] = 5
    anna = counsellor()

    with later(4):
        kept = anna.http.get("/inbox").status_code
    with later(4 + 6):
        ended = anna.http.get("/inbox").status_code

    assert (kept, ended) == (200, 302)


def test_a_counsellor_chatting_on_the_socket_without_page_loads_is_idle_only_when_silent(
    app, visitor, counsellor
):
    conversation_id = waiting_chat(visitor)
    anna = counsellor()
    assert anna.claim(conversation_id)["ok"]

    acks = []
    for minutes in (20, 40, 60):
        with later(minutes):
            acks.append(anna.say(conversation_id, f"Na {minutes} minuten"))
            acks.append(anna.emit("list"))

    with later(60 + 31):
        acks.append(anna.emit("list"))

    assert [ack["ok"] for ack in acks] == [True] * 6 + [False], acks
    assert [m.body for m in messages_of(conversation_id) if m.sender == "counsellor"] == [
        "Na 20 minuten",
        "Na 40 minuten",
        "Na 60 minuten",
    ]


def test_an_idle_socket_can_no_longer_reply_or_act(app, visitor, counsellor):
    conversation_id = waiting_chat(visitor)
    anna = counsellor()
    assert anna.claim(conversation_id)["ok"]

    with later(31):
        reply = anna.say(conversation_id, "Na een half uur stilte")
        listed = anna.emit("list")

    assert reply["error"]["code"] == "unauthorized"
    assert listed["error"]["code"] == "unauthorized"
    db.session.expire_all()
    assert [m.body for m in messages_of(conversation_id) if m.sender == "counsellor"] == []


def test_the_lifetime_ends_a_busy_socket_too(app, visitor, counsellor):
    app.config["STAFF_SESSION_HOURS"] = 1
    conversation_id = waiting_chat(visitor)
    anna = counsellor()
    assert anna.claim(conversation_id)["ok"]

    for minutes in (20, 40, 55):
        with later(minutes):
            assert anna.say(conversation_id, f"Na {minutes} minuten")["ok"]
    with later(61):
        reply = anna.say(conversation_id, "Na het uur")
        listed = anna.emit("list")

    assert reply["error"]["code"] == "unauthorized"
    assert listed["error"]["code"] == "unauthorized"


def test_a_socket_connecting_with_an_expired_session_is_refused(app, counsellor):
    anna = counsellor()
    anna.close()

    with later(31):
        anna.reconnect()
        connected = anna.sio.is_connected(anna.NS)

    assert not connected


def test_the_inbox_keeps_its_cookie_alive_while_its_socket_is_busy(app, counsellor):
    anna = counsellor()

    with later(20):
        renewed = anna.http.get("/account/active")
    with later(20 + 25):
        page = anna.http.get("/inbox")

    assert renewed.status_code == 204
    assert page.status_code == 200
    inbox_socket = Path(app.static_folder, "js", "inbox", "connection.js").read_text("utf-8")
    assert 'fetch("/account/active"' in inbox_socket
