"""Storing messages: one append path for every message, on SQLite and PostgreSQL alike.

A message is stored in its conversation's transaction as two statements: an UPDATE that
takes the conversation's next sequence number (and its row lock, until commit, so that a
conversation's messages become visible in seq order) and an INSERT. Only after commit is
anything acknowledged or sent. The unique (conversation, client_msg_id) constraint makes a
retried message find its first copy instead of storing a second.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import announce, audit, board, broadcast, find
from helpline.inbox.errors import ConversationChanged, ConversationEnded, InvalidState
from helpline.inbox.models import OPEN_STATES, ContactMoment, Conversation, Message
from helpline.inbox.payloads import message_payload
from helpline.inbox.permissions import require
from helpline.inbox.summaries import unread_counts
from helpline.timeutil import utcnow

# The texts of the inbox's own events; a channel or feature passes the text of its own.
EVENT_TEXT = {
    "joined": "{name} joined the conversation.",
    "transferred": "The conversation was transferred to {name}.",
    "requeued": "The conversation was put back in the queue.",
    "ended": "{name} ended the conversation.",
    "visitor_ended": "The visitor ended the conversation.",
    "visitor_left": "The visitor left.",
    "closed": "{name} closed the conversation.",
    "exported": "{name} exported an anonymised report.",
}

# A chat visitor writes while the chat is open; a form's sender may still write back while
# the counsellor wraps up.
VISITOR_WRITES_IN = {"chat": OPEN_STATES, "form": (*OPEN_STATES, "wrap_up")}
STAFF_WRITES_IN = {"text": ("active",), "note": ("queued", "active", "wrap_up", "closed")}

# The audit entry of each way staff write.
STAFF_AUDIT = {"reply": "message.send", "add_note": "note.add", "whisper": "whisper.send"}

_POST_ATTEMPTS = 3


@dataclass(frozen=True)
class StoredMessage:
    """A message as it was stored: what payloads and signals are made of."""

    id: int
    conversation_id: int
    seq: int
    client_msg_id: str | None
    sender: str
    author_id: int | None
    author_name: str | None
    kind: str
    event: str | None
    body: str
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> "StoredMessage":
        """The stored value of a message read from the database."""
        return cls(
            message.id,
            message.conversation_id,
            message.seq,
            message.client_msg_id,
            message.sender,
            message.author_id,
            message.author_name,
            message.kind,
            message.event,
            message.body,
            message.created_at,
        )


@dataclass(frozen=True)
class Posted:
    """The outcome of sending a message: the stored message, and whether this call stored it."""

    conversation: Conversation
    message: StoredMessage
    created: bool
    # The assignee's unread count after a visitor's message, counted before commit.
    unread: int | None = None
    # The token the visitor holds, when this call opened (or found again) their chat: the
    # database keeps only its keyed hash.
    token: str | None = None


# --- posting: check, append, commit, then publish ----------------------------------------------


def post_visitor_message(
    token: str, client_msg_id: str, body: str, origin: str | None = None
) -> Posted:
    """Store a chat visitor's message once, however often it is sent.

    `origin`: the socket it came from, which has it in its ack; the visitor's other
    connections (tabs) receive it live."""
    return _posting(lambda: find.by_token(token), "visitor", body, client_msg_id, origin=origin)


def post_sender_message(conversation_id: int, client_msg_id: str, body: str) -> Posted:
    """Store a form sender's message once: they hold no token, their code and secret (checked
    by the form) found the conversation."""
    return _posting(lambda: find.by_id(conversation_id), "visitor", body, client_msg_id)


def post_staff_message(
    conversation_id: int, user: StaffUser, client_msg_id: str, body: str, *, note: bool = False
) -> Posted:
    """A counsellor's reply (sent to the visitor) or private note (never sent to the visitor)."""
    action = "add_note" if note else "reply"
    return post_staff(lambda: find.by_id(conversation_id), user, client_msg_id, body, action)


def post_staff(
    read: Callable[[], Conversation],
    user: StaffUser,
    client_msg_id: str,
    body: str,
    action: str,
    event: str | None = None,
) -> Posted:
    """Store what a staff member writes as `action` allows them: a reply, or else a note
    (`event` names a kind of note, such as a supervisor's whisper)."""
    kind = "text" if action == "reply" else "note"
    return _posting(
        read, "counsellor", body, client_msg_id, author=user, kind=kind, event=event, action=action
    )


