"""A therapist on the inbox socket reaches only their own conversations: nothing waiting in the
queue, nothing of another service's traffic."""

import pytest

from helpline.extensions import db
from helpline.inbox.models import Conversation
from tests import factories
from tests.test_inbox import open_chats
from tests.test_phone import (
    COUNSELLOR_PHONE,
    ask_for_callback,
    conversation_of,
    leave_voicemail,
    line_of,
)


@pytest.fixture
def therapist(counsellor):
    user = factories.staff_user("Tara", role="therapist")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    return counsellor(user=user)


def test_therapist_cannot_end_a_waiting_chat_and_so_cannot_read_it(app, visitor, therapist):
    open_chats(visitor, 1)

    ended = therapist.emit("end", {"conversation_id": 1})
    opened = therapist.emit("open", {"conversation_id": 1})

    assert ended["ok"] is False and ended["error"]["code"] == "forbidden"
    assert opened["ok"] is False and "messages" not in opened
    db.session.rollback()
    waiting = db.session.get(Conversation, 1)
    assert (waiting.state, waiting.assignee_id) == ("queued", None)


def test_therapist_cannot_see_the_earlier_conversations_of_a_waiting_visitor(
    app, visitor, therapist
):
    open_chats(visitor, 1)
    therapist.emit("end", {"conversation_id": 1})

    history = therapist.emit("history", {"conversation_id": 1})

    assert history["ok"] is False and "conversations" not in history


def test_therapist_cannot_call_back_a_queued_callback_request(line, therapist):
    twilio = line.config["TWILIO_HTTP_CLIENT"]
    conversation = conversation_of(ask_for_callback(line))
    before = len(twilio.requests)

    refused = therapist.emit("call_back", {"conversation_id": conversation.id})

    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    assert len(twilio.requests) == before


def test_therapist_cannot_delete_a_voicemail_they_may_not_hear(line, therapist):
    twilio = line.config["TWILIO_HTTP_CLIENT"]
    conversation = conversation_of(leave_voicemail(line))

    refused = therapist.emit("delete_voicemail", {"conversation_id": conversation.id})

    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    assert [r for r in twilio.requests if r["method"] == "DELETE"] == []
    assert line_of(conversation_of_id(conversation.id)).recording_deleted_at is None
    assert therapist.http.get(f"/phone/voicemail/{conversation.id}").status_code == 403


def test_therapist_socket_receives_no_other_conversations_but_a_counsellor_does(
    app, visitor, counsellor, therapist
):
    anna = counsellor("Anna")
    anna.drain()
    therapist.drain()

    person = open_chats(visitor, 1)[0]
    anna.claim(1)
    person.say("Nog een bericht")

    to_anna = {packet["name"] for packet in anna.drain()}
    assert {"new_conversation", "conversation"} <= to_anna
    assert therapist.drain() == []


def conversation_of_id(conversation_id: int) -> Conversation:
    db.session.rollback()
    return db.session.get(Conversation, conversation_id)
