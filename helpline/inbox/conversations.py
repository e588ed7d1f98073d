"""State changes of a conversation: claim, transfer, end, close, and back to the queue.

Each persists, audits, commits, then announces (helpline/inbox/announce.py).
"""

from datetime import datetime

from sqlalchemy import delete, func, select, update

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import announce, audit, broadcast, categories, find, signals, staff_status
from helpline.inbox.errors import (
    AlreadyAssigned,
    ChatLimitReached,
    ConversationEnded,
    InvalidInput,
    InvalidState,
    NotFound,
)
from helpline.inbox.messages import append, append_event
from helpline.inbox.models import OPEN_STATES, Conversation, ConversationCategory
from helpline.inbox.permissions import can, require
from helpline.timeutil import utcnow


def claim(conversation_id: int, user: StaffUser, now: datetime | None = None) -> Conversation:
    """Take a waiting conversation. Of two counsellors claiming at once, exactly one gets it."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    require(user, "claim", conversation)
    if conversation.assignee_id == user.id and conversation.state == "active":
        return conversation
    if conversation.state != "queued":
        raise AlreadyAssigned() if conversation.state == "active" else ConversationEnded()
    _check_capacity(user)
    signals.claiming.send(conversation, user=user)
    moved = _move(
        conversation,
        {"assignee_id": None, "state": "queued"},
        {"assignee_id": user.id, "state": "active", "assigned_at": now},
    )
    if not moved:
        db.session.rollback()
        raise AlreadyAssigned()
    event = append_event(conversation, "joined", user, now)
    audit.record(user, "conversation.claim", conversation)
    announce.commit_change(conversation, event)
    signals.claimed.send(conversation, user=user)
    return conversation


def transfer(
    conversation_id: int,
    user: StaffUser,
    to_user_id: int | None,
    now: datetime | None = None,
    note: str | None = None,
) -> Conversation:
    """Hand an active conversation to a colleague, or back to the queue (to_user_id None),
    with an optional hand-over note (a private note the receiver is shown first)."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    require(user, "transfer", conversation)
    if conversation.state != "active":
        raise InvalidState("Only an active conversation can be transferred.")
    current = conversation.assignee_id
    target = _receiver(conversation, to_user_id)
    if target is not None:
        _check_capacity(target, "{name} has reached the limit of concurrent chats.")
        values = {"assignee_id": target.id, "assigned_at": now}
    else:
        values = {"assignee_id": None, "state": "queued"}
    if not _move(conversation, {"assignee_id": current, "state": "active"}, values):
        db.session.rollback()
        raise AlreadyAssigned("The conversation changed hands in the meantime.")
    handover = None
    if note:
        handover = append(
            conversation, "counsellor", note, author=user, kind="note", event="handover", now=now
        )
    event = append_event(conversation, "transferred" if target else "requeued", target, now)
    detail = {"from": current, "to": to_user_id, "note": bool(note)}
    audit.record(user, "conversation.transfer", conversation, detail)
    publish = announce.prepare_change(conversation, event)
    db.session.commit()
    if handover is not None:
        announce.message(conversation, handover)
    publish()
    if target is not None:
        broadcast.to_staff(
            "assigned", {"conversation_id": conversation.id, "by": user.display_name}, target.id
        )
    return conversation


def _receiver(conversation: Conversation, to_user_id: int | None) -> StaffUser | None:
    """The colleague a conversation is transferred to, if they may take it now."""
    if to_user_id is None:
        return None
    target = db.session.get(StaffUser, to_user_id)
    if target is None or not target.is_active:
        raise NotFound("That colleague does not exist.")
    if target.id == conversation.assignee_id:
        raise InvalidState("The conversation is already with that colleague.")
    if not can(target, "receive_transfer", conversation):
        raise staff_status.Unavailable(f"{target.display_name} does not take chats.")
    staff_status.refuse_if_away(target)
    return target


def requeue(
    conversation_id: int, event: str, text: str, now: datetime | None = None
) -> Conversation | None:
    """Put an active conversation back in the queue without a colleague's say (e.g. the
    counsellor's phone did not answer), with the event that tells why. None if not active."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    if conversation.state != "active":
        return None
    assignee = conversation.assignee
    values = {"state": "queued", "assignee_id": None, "assigned_at": None}
    if not _move(conversation, {"state": "active"}, values):
        db.session.rollback()
        return None
    message = append_event(conversation, event, assignee, now, text)
    announce.commit_change(conversation, message)
    return conversation


def end(conversation_id: int, user: StaffUser, now: datetime | None = None) -> Conversation:
    """The counsellor ends the chat; it goes to wrap-up for categorising."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    require(user, "end", conversation)
    if conversation.state not in OPEN_STATES:
        raise InvalidState("The conversation has already ended.")
    conversation.state = "wrap_up"
    conversation.ended_at = now
    if conversation.assignee_id is None:
        conversation.assignee_id = user.id
    event = append_event(conversation, "ended", user, now)
    audit.record(user, "conversation.end", conversation)
    announce.commit_change(conversation, event)
    return conversation