def _posting(
    read: Callable[[], Conversation],
    sender: str,
    body: str,
    client_msg_id: str,
    *,
    author: StaffUser | None = None,
    kind: str = "text",
    event: str | None = None,
    action: str | None = None,
    origin: str | None = None,
) -> Posted:
    """Read the conversation and post to it; when it changed in between (a transfer, an end),
    read it and check again: a message never lands where the checks it passed no longer hold."""
    for _ in range(_POST_ATTEMPTS):
        conversation = read()
        try:
            posted = _post(conversation, sender, body, client_msg_id, author, kind, event, action)
        except ConversationChanged:
            db.session.rollback()
            continue
        if posted.created:
            announce.message(conversation, posted.message, unread=posted.unread, origin=origin)
        return posted
    raise ConversationChanged()


def _post(
    conversation: Conversation,
    sender: str,
    body: str,
    client_msg_id: str,
    author: StaffUser | None,
    kind: str,
    event: str | None,
    action: str | None,
) -> Posted:
    if author is not None:
        require(author, action, conversation)
    if not may_write(conversation, sender, kind):
        # A retry of a message stored before the conversation ended still gets its ack.
        existing = _existing(conversation.id, client_msg_id)
        if existing is not None:
            return Posted(conversation, existing, False)
        raise ConversationEnded() if sender == "visitor" else InvalidState()
    conversation_id = conversation.id
    try:
        stored = append(
            conversation,
            sender,
            body,
            client_msg_id=client_msg_id,
            author=author,
            kind=kind,
            event=event,
            audit_action=STAFF_AUDIT[action] if author else None,
            checked=True,
        )
        # Counted before commit, under the conversation's row lock: every earlier message of
        # this conversation is committed and counted by then.
        counted = sender == "visitor" and conversation.state == "active"
        unread = unread_counts([conversation_id]).get(conversation_id, 0) if counted else None
        db.session.commit()
    except IntegrityError:
        # A retry, or the same message arriving twice at once: the first copy stands.
        db.session.rollback()
        existing = _existing(conversation_id, client_msg_id)
        if existing is None:
            raise
        return Posted(find.by_id(conversation_id), existing, False)
    return Posted(conversation, stored, True, unread)


def may_write(conversation: Conversation, sender: str, kind: str = "text") -> bool:
    """Whether the conversation takes a message of this sender and kind in its state."""
    if sender == "visitor":
        return conversation.state in VISITOR_WRITES_IN.get(conversation.channel, ())
    return conversation.state in STAFF_WRITES_IN[kind]


def _existing(conversation_id: int, client_msg_id: str) -> StoredMessage | None:
    message = db.session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.client_msg_id == client_msg_id
        )
    )
    return None if message is None else StoredMessage.of(message)


# --- the append ------------------------------------------------------------------------------


def append(
    conversation: Conversation,
    sender: str,
    body: str,
    *,
    client_msg_id: str | None = None,
    author: StaffUser | None = None,
    kind: str = "text",
    event: str | None = None,
    now: datetime | None = None,
    audit_action: str | None = None,
    checked: bool = False,
) -> StoredMessage:
    """Store the conversation's next message in the session's transaction; the caller commits.

    `checked`: only while the conversation's state and assignee are still those it was read
    with, else ConversationChanged. `audit_action`: the author's audit entry, written with it.
    """
    now = now or utcnow()
    db.session.flush()  # the conversation's pending changes, which the UPDATE must see
    changes = _changes(sender, kind, now)
    names = tuple(sorted(changes))
    parameters = {"conversation_id": conversation.id} | {f"new_{n}": changes[n] for n in names}
    if checked:
        parameters |= {"read_state": conversation.state, "read_assignee": conversation.assignee_id}
    # Core statements run on the session's connection, in its transaction: no ORM work for rows
    # that are plain values.
    connection = db.session.connection()
    taken = connection.execute(_next_seq(names, checked), parameters).first()
    if taken is None:
        raise ConversationChanged()
    for name, value in taken._mapping.items():
        set_committed_value(conversation, name, value)
    row = {
        "conversation_id": conversation.id,
        "seq": taken.last_seq,
        "client_msg_id": client_msg_id,
        "sender": sender,
        "author_id": author.id if author else None,
        "kind": kind,
        "event": event,
        "body": body,
        "created_at": now,
    }
    message_id = connection.execute(_insert_message, row).scalar_one()
    if audit_action is not None:
        audit.record(author, audit_action, conversation)
    return StoredMessage(id=message_id, author_name=author.display_name if author else None, **row)


