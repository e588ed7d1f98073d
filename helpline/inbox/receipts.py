"""Read receipts: how far each side of a conversation has read, and telling the other side.

Only the counsellor who has the conversation sends receipts to the visitor: a colleague or a
supervisor who reads along (`helpline.inbox.monitoring`) is never announced.
"""

from sqlalchemy import update

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import announce, broadcast, find
from helpline.inbox.models import Conversation
from helpline.inbox.permissions import can


def visitor_read(conversation_id: int, seq: int) -> None:
    """The visitor has read everything up to `seq`."""
    _raise_watermark(conversation_id, "visitor_read_seq", seq)
    broadcast.to_viewers(conversation_id, "read", {"conversation_id": conversation_id, "seq": seq})


def staff_read(conversation_id: int, user: StaffUser, seq: int) -> None:
    """The assigned counsellor has read the visitor's messages up to `seq`."""
    conversation = find.by_id(conversation_id)
    if not can(user, "reply", conversation):
        return
    _raise_watermark(conversation_id, "staff_read_seq", seq)
    broadcast.to_visitor(conversation_id, "read", {"seq": seq})
    db.session.expire(conversation)
    payload = announce.activity(conversation) | {"visitor_present": None}
    broadcast.to_staff("activity", payload, user.id)


def _raise_watermark(conversation_id: int, column: str, seq: int) -> None:
    attribute = getattr(Conversation, column)
    db.session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            attribute < seq,
            Conversation.last_seq >= seq,
        )
        .values({column: seq})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
