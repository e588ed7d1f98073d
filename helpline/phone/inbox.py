"""The phone line's part in the shared inbox: what a call's events say, who takes calls, and
what a hang-up does to the conversation."""

from datetime import datetime

from sqlalchemy import func, select, update

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import announce, conversations, find, messages, staff_status
from helpline.inbox.errors import InboxError
from helpline.inbox.models import Conversation
from helpline.inbox.permissions import require
from helpline.timeutil import utcnow

CALL_TEXT = {
    "call_started": "Incoming call.",
    "call_missed": "{name} did not answer; the call is back in the queue.",
    "call_not_connected": "The call could not be put through to {name}; it is back in the queue.",
    "call_ended": "The call ended after {duration}.",
    "caller_hung_up": "The caller hung up while waiting.",
    "voicemail": "The caller left a voicemail of {duration}.",
    "callback_requested": "The caller asked to be called back.",
    "callback_started": "{name} is calling back.",
    "callback_answered": "The caller answered the callback.",
    "callback_ended": "The callback ended after {duration}.",
    "callback_failed": "The callback did not get through ({status}).",
    "recording_deleted": "{name} deleted the voicemail.",
}


class NoPhone(InboxError):
    code = "no_phone"
    default_message = "Add the phone number calls are put through to first."


def text(event: str, actor: StaffUser | None = None, **params: str) -> str:
    """What the inbox shows of a call's event."""
    return CALL_TEXT[event].format(name=actor.display_name if actor else "", **params)


def record(
    conversation_id: int,
    event: str,
    actor: StaffUser | None = None,
    now: datetime | None = None,
    *,
    audit_action: str | None = None,
    **params: str,
) -> Conversation:
    """Show a call's event (a voicemail, a callback) in its conversation."""
    said = text(event, actor, **params)
    return messages.record_event(
        conversation_id, event, said, actor, now, audit_action=audit_action
    )


def show(conversation_id: int) -> None:
    """Show staff the current row of a conversation whose call details changed."""
    conversation = find.by_id(conversation_id)
    db.session.refresh(conversation)
    announce.row(conversation)


def requeue(conversation_id: int, event: str, now: datetime | None = None) -> Conversation | None:
    """The counsellor's phone did not take the call: back in the queue, saying why."""
    conversation = find.by_id(conversation_id)
    return conversations.requeue(conversation_id, event, text(event, conversation.assignee), now)


def caller_gone(
    conversation_id: int,
    now: datetime | None = None,
    *,
    keep_waiting: bool = False,
    **params: str,
) -> Conversation | None:
    """The caller hung up: a call in progress goes to wrap-up; a waiting one is abandoned.

    With `keep_waiting` (a voicemail or callback request is waiting to be handled) a waiting
    conversation stays in the queue. Repeated or late reports change nothing.
    """
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    if conversation.state == "active":
        said = text("call_ended", **params)
        return conversations.leave(conversation, "wrap_up", "call_ended", now, said)
    if conversation.state == "queued" and not keep_waiting:
        said = text("caller_hung_up")
        return conversations.leave(conversation, "closed", "caller_hung_up", now, said)
    return None


_busy = (
    select(func.count())
    .select_from(Conversation)
    .where(Conversation.assignee_id == StaffUser.id, Conversation.state == "active")
    .scalar_subquery()
)


def staff_available_for_calls(service_id: int) -> bool:
    """Someone takes calls now, is not away or on a break, and has room for one more
    conversation."""
    someone = db.session.scalar(
        select(StaffUser.id)
        .where(
            StaffUser.active.is_(True),
            StaffUser.takes_calls.is_(True),
            StaffUser.phone_endpoint.is_not(None),
            _busy < StaffUser.max_chats,
            ~staff_status.away(StaffUser.id),
        )
        .limit(1)
    )
    return someone is not None


def set_takes_calls(user: StaffUser, on: bool) -> None:
    """Switch a staff member's availability for the phone line."""
    require(user, "take_calls")
    if on and not user.phone_endpoint:
        raise NoPhone()
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(takes_calls=on)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    user.takes_calls = on
