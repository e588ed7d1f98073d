"""Signing out takes the staff member's live inbox sockets out of every room at once: on this
server, and on every other server through Redis."""

import re
import secrets
import time

import pytest
import requests
from sqlalchemy import select

from helpline.auth.signals import sessions_ended
from helpline.extensions import db
from helpline.inbox.models import StaffConnection
from tests import factories
from tests.test_inbox import open_chats
from tests.test_two_servers import Peer, servers, signed_in  # noqa: F401  (the fixture)

NS = "/inbox"


def test_signing_out_elsewhere_disconnects_the_open_inbox_and_it_hears_nothing_more(
    app, visitor, counsellor
):
    person = open_chats(visitor, 1)[0]
    anna = counsellor()
    anna.claim(1)
    anna.emit("open", {"conversation_id": 1})
    anna.drain()
    laptop = app.test_client()
    factories.sign_in(laptop, anna.user)

    laptop.post("/logout")
    person.say("Ben je daar nog?")

    # A disconnected test client has no queue left to read: it is in no room.
    assert not anna.sio.is_connected(NS)
    db.session.rollback()
    assert db.session.scalars(select(StaffConnection.sid)).all() == []


def test_switching_an_account_off_disconnects_every_inbox_of_that_person_only(
    app, visitor, counsellor
):
    open_chats(visitor, 1)
    anna_desk, ben = counsellor("Anna"), counsellor("Ben")
    anna_laptop = counsellor(user=anna_desk.user)
    user = db.session.get(type(anna_desk.user), anna_desk.user_id)
    user.active = False
    db.session.commit()

    sessions_ended.send(app, user_id=user.id)

    assert not anna_desk.sio.is_connected(NS) and not anna_laptop.sio.is_connected(NS)
    assert ben.sio.is_connected(NS) and ben.claim(1)["ok"]


def test_a_socket_whose_session_ended_cannot_reply_even_before_it_is_disconnected(
    app, visitor, counsellor
):
    open_chats(visitor, 1)
    anna = counsellor()
    anna.claim(1)
    user = db.session.get(type(anna.user), anna.user_id)
    user.rotate_session()  # the sign-out's commit, before its sockets are reached
    db.session.commit()

    ack = anna.say(1, "Na het uitloggen")

    assert ack["error"]["code"] == "unauthorized"
    assert [m.body for m in factories.messages_of(1) if m.kind == "text"] == ["Bericht 0"]


def _sign_out(url: str, browser: requests.Session) -> None:
    page = browser.get(f"{url}/inbox").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    answer = browser.post(f"{url}/logout", data={"csrf_token": token}, allow_redirects=False)
    assert answer.status_code == 302


@pytest.mark.slow
@pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
def test_signing_out_on_one_server_disconnects_the_inbox_on_the_other(app, servers):  # noqa: F811
    one, two = servers
    anna = factories.staff_user("Anna")
    browser = signed_in(one.url, anna.email)
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    inbox = Peer(two.url, NS, {"Cookie": cookie})
    visitor = Peer(one.url, "/chat")
    opened = visitor.call(
        "message",
        {
            "service": "helpwanted",
            "visitor": secrets.token_urlsafe(32),
            "client_msg_id": "v-first-1",
            "body": "Help",
        },
    )
    new = inbox.wait_for(lambda e, p: e == "new_conversation")[0]
    assert inbox.call("claim", {"conversation_id": new["id"]})["ok"]
    assert inbox.call("open", {"conversation_id": new["id"]})["ok"]

    _sign_out(one.url, browser)
    deadline = time.monotonic() + 10
    while inbox.sio.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    heard = len(inbox.events)
    visitor.call(
        "message", {"token": opened["token"], "client_msg_id": "v-later-1", "body": "Hallo?"}
    )
    time.sleep(1)

    assert not inbox.sio.connected
    assert "Hallo?" not in [p.get("body") for e, p in inbox.events[heard:] if p]
    assert "Hallo?" not in inbox.texts("visitor")
    visitor.close()
