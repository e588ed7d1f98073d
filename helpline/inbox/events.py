"""Socket events of the staff inbox (namespace /inbox). See docs/protocol.md."""

from flask import request
from flask_login import current_user
from flask_socketio import join_room, leave_room

from helpline.extensions import socketio
from helpline.inbox import (
    board,
    broadcast,
    connections,
    conversations,
    find,
    messages,
    monitoring,
    receipts,
    referrals,
    staff_status,
    summaries,
)
from helpline.inbox.payloads import message_payload
from helpline.inbox.permissions import can
from helpline.inbox.schemas import (
    CategoriesSchema,
    CloseSchema,
    ColleaguesSchema,
    ConversationRef,
    Empty,
    ListSchema,
    OpenSchema,
    RecategoriseSchema,
    ReferralRef,
    ReferralSchema,
    StaffMessageSchema,
    StaffReadSchema,
    StaffTypingSchema,
    StatusSchema,
    TransferSchema,
    WhisperSchema,
)
from helpline.sockets import acked

NS = "/inbox"


def user():
    return current_user._get_current_object()


@socketio.on("connect", namespace=NS)
def connect(auth=None):
    # The supervisor board's page connects only to follow the board: that is no presence.
    board_only = isinstance(auth, dict) and auth.get("board") is True
    if not current_user.is_authenticated:
        return False
    if not connections.opened(user(), request.sid, board_only):
        return False
    if not board_only:
        for room in connections.rooms_of(user()):
            join_room(room, namespace=NS)
    return True


@socketio.on("disconnect", namespace=NS)
def disconnect(*_reason):
    connections.closed(request.sid)
    monitoring.disconnected(request.sid)


@socketio.on("list", namespace=NS)
@acked(ListSchema(), staff=True)
def list_conversations(payload: dict) -> dict:
    return {"conversations": summaries.list_conversations(user(), **payload)}


@socketio.on("open", namespace=NS)
@acked(OpenSchema(), staff=True)
def open_conversation(payload: dict) -> dict:
    opened = summaries.open_for_staff(payload["conversation_id"], user(), payload["since_seq"])
    join_room(broadcast.conversation_room(payload["conversation_id"]), namespace=NS)
    return opened


@socketio.on("close_view", namespace=NS)
@acked(ConversationRef(), staff=True)
def close_view(payload: dict) -> dict:
    leave_room(broadcast.conversation_room(payload["conversation_id"]), namespace=NS)
    monitoring.unwatch(payload["conversation_id"], request.sid)
    return {}


@socketio.on("watch", namespace=NS)
@acked(OpenSchema(), staff=True)
def watch(payload: dict) -> dict:
    conversation_id = payload["conversation_id"]
    opened = monitoring.watch(conversation_id, user(), request.sid, payload["since_seq"])
    join_room(broadcast.conversation_room(conversation_id), namespace=NS)
    return opened


@socketio.on("unwatch", namespace=NS)
@acked(ConversationRef(), staff=True)
def unwatch(payload: dict) -> dict:
    leave_room(broadcast.conversation_room(payload["conversation_id"]), namespace=NS)
    monitoring.unwatch(payload["conversation_id"], request.sid)
    return {}


@socketio.on("whisper", namespace=NS)
@acked(WhisperSchema(), staff=True)
def whisper(payload: dict) -> dict:
    posted = monitoring.whisper(
        payload["conversation_id"], user(), payload["client_msg_id"], payload["body"]
    )
    return _message_ack(posted)


@socketio.on("history", namespace=NS)
@acked(ConversationRef(), staff=True)
def history(payload: dict) -> dict:
    return {"conversations": summaries.earlier_conversations(payload["conversation_id"], user())}


@socketio.on("claim", namespace=NS)
@acked(ConversationRef(), staff=True)
def claim(payload: dict) -> dict:
    conversation = conversations.claim(payload["conversation_id"], user())
    join_room(broadcast.conversation_room(conversation.id), namespace=NS)
    return {"conversation": summaries.summary(conversation, viewer=user())}


