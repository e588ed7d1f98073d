"""What staff and visitors are told after a change is committed, and to whom.

Each `prepare_*` reads what its announcement needs inside the change's transaction, before
commit, and returns the function that sends it: what is sent is exactly what was committed,
and sending needs no transaction of its own.
"""

from collections.abc import Callable

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import board, broadcast, rows, signals
from helpline.inbox.models import Conversation
from helpline.inbox.payloads import message_payload, visitor_message_payload
from helpline.inbox.summaries import queue_positions, summary, unread_counts, visitor_view
from helpline.timeutil import iso


def row(conversation: Conversation, *, everyone: bool | None = None) -> None:
    """Send the conversation's current inbox row: to everyone watching its service's queue,
    or (`everyone` False) only to its assignee and those who have it open. By default,
    everyone unless it is active with someone."""
    if everyone is None:
        everyone = conversation.state != "active"
    send_row(conversation, summary(conversation), everyone=everyone)


def send_row(conversation: Conversation, payload: dict, *, everyone: bool) -> None:
    """Send an inbox row read before."""
    if everyone or conversation.assignee_id is None:
        broadcast.to_queue(
            conversation.service_id, "conversation", payload, conversation.assignee_id
        )
    else:
        broadcast.to_staff("conversation", payload, conversation.assignee_id)
        broadcast.to_viewers(conversation.id, "conversation", payload)


def message(
    conversation: Conversation, stored, *, unread: int | None = None, origin: str | None = None
) -> None:
    """Send a stored message to the visitor (unless a note), to the staff who have the
    conversation open, and, for a visitor's words, the assignee's unread count or the row.

    `origin`: the visitor's socket it came from, which has it in its ack."""
    signals.message_posted.send(conversation, message=stored)
    # Only a chat visitor has a socket; a caller or a form's sender has nothing to receive.
    if stored.kind != "note" and conversation.channel == "chat":
        payload = visitor_message_payload(stored)
        broadcast.to_visitor(conversation.id, "message", payload, skip_sid=origin)
    broadcast.to_viewers(conversation.id, "message", message_payload(stored, conversation))
    if conversation.state == "active" and stored.kind == "text":
        # The counsellor who has the chat needs its row's counters; nobody else needs anything.
        update = activity(conversation, unread, message=stored)
        broadcast.to_staff("activity", update, conversation.assignee_id)
    elif stored.sender == "visitor":
        row(conversation, everyone=True)


def activity(conversation: Conversation, unread: int | None = None, *, message=None) -> dict:
    """What the assignee's list row needs after a read or a `message`: its last seq and the
    fields that changed. A read changes the unread count. A visitor's message changes it too;
    any message changes since when the visitor waits and, for an assignee who may read it, the
    preview. Merged into the row the assignee holds."""
    update = {
        "conversation_id": conversation.id,
        "last_seq": conversation.last_seq,
        "last_message_at": iso(conversation.last_message_at),
    }
    if message is None or message.sender == "visitor":
        if unread is None:
            unread = unread_counts([conversation.id]).get(conversation.id, 0)
        update["unread"] = unread
    if message is not None:
        update["visitor_present"] = True if message.sender == "visitor" else None
        waiting = rows.waiting_since([conversation])[conversation.id]
        update["visitor_waiting_since"] = iso(waiting)
        if rows.may_preview(_assignee(conversation), conversation):
            update["preview"] = rows.preview_of(message.sender, message.body)
    return update


def _assignee(conversation: Conversation) -> StaffUser | None:
    if conversation.assignee_id is None:
        return None
    return db.session.get(StaffUser, conversation.assignee_id)


def commit_change(conversation: Conversation, event) -> None:
    """Commit a change of state with its event message, then tell everyone."""
    publish = prepare_change(conversation, event)
    db.session.commit()
    publish()


def prepare_change(conversation: Conversation, event) -> Callable[[], None]:
    """Read what a change's announcements need; the returned function sends them."""
    payload = summary(conversation)
    chat = conversation.channel == "chat"
    view = visitor_view(conversation) if chat else None
    # Queue positions count waiting chats only: other channels never move them.
    queue = queue_positions(conversation.service_id) if chat else []

    def publish() -> None:
        message(conversation, event)
        send_row(conversation, payload, everyone=True)
        if chat:
            broadcast.to_visitor(conversation.id, "state", view)
            send_queue(queue)
        board.changed()

    return publish


def prepare_new_conversation(
    conversation: Conversation, *, first_contact: bool
) -> Callable[[], None]:
    """Read the new conversation's row (before commit); the returned function announces it."""
    payload = summary(conversation, first_contact=first_contact)
    queue = queue_positions(conversation.service_id) if conversation.channel == "chat" else []

    def publish() -> None:
        send_row(conversation, payload, everyone=True)
        broadcast.to_queue(
            conversation.service_id,
            "new_conversation",
            {"id": conversation.id, "service": conversation.service.slug},
            conversation.assignee_id,
        )
        send_queue(queue)
        board.changed()

    return publish


def presence(conversation_ids: list[int]) -> None:
    """Send the rows of conversations whose visitor came or went."""
    db.session.expire_all()
    for conversation_id in conversation_ids:
        conversation = db.session.get(Conversation, conversation_id)
        row(conversation)


def send_queue(positions: list[tuple[int, dict]]) -> None:
    """Tell each waiting visitor their place in the queue."""
    for conversation_id, payload in positions:
        broadcast.to_visitor(conversation_id, "queue", payload)
