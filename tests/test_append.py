"""Every message goes through one append path: stored before it is acknowledged, on both
databases, whatever types its conversation's columns have."""

import enum

import pytest
from sqlalchemy import String, TypeDecorator, select

from helpline.extensions import db
from helpline.inbox import messages
from helpline.inbox.models import Conversation, Message


class State(enum.StrEnum):
    QUEUED = "queued"
    ACTIVE = "active"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"


class StateColumn(TypeDecorator):
    """The state column as an Enum: SQLAlchemy converts its values both ways."""

    impl = String(10)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else State(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else State(value)


@pytest.fixture
def state_as_enum(monkeypatch):
    """Conversation.state read and written through a type that converts (before the app is
    made, so that no statement is compiled without it)."""
    monkeypatch.setattr(Conversation.__table__.c.state, "type", StateColumn())
    messages._next_seq.cache_clear()
    yield
    messages._next_seq.cache_clear()


def stored_bodies(conversation_id: int) -> list[str]:
    """What another connection finds committed, in seq order."""
    db.session.rollback()  # a new snapshot
    return list(
        db.session.scalars(
            select(Message.body)
            .where(Message.conversation_id == conversation_id, Message.kind == "text")
            .order_by(Message.seq)
        )
    )


def test_every_acknowledged_message_is_already_stored(app, visitor, counsellor):
    person = visitor()
    anna = counsellor()
    sent = []
    for number in range(5):
        body = f"bericht {number}"
        assert person.say(body)["ok"]
        sent.append(body)
        conversation_id = person.conversation().id
        # Read on the test's own connection right after the ack: committed, not just written.
        assert stored_bodies(conversation_id) == sent
        if number == 1:
            assert anna.claim(conversation_id)["ok"]
    for number in range(5):
        body = f"antwoord {number}"
        assert anna.say(conversation_id, body)["ok"]
        sent.append(body)
        assert stored_bodies(conversation_id) == sent


def test_messages_are_stored_when_the_state_column_converts_its_values(
    state_as_enum, app, visitor, counsellor
):
    person = visitor()
    opened = person.say("Hoi")
    assert opened["ok"] and opened["conversation"]["state"] == "queued"
    conversation_id = person.conversation().id
    anna = counsellor()
    assert anna.claim(conversation_id)["ok"]
    acked = ["Hoi"]
    for number in range(10):
        ack = person.say(f"vraag {number}")
        assert ack["ok"] and not ack["duplicate"]
        acked.append(f"vraag {number}")
        assert anna.say(conversation_id, f"antwoord {number}")["ok"]
        acked.append(f"antwoord {number}")
    assert anna.say(conversation_id, "alleen voor collega's", note=True)["ok"]

    assert stored_bodies(conversation_id) == acked
    assert db.session.get(Conversation, conversation_id).state is State.ACTIVE
    seqs = db.session.scalars(
        select(Message.seq).where(Message.conversation_id == conversation_id)
    ).all()
    assert sorted(seqs) == list(range(1, len(acked) + 3))  # with the joined event and the note
