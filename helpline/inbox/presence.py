"""Whether a chat's visitor is still there: their sockets come and go, a heartbeat renews them,
and a chat whose visitor stays away longer than the grace period moves on."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from helpline.extensions import db
from helpline.inbox import announce
from helpline.inbox.conversations import visitor_goes
from helpline.inbox.errors import ConversationEnded, InvalidState
from helpline.inbox.models import OPEN_STATES, Conversation
from helpline.timeutil import utcnow


def visitor_present(conversation_id: int, present: bool, now: datetime | None = None) -> None:
    """Record that the visitor's last connection here dropped, or that they are connected."""
    now = now or utcnow()
    if present:
        _mark_seen([conversation_id], now)
        return
    result = db.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.visitor_left_at.is_(None))
        .values(visitor_left_at=now)
        .execution_options(synchronize_session="fetch")
    )
    db.session.commit()
    if result.rowcount:
        announce.presence([conversation_id])


def visitors_seen(conversation_ids: list[int], now: datetime | None = None) -> None:
    """Heartbeat of one server process for the visitors connected to it.

    Only what the grace period needs is written: a chat's time seen (which every visitor
    message renews too) is renewed once it is half the grace period old, or the grace period
    less two heartbeats if that is sooner. Renewing every chat's row at every heartbeat held up
    the messages of all those chats while it was written.
    """
    if not conversation_ids:
        return
    now = now or utcnow()
    grace, sweep = (
        current_app.config[k] for k in ("VISITOR_GRACE_SECONDS", "VISITOR_SWEEP_SECONDS")
    )
    renew_after = max(0, min(grace / 2, grace - 2 * sweep))
    _mark_seen(conversation_ids, now, renew_before=now - timedelta(seconds=renew_after))


def expire_departed_visitors(now: datetime | None = None) -> int:
    """Move chats whose visitor has been gone longer than the grace period on. Returns the count."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=current_app.config["VISITOR_GRACE_SECONDS"])
    gone = list(
        db.session.scalars(
            select(Conversation.id).where(
                Conversation.channel == "chat",
                Conversation.state.in_(OPEN_STATES),
                (Conversation.visitor_left_at <= cutoff) | (Conversation.visitor_seen_at <= cutoff),
            )
        )
    )
    db.session.rollback()
    moved = 0
    for conversation_id in gone:
        conversation = db.session.get(Conversation, conversation_id)
        try:
            visitor_goes(conversation, "visitor_left", now)
            moved += 1
        except (InvalidState, ConversationEnded):
            db.session.rollback()
    return moved


def _mark_seen(
    conversation_ids: list[int], now: datetime, renew_before: datetime | None = None
) -> None:
    """The visitors of these conversations are connected: set their time seen to `now`
    (only where it is before `renew_before`, when given) and announce those who were gone."""
    returned = list(
        db.session.scalars(
            update(Conversation)
            .where(Conversation.id.in_(conversation_ids), Conversation.visitor_left_at.is_not(None))
            .values(visitor_left_at=None, visitor_seen_at=now)
            .returning(Conversation.id)
            .execution_options(synchronize_session=False)
        )
    )
    renewed = [Conversation.id.in_(conversation_ids)]
    if renew_before is not None:
        seen = Conversation.visitor_seen_at
        renewed.append(or_(seen.is_(None), seen < renew_before))
    db.session.execute(
        update(Conversation)
        .where(*renewed)
        .values(visitor_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    announce.presence(returned)
