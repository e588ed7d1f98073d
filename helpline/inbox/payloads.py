"""What the sockets send: plain dicts built from models, one shape per thing.

A message is a `Message` read from the database or the `StoredMessage` the append returned:
both have the fields used here.
"""

from typing import TYPE_CHECKING

from helpline.inbox.models import Conversation, Message, Referral

if TYPE_CHECKING:
    from helpline.inbox.messages import StoredMessage
from helpline.timeutil import iso


def message_payload(message: "Message | StoredMessage", conversation: Conversation) -> dict:
    """A message as staff see it (staff also receive private notes)."""
    return {"conversation_id": conversation.id, **visitor_message_payload(message)} | {
        "client_msg_id": message.client_msg_id,
        "removed_after_days": removed_after_days(message, conversation),
    }


def removed_after_days(
    message: "Message | StoredMessage", conversation: Conversation
) -> int | None:
    """After how many days the words of this message were purged (helpline/retention), if so."""
    if conversation.purged_at is None or message.kind == "event":
        return None
    return conversation.service.retention_days


def visitor_message_payload(message: "Message | StoredMessage") -> dict:
    """A message for the visitor: no internal ids, and only their own client_msg_id."""
    return {
        "seq": message.seq,
        "client_msg_id": message.client_msg_id if message.sender == "visitor" else None,
        "sender": message.sender,
        "kind": message.kind,
        "event": message.event,
        "body": message.body,
        "author": message.author_name,
        "created_at": iso(message.created_at),
    }


def summary_payload(conversation: Conversation, *, unread: int, earlier: int) -> dict:
    """A row of the inbox list. Holds no message content: opening a conversation is audited."""
    return {
        "id": conversation.id,
        "service": conversation.service.slug,
        "service_name": conversation.service.name,
        "channel": conversation.channel,
        "state": conversation.state,
        "assignee": (
            {"id": conversation.assignee.id, "name": conversation.assignee.display_name}
            if conversation.assignee
            else None
        ),
        "created_at": iso(conversation.created_at),
        "waiting_since": iso(conversation.waiting_since),
        "last_message_at": iso(conversation.last_message_at),
        "ended_at": iso(conversation.ended_at),
        "closed_at": iso(conversation.closed_at),
        "last_seq": conversation.last_seq,
        "unread": unread,
        "visitor_present": conversation.visitor_left_at is None,
        "abandoned": conversation.abandoned,
        "earlier_conversations": earlier,
    }


def referral_payload(referral: Referral) -> dict:
    """A referral as the conversation view shows it."""
    return {
        "id": referral.id,
        "kind": referral.kind,
        "referred_on": referral.referred_on.isoformat(),
        "note": referral.note,
    }