def _changes(sender: str, kind: str, now: datetime) -> dict:
    """What a new message changes on its conversation besides the sequence number."""
    changes: dict = {}
    if kind == "text":
        changes["last_message_at"] = now
    if sender == "visitor":
        changes.update(visitor_left_at=None, visitor_seen_at=now)
    if sender == "counsellor" and kind == "text":
        changes["first_response_at"] = now  # unless set before: see `_next_seq`
    return changes


@functools.cache
def _next_seq(names: tuple[str, ...], checked: bool):
    """UPDATE conversation SET last_seq = last_seq + 1, <names> WHERE id [and unchanged]
    RETURNING last_seq, <names>: built once per shape, as every message runs one."""
    c = Conversation.__table__.c
    where = [c.id == bindparam("conversation_id")]
    if checked:
        where += [
            c.state == bindparam("read_state"),
            c.assignee_id.is_not_distinct_from(bindparam("read_assignee", type_=c.id.type)),
        ]
    values = {name: bindparam(f"new_{name}", type_=c[name].type) for name in names}
    if "first_response_at" in values:
        # Kept if set meanwhile: the first response is the first.
        values["first_response_at"] = func.coalesce(
            c.first_response_at, values["first_response_at"]
        )
    return (
        update(Conversation.__table__)
        .where(*where)
        .values(last_seq=c.last_seq + 1, **values)
        .returning(c.last_seq, *(c[name] for name in names))
    )


_insert_message = insert(Message.__table__).returning(Message.__table__.c.id)


# --- events and other writes on a conversation ---------------------------------------------------


def append_event(
    conversation: Conversation,
    event: str,
    actor: StaffUser | None,
    now: datetime,
    text: str | None = None,
    **params: str,
) -> StoredMessage:
    """Store a system event; its text is `text`, or the inbox's own text for `event`."""
    name = actor.display_name if actor else ""
    body = text if text is not None else EVENT_TEXT[event].format(name=name, **params)
    return append(conversation, "system", body, author=actor, kind="event", event=event, now=now)


def record_event(
    conversation_id: int,
    event: str,
    text: str,
    actor: StaffUser | None = None,
    now: datetime | None = None,
    *,
    audit_action: str | None = None,
) -> Conversation:
    """Note what happened on a channel or in a feature (a voicemail, a booking) as an event
    with its text, and show it."""
    conversation = find.by_id(conversation_id)
    stored = append_event(conversation, event, actor, now or utcnow(), text)
    if actor is not None and audit_action:
        audit.record(actor, audit_action, conversation)
    db.session.commit()
    announce.message(conversation, stored)
    announce.row(conversation)
    return conversation


def add_contact_moment(
    conversation_id: int,
    kind: str,
    now: datetime | None = None,
    *,
    event: str | None = None,
    text: str | None = None,
) -> None:
    """Count a callback (or another inbound contact) of an existing conversation, with the
    event that tells of it when given."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    db.session.add(ContactMoment(conversation=conversation, kind=kind, started_at=now))
    stored = append_event(conversation, event, None, now, text) if event else None
    db.session.commit()
    board.changed()
    if stored is not None:
        announce.message(conversation, stored)


def record_export(conversation: Conversation, user: StaffUser, now: datetime | None = None) -> None:
    """Note on the conversation that an anonymised report left the platform (audited)."""
    stored = append_event(conversation, "exported", user, now or utcnow())
    audit.record(user, "conversation.export", conversation)
    db.session.commit()
    broadcast.to_viewers(conversation.id, "message", message_payload(stored, conversation))
