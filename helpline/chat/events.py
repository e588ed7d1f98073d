"""Socket events of the visitor's chat (namespace /chat). See docs/protocol.md."""

import threading

from flask import current_app, request
from flask_socketio import join_room, leave_room

from helpline.abuse import service as abuse
from helpline.chat import connections
from helpline.chat.schemas import (
    LeaveSchema,
    ReadSchema,
    ResumeSchema,
    TypingSchema,
    VisitorMessageSchema,
)
from helpline.errors import log_unexpected
from helpline.extensions import db, socketio
from helpline.inbox import (
    broadcast,
    conversations,
    find,
    intake,
    messages,
    presence,
    receipts,
    summaries,
)
from helpline.inbox.errors import ConversationEnded, NotFound, RateLimited
from helpline.inbox.payloads import visitor_message_payload
from helpline.sockets import acked

NS = "/chat"
_sweeper = threading.Lock()
_sweeper_started = False


@socketio.on("connect", namespace=NS)
def connect(auth=None):
    _start_sweeper()


@socketio.on("disconnect", namespace=NS)
def disconnect(reason=None):
    conversation_id = connections.current().detach(request.sid)
    if conversation_id is not None:
        presence.visitor_present(conversation_id, False)


@socketio.on("message", namespace=NS)
@acked(VisitorMessageSchema())
def message(payload: dict) -> dict:
    if not connections.current().allow_message(
        request.sid, current_app.config["VISITOR_MESSAGES_PER_MINUTE"]
    ):
        raise RateLimited()
    if "token" in payload:
        posted = _post(payload)
        _attach(posted.conversation)
        # Only the opening message's ack carries the view: after it, the state, queue and read
        # events keep the page's view of the conversation current.
        return _message_ack(posted, payload["token"])
    place = abuse.place_of(request.remote_addr)
    posted = intake.open_chat(
        payload["service"],
        payload["visitor"],
        payload["client_msg_id"],
        payload["body"],
        admit=lambda chosen: abuse.admit_new_chat(chosen, payload["visitor"], place),
        language=payload["lang"],
    )
    if posted.created:
        abuse.remember_place(posted.conversation.id, place)
    _attach(posted.conversation)
    view = summaries.visitor_view(posted.conversation)
    return _message_ack(posted, posted.token) | {"conversation": view}


def _message_ack(posted: messages.Posted, token: str) -> dict:
    return {
        "seq": posted.message.seq,
        "token": token,
        "duplicate": not posted.created,
        "message": visitor_message_payload(posted.message),
    }


def _post(payload: dict) -> messages.Posted:
    try:
        return messages.post_visitor_message(
            payload["token"], payload["client_msg_id"], payload["body"], origin=request.sid
        )
    except ConversationEnded:
        # A block ends the conversation; only then is it worth asking whether one runs.
        abuse.refuse_if_blocked(payload["token"])
        raise


@socketio.on("resume", namespace=NS)
@acked(ResumeSchema())
def resume(payload: dict) -> dict:
    conversation = find.by_token(payload["token"])
    # Join before reading, so nothing committed in between is lost; the client drops
    # duplicates by seq.
    _attach(conversation)
    missed = summaries.messages_after(conversation, payload["last_seq"], include_notes=False)
    return {
        "conversation": summaries.visitor_view(conversation),
        "messages": [visitor_message_payload(m) for m in missed],
    }


@socketio.on("typing", namespace=NS)
@acked(TypingSchema())
def typing(payload: dict) -> dict:
    conversation_id = connections.current().conversation_of(request.sid)
    if conversation_id is None:
        raise NotFound()
    broadcast.to_viewers(
        conversation_id, "typing", {"conversation_id": conversation_id, "typing": payload["typing"]}
    )
    return {}


@socketio.on("read", namespace=NS)
@acked(ReadSchema())
def read(payload: dict) -> dict:
    conversation_id = connections.current().conversation_of(request.sid)
    if conversation_id is None:
        raise NotFound()
    receipts.visitor_read(conversation_id, payload["seq"])
    return {}


@socketio.on("leave", namespace=NS)
@acked(LeaveSchema())
def leave(payload: dict) -> dict:
    conversation = conversations.visitor_goes(find.by_token(payload["token"]), "visitor_ended")
    return {"conversation": summaries.visitor_view(conversation)}


def _attach(conversation) -> None:
    new, previous, orphaned = connections.current().attach(request.sid, conversation.id)
    if not new:
        return
    if previous is not None:
        leave_room(broadcast.conversation_room(previous), namespace=NS)
        if orphaned:
            presence.visitor_present(previous, False)
    join_room(broadcast.conversation_room(conversation.id), namespace=NS)
    presence.visitor_present(conversation.id, True)


def _start_sweeper() -> None:
    """Once per process: move chats on whose visitor has gone for longer than the grace period."""
    global _sweeper_started
    interval = current_app.config["VISITOR_SWEEP_SECONDS"]
    if not interval or _sweeper_started:
        return
    with _sweeper:
        if _sweeper_started:
            return
        _sweeper_started = True
    app = current_app._get_current_object()

    def sweep() -> None:
        while True:
            socketio.sleep(interval)
            with app.app_context():
                try:
                    presence.visitors_seen(connections.current().live_conversations())
                    presence.expire_departed_visitors()
                except Exception:
                    db.session.rollback()
                    log_unexpected(app.logger, "visitor sweep failed")
                finally:
                    db.session.remove()

    socketio.start_background_task(sweep)
