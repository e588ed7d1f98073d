"""Keeping abuse out without knowing who anyone is: limits on new chats, a cap on each queue,
and blocks by browser (its keyed hash) and by address (a keyed hash kept only in Redis)."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, func, select

from helpline.abuse import store
from helpline.abuse.errors import Blocked, QueueFull, TooManyChats
from helpline.abuse.models import VisitorBlock
from helpline.auth.models import StaffUser
from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.inbox import conversations, find
from helpline.inbox.errors import InboxError, InvalidState, NotFound
from helpline.inbox.models import OPEN_STATES, AuditEntry, Client, Conversation, Service
from helpline.inbox.permissions import require
from helpline.timeutil import utcnow


def place_of(address: str | None) -> str | None:
    """The keyed hash that stands for a visitor's address; the address itself is never kept."""
    return keyed_hash("address", address) if address else None


def admit_new_chat(service: Service, browser_token: str, place: str | None) -> None:
    """Refuse a new chat from a blocked visitor, into a full queue, or past the limits on new
    chats per browser and per address; otherwise count it."""
    browser = keyed_hash("browser", browser_token)
    marks = store.current()
    if _browser_blocked(browser) or (place is not None and marks.get(f"blocked:{place}")):
        raise Blocked()
    if _waiting_chats(service.id) >= service.chat_queue_limit:
        raise QueueFull()
    config = current_app.config
    window = config["CHAT_NEW_WINDOW_SECONDS"]
    if marks.count(f"new:browser:{browser}", window) > config["CHAT_NEW_PER_BROWSER"]:
        raise TooManyChats()
    if (
        place is not None
        and marks.count(f"new:place:{place}", window) > config["CHAT_NEW_PER_ADDRESS"]
    ):
        raise TooManyChats()


def remember_place(conversation_id: int, place: str | None) -> None:
    """Keep a new chat's address hash for a while, so that a block can include the address."""
    if place is not None:
        seconds = current_app.config["CHAT_ADDRESS_SECONDS"]
        store.current().put(f"place:conversation:{conversation_id}", place, seconds)


def refuse_if_blocked(token: str) -> None:
    """Raise Blocked when the visitor of this conversation is blocked now."""
    try:
        conversation = find.by_token(token)
    except NotFound:
        return
    if conversation.client_id is not None and client_blocked(conversation.client_id):
        raise Blocked()


def client_blocked(client_id: int) -> bool:
    """True while a block of this client runs."""
    found = db.session.scalar(_running(utcnow()).where(VisitorBlock.client_id == client_id))
    return found is not None


def block(
    conversation_id: int, user: StaffUser, hours: int, reason: str, now: datetime | None = None
) -> VisitorBlock:
    """Block the visitor of a conversation for `hours`; an open conversation ends with it."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    require(user, "block_visitor", conversation)
    client = conversation.client
    if client is None or not (client.browser_hash or client.phone_hash):
        # A form's sender, a withheld number: nothing would know them again.
        raise InvalidState("This visitor cannot be recognised again, so cannot be blocked.")
    blocked = VisitorBlock(
        client_id=conversation.client_id,
        conversation_id=conversation.id,
        blocked_by_id=user.id,
        created_at=now,
        until=now + timedelta(hours=hours),
        reason=reason,
    )
    db.session.add(blocked)
    db.session.flush()
    _audit(user, "visitor.block", conversation.id, {"block_id": blocked.id, "hours": hours})
    db.session.commit()
    _block_place(blocked, conversation.id, hours * 3600)
    if conversation.state in OPEN_STATES:
        try:
            conversations.end(conversation.id, user, now)
        except InboxError:
            db.session.rollback()  # ended meanwhile: the block holds all the same
    _close_waiting_chats(blocked.client_id)
    return blocked


def lift(block_id: int, user: StaffUser, now: datetime | None = None) -> VisitorBlock:
    """End a block before its time."""
    require(user, "lift_block")
    blocked = db.session.get(VisitorBlock, block_id)
    if blocked is None:
        raise NotFound("Block not found.")
    now = now or utcnow()
    if blocked.lifted_at is None and blocked.until > now:
        blocked.lifted_at, blocked.lifted_by_id = now, user.id
        _audit(user, "visitor.lift_block", blocked.conversation_id, {"block_id": blocked.id})
        db.session.commit()
        _unblock_place(blocked)
    return blocked


def active_blocks(user: StaffUser, now: datetime | None = None) -> list[VisitorBlock]:
    """The blocks running now, newest first."""
    require(user, "view_blocks")
    return list(
        db.session.scalars(
            select(VisitorBlock)
            .where(VisitorBlock.lifted_at.is_(None), VisitorBlock.until > (now or utcnow()))
            .order_by(VisitorBlock.created_at.desc())
        )
    )


def _close_waiting_chats(client_id: int) -> None:
    # Chats the visitor left waiting (a flood) would let them write on; nobody has them yet,
    # so they close as abandoned. One a colleague has taken stays theirs to end.
    waiting = db.session.scalars(
        select(Conversation).where(
            Conversation.client_id == client_id,
            Conversation.channel == "chat",
            Conversation.state == "queued",
        )
    ).all()
    db.session.rollback()
    for conversation in waiting:
        try:
            conversations.visitor_goes(conversation, "visitor_ended")
        except InboxError:
            db.session.rollback()  # taken or ended meanwhile


def _block_place(blocked: VisitorBlock, conversation_id: int, seconds: int) -> None:
    marks = store.current()
    place = marks.get(f"place:conversation:{conversation_id}")
    if place is not None:
        marks.put(f"blocked:{place}", str(blocked.id), seconds)
        marks.put(f"place:block:{blocked.id}", place, seconds)


def _unblock_place(blocked: VisitorBlock) -> None:
    marks = store.current()
    place = marks.get(f"place:block:{blocked.id}")
    if place is not None and marks.get(f"blocked:{place}") == str(blocked.id):
        marks.delete(f"blocked:{place}")
    marks.delete(f"place:block:{blocked.id}")


def _running(now: datetime) -> Select:
    return select(VisitorBlock.id).where(VisitorBlock.lifted_at.is_(None), VisitorBlock.until > now)


def _browser_blocked(browser: str) -> bool:
    found = db.session.scalar(
        _running(utcnow())
        .join(Client, Client.id == VisitorBlock.client_id)
        .where(Client.browser_hash == browser)
        .limit(1)
    )
    return found is not None


def _waiting_chats(service_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.service_id == service_id,
            Conversation.channel == "chat",
            Conversation.state == "queued",
        )
    )


def _audit(user: StaffUser, action: str, conversation_id: int, detail: dict) -> None:
    # The reason stays on the block, which supervisors see; the audit log names what was done.
    db.session.add(
        AuditEntry(actor_id=user.id, action=action, conversation_id=conversation_id, detail=detail)
    )