@socketio.on("message", namespace=NS)
@acked(StaffMessageSchema(), staff=True)
def message(payload: dict) -> dict:
    posted = messages.post_staff_message(
        payload["conversation_id"],
        user(),
        payload["client_msg_id"],
        payload["body"],
        note=payload["note"],
    )
    return _message_ack(posted)


def _message_ack(posted: messages.Posted) -> dict:
    return {
        "seq": posted.message.seq,
        "duplicate": not posted.created,
        "message": message_payload(posted.message, posted.conversation),
    }


@socketio.on("transfer", namespace=NS)
@acked(TransferSchema(), staff=True)
def transfer(payload: dict) -> dict:
    conversation = conversations.transfer(
        payload["conversation_id"], user(), payload["to"], note=payload["note"]
    )
    return {"conversation": summaries.summary(conversation, viewer=user())}


@socketio.on("end", namespace=NS)
@acked(ConversationRef(), staff=True)
def end(payload: dict) -> dict:
    return {
        "conversation": summaries.summary(
            conversations.end(payload["conversation_id"], user()), viewer=user()
        )
    }


@socketio.on("close", namespace=NS)
@acked(CloseSchema(), staff=True)
def close(payload: dict) -> dict:
    conversation = conversations.close(
        payload["conversation_id"], user(), payload["summary"], payload["categories"]
    )
    return {"conversation": summaries.summary(conversation, viewer=user())}


@socketio.on("recategorise", namespace=NS)
@acked(RecategoriseSchema(), staff=True)
def recategorise(payload: dict) -> dict:
    conversation = conversations.recategorise(
        payload["conversation_id"], user(), payload["summary"], payload["categories"]
    )
    return {"conversation": summaries.summary(conversation, viewer=user())}


@socketio.on("categories", namespace=NS)
@acked(CategoriesSchema(), staff=True)
def categories(payload: dict) -> dict:
    return {"categories": conversations.categories_offered(user(), payload["service"])}


@socketio.on("add_referral", namespace=NS)
@acked(ReferralSchema(), staff=True)
def add_referral(payload: dict) -> dict:
    referral = referrals.add_referral(
        payload["conversation_id"],
        user(),
        payload["kind"],
        payload["referred_on"],
        payload["note"],
    )
    return {"referral": referral}


@socketio.on("remove_referral", namespace=NS)
@acked(ReferralRef(), staff=True)
def remove_referral(payload: dict) -> dict:
    referrals.remove_referral(payload["conversation_id"], payload["referral_id"], user())
    return {}


@socketio.on("typing", namespace=NS)
@acked(StaffTypingSchema(), staff=True)
def typing(payload: dict) -> dict:
    conversation = find.by_id(payload["conversation_id"])
    if can(user(), "reply", conversation):
        broadcast.to_visitor(conversation.id, "typing", {"typing": payload["typing"]})
    return {}


@socketio.on("read", namespace=NS)
@acked(StaffReadSchema(), staff=True)
def read(payload: dict) -> dict:
    receipts.staff_read(payload["conversation_id"], user(), payload["seq"])
    return {}


@socketio.on("colleagues", namespace=NS)
@acked(ColleaguesSchema(), staff=True)
def colleagues(payload: dict) -> dict:
    return {"colleagues": summaries.colleagues(user(), payload["conversation_id"])}


@socketio.on("my_status", namespace=NS)
@acked(Empty(), staff=True)
def my_status(payload: dict) -> dict:
    return {"status": staff_status.status_of(user().id)}


@socketio.on("set_status", namespace=NS)
@acked(StatusSchema(), staff=True)
def set_status(payload: dict) -> dict:
    return {"status": staff_status.set_status(user(), payload["status"])}


@socketio.on("watch_board", namespace=NS)
@acked(Empty(), staff=True)
def watch_board(payload: dict) -> dict:
    shown = board.for_staff(user(), board_page=connections.board_only(request.sid))
    join_room(board.ROOM, namespace=NS)
    return {"board": shown}