def close(
    conversation_id: int,
    user: StaffUser,
    summary_text: str,
    category_ids: list[int],
    now: datetime | None = None,
) -> Conversation:
    """Finish wrap-up with categories and a summary; the conversation leaves the working list."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    require(user, "close", conversation)
    if conversation.state in OPEN_STATES:
        raise InvalidState("End the conversation before closing it.")
    if conversation.state == "closed":
        raise InvalidState("The conversation is already closed.")
    chosen = categories.checked_choice(conversation.service_id, category_ids)
    conversation.state = "closed"
    conversation.closed_at = now
    conversation.summary = _summary_text(summary_text)
    _set_categories(conversation, chosen)
    event = append_event(conversation, "closed", user, now)
    audit.record(user, "conversation.close", conversation, {"categories": chosen})
    signals.closing.send(conversation)
    announce.commit_change(conversation, event)
    return conversation


def recategorise(
    conversation_id: int,
    user: StaffUser,
    summary_text: str,
    category_ids: list[int],
) -> Conversation:
    """Correct the categories and summary of a closed conversation (audited, before and after)."""
    conversation = find.by_id(conversation_id)
    require(user, "recategorise", conversation)
    if conversation.state != "closed":
        raise InvalidState("Categories are corrected after closing; before that, close it.")
    before = sorted(
        db.session.scalars(
            select(ConversationCategory.category_id).where(
                ConversationCategory.conversation_id == conversation.id
            )
        )
    )
    # Categories retired since closing may stay; new ones must be current.
    chosen = categories.checked_choice(conversation.service_id, category_ids, keep=set(before))
    text = _summary_text(summary_text)
    detail = {
        "categories": {"from": before, "to": sorted(chosen)},
        "summary_changed": text != (conversation.summary or ""),
    }
    conversation.summary = text
    _set_categories(conversation, chosen)
    audit.record(user, "conversation.recategorise", conversation, detail)
    db.session.commit()
    announce.row(conversation, everyone=True)
    return conversation


def categories_offered(user: StaffUser, service_slug: str | None) -> list[dict]:
    """The categories a counsellor can choose from at wrap-up (all services without a slug)."""
    require(user, "list_conversations")
    service_id = find.get_service(service_slug).id if service_slug else None
    return categories.tree(service_id=service_id)


def leave(
    conversation: Conversation,
    state: str,
    event: str,
    now: datetime,
    text: str | None = None,
    **params: str,
) -> Conversation | None:
    """Move an open conversation to wrap-up or (abandoned) closed without staff, with its
    event; only from the state it was read in, so two reports of the same hang-up move it
    once. None when it had moved on meanwhile (nothing is written then)."""
    values: dict = {"state": state, "ended_at": now}
    if state == "closed":
        values.update(abandoned=True, closed_at=now)
    if not _move(conversation, {"state": conversation.state}, values):
        return None  # the caller's other changes in this transaction are its own
    message = append_event(conversation, event, None, now, text, **params)
    if state == "closed":
        signals.closing.send(conversation)
    announce.commit_change(conversation, message)
    return conversation


def visitor_goes(
    conversation: Conversation, event: str, now: datetime | None = None
) -> Conversation:
    """The visitor ended the chat (`visitor_ended`) or has gone (`visitor_left`): a waiting
    chat is closed as abandoned, one in progress goes to wrap-up."""
    if conversation.state not in OPEN_STATES:
        raise ConversationEnded()
    state = "closed" if conversation.state == "queued" else "wrap_up"
    moved = leave(conversation, state, event, now or utcnow())
    if moved is None:
        db.session.rollback()
        raise InvalidState()
    return moved


def _move(conversation: Conversation, expected: dict, values: dict) -> bool:
    """UPDATE the conversation to `values` only while its columns still hold `expected`; the
    object is then reloaded in this transaction. False when it had changed."""
    db.session.flush()
    result = db.session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation.id,
            *(getattr(Conversation, name) == value for name, value in expected.items()),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    db.session.refresh(conversation)
    return True


def _check_capacity(user: StaffUser, message: str | None = None) -> None:
    # Lock the counsellor's row so their own simultaneous claims are counted one after another.
    db.session.execute(select(StaffUser.id).where(StaffUser.id == user.id).with_for_update())
    active = db.session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.assignee_id == user.id, Conversation.state == "active")
    )
    if active >= user.max_chats:
        db.session.rollback()
        raise ChatLimitReached(message.format(name=user.display_name) if message else None)


def _summary_text(text: str) -> str:
    if not text or not text.strip():
        raise InvalidInput("Write a short summary.")
    return text.strip()


def _set_categories(conversation: Conversation, chosen: list[int]) -> None:
    db.session.execute(
        delete(ConversationCategory).where(ConversationCategory.conversation_id == conversation.id)
    )
    db.session.add_all(
        ConversationCategory(conversation_id=conversation.id, category_id=category_id)
        for category_id in chosen
    )
