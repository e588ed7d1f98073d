"""Counsellors claiming at the same moment: exactly one gets the chat, on a real database."""

import threading

import pytest
from sqlalchemy import func, select

from helpline.extensions import db
from helpline.inbox import conversations, find, intake, messages
from helpline.inbox.errors import AlreadyAssigned, ConversationEnded, NotAllowed, NotFound
from helpline.inbox.models import AuditEntry, Conversation, Message
from tests import factories

ROUNDS = 10
CLAIMANTS = 4


def _race(app, conversation_id: int, user_ids: list[int]) -> list[str]:
    barrier = threading.Barrier(len(user_ids))
    outcomes: list[str] = []

    def attempt(user_id: int) -> None:
        with app.app_context():
            user = db.session.get(factories.StaffUser, user_id)
            db.session.rollback()  # hold no lock while waiting for the others
            barrier.wait()
            try:
                conversations.claim(conversation_id, user)
                outcomes.append("won")
            except AlreadyAssigned:
                outcomes.append("lost")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_simultaneous_claims_have_exactly_one_winner(app, visitor):
    staff = [factories.staff_user(f"C{i}", max_chats=ROUNDS).id for i in range(CLAIMANTS)]
    for round_ in range(ROUNDS):
        visitor().say(f"Chat {round_}")
    db.session.rollback()
    ids = list(db.session.scalars(select(Conversation.id).order_by(Conversation.id)))

    for conversation_id in ids:
        outcomes = _race(app, conversation_id, staff)
        assert sorted(outcomes) == ["lost"] * (CLAIMANTS - 1) + ["won"]

    db.session.rollback()
    for conversation_id in ids:
        conversation = db.session.get(Conversation, conversation_id)
        assert conversation.state == "active" and conversation.assignee_id in staff
        joined = db.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == conversation_id, Message.event == "joined")
        )
        claims = db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.conversation_id == conversation_id,
                AuditEntry.action == "conversation.claim",
            )
        )
        assert (joined, claims) == (1, 1)


def test_one_counsellor_claiming_many_chats_at_once_stays_within_the_limit(app, visitor):
    anna_id = factories.staff_user("Anna", max_chats=2).id
    for i in range(6):
        visitor().say(f"Chat {i}")
    db.session.rollback()
    barrier = threading.Barrier(6)
    results: list[str] = []

    def attempt(conversation_id: int) -> None:
        with app.app_context():
            user = db.session.get(factories.StaffUser, anna_id)
            db.session.rollback()
            barrier.wait()
            try:
                conversations.claim(conversation_id, user)
                results.append("won")
            except Exception as error:
                results.append(type(error).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert results.count("won") == 2
    assert results.count("ChatLimitReached") == 4
    db.session.rollback()
    active = db.session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.state == "active")
    )
    assert active == 2


def test_simultaneous_sends_of_one_message_store_it_once(app, visitor):
    person = visitor()
    person.say("Eerste")
    token = person.token
    barrier = threading.Barrier(5)
    seqs: list[int] = []

    def send() -> None:
        with app.app_context():
            barrier.wait()
            seqs.append(messages.post_visitor_message(token, "same-id-123", "Dubbel?").message.seq)
            db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(set(seqs)) == 1 and len(seqs) == 5
    db.session.rollback()
    bodies = [m.body for m in factories.messages_of(1)]
    assert bodies == ["Eerste", "Dubbel?"]


def test_concurrent_messages_get_distinct_gapless_sequence_numbers(app, visitor, counsellor):
    person = visitor()
    person.say("Start")
    anna = factories.staff_user("Anna")
    db.session.rollback()
    service_user_id = anna.id
    token = person.token
    with app.app_context():
        conversations.claim(1, db.session.get(factories.StaffUser, service_user_id))
        db.session.remove()
    barrier = threading.Barrier(8)

    def talk(i: int) -> None:
        with app.app_context():
            barrier.wait()
            for j in range(5):
                if i % 2:
                    messages.post_visitor_message(token, f"v-{i}-{j}-xxxx", f"v{i}.{j}")
                else:
                    user = db.session.get(factories.StaffUser, service_user_id)
                    messages.post_staff_message(1, user, f"s-{i}-{j}-xxxx", f"s{i}.{j}")
            db.session.remove()

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    db.session.rollback()
    seqs = [m.seq for m in factories.messages_of(1)]
    assert seqs == list(range(1, 43))  # start, joined, 40 messages


def test_a_reply_checked_before_a_transfer_is_not_stored_after_it(app, visitor):
    """Anna's reply passed its checks on the conversation as it was read; before it is
    stored, the chat goes to Ben. The reply is refused, as if it had been sent after."""
    visitor().say("Hallo")
    anna, ben = factories.staff_user("Anna"), factories.staff_user("Ben")
    anna_id, ben_id = anna.id, ben.id
    conversations.claim(1, anna)
    read_by_anna = find.by_id(1)
    db.session.commit()  # what Anna's event read stays as it was read
    with app.app_context():
        conversations.transfer(1, db.session.get(factories.StaffUser, anna_id), ben_id)
        db.session.remove()
    assert read_by_anna.assignee_id == anna_id

    with pytest.raises(NotAllowed):
        messages.post_staff_message(1, anna, factories.new_id(), "Nog een vraag?")

    db.session.rollback()
    assert [m.body for m in factories.messages_of(1) if m.kind == "text"] == ["Hallo"]


@pytest.mark.parametrize("session", ["between transactions", "inside a transaction"])
def test_only_a_forms_sender_writes_back_while_the_counsellor_wraps_up(app, session):
    """A visitor's message is stored in one statement when it can be: the rules are the same
    whichever way it is stored."""
    helpwanted = find.get_service("helpwanted")
    counsellor = factories.staff_user("Anna")
    ids = {}
    token = find.chat_token("a secret of the visitor")
    for channel in ("chat", "form"):
        client = intake.new_client()
        posted = intake.open_conversation(
            helpwanted,
            channel,
            client,
            factories.new_id(),
            "Hoi",
            token=token if channel == "chat" else None,
        )
        ids[channel] = posted.conversation.id
        conversations.claim(posted.conversation.id, counsellor)
        conversations.end(posted.conversation.id, counsellor)
    db.session.remove()

    def write(channel: str) -> messages.Posted:
        if session == "inside a transaction":
            db.session.connection()
        try:
            if channel == "chat":
                return messages.post_visitor_message(token, factories.new_id(), "En nu?")
            return messages.post_sender_message(ids[channel], factories.new_id(), "En nu?")
        finally:
            db.session.remove()

    with pytest.raises(ConversationEnded):
        write("chat")
    posted = write("form")
    assert (posted.created, posted.message.seq, posted.conversation.state) == (
        True,
        posted.conversation.last_seq,
        "wrap_up",
    )
    with pytest.raises(NotFound):
        messages.post_visitor_message("not-a-token", factories.new_id(), "Hallo?")
    bodies = {
        channel: [m.body for m in factories.messages_of(i) if m.kind == "text"]
        for i, channel in enumerate(("chat", "form"), start=1)
    }
    assert bodies == {"chat": ["Hoi"], "form": ["Hoi", "En nu?"]}
