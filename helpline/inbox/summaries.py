"""What staff and visitors see of conversations: inbox rows, the queue, a conversation opened."""

import statistics
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, func, or_, select

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import audit, categories, find, rows, signals, staff_status
from helpline.inbox.models import Conversation, Message, Referral, Service
from helpline.inbox.payloads import message_payload, referral_payload, summary_payload
from helpline.inbox.permissions import can, require
from helpline.timeutil import iso, utcnow


def unread_counts(conversation_ids: list[int]) -> dict[int, int]:
    """Visitor messages and transfers to the assignee above the staff's read watermark, per
    conversation (absent: none)."""
    if not conversation_ids:
        return {}
    return dict(db.session.connection().execute(_unread, {"ids": conversation_ids}).all())


# Built once: every visitor message counts its conversation's unread messages with it.
_unread = (
    select(Message.conversation_id, func.count())
    .join(Conversation, Conversation.id == Message.conversation_id)
    .where(
        Message.conversation_id.in_(bindparam("ids", expanding=True)),
        or_(Message.sender == "visitor", Message.event == "transferred"),
        Message.seq > Conversation.staff_read_seq,
    )
    .group_by(Message.conversation_id)
)


def summary(
    conversation: Conversation, *, first_contact: bool = False, viewer: StaffUser | None = None
) -> dict:
    """The inbox-list row of one conversation."""
    return summaries([conversation], first_contact=first_contact, viewer=viewer)[0]


def summaries(
    conversations: list[Conversation],
    *,
    first_contact: bool = False,
    viewer: StaffUser | None = None,
) -> list[dict]:
    """Inbox-list rows, with unread counts, earlier contacts and waiting times fetched in a
    query each.

    `first_contact`: every one of these is its client's first conversation (nothing to count).
    `viewer`: who the rows are for; the rows they may preview carry a `preview` (see `rows`).
    A channel may give a row an `age_band` (through `signals.summarising`): it goes into the
    row's `visitor` label.
    """
    if not conversations:
        return []
    # A call has no written messages from the caller: nothing to count unread.
    unread = unread_counts([c.id for c in conversations if c.channel != "phone"])
    # Categories are chosen at closing: only closed conversations can have them.
    tagged = categories.names_of([c.id for c in conversations if c.state == "closed"])
    extras: dict[int, dict] = {c.id: {"categories": tagged.get(c.id, [])} for c in conversations}
    for _receiver, fields in signals.summarising.send(conversations):
        for conversation_id, extra in (fields or {}).items():
            extras.setdefault(conversation_id, {}).update(extra)
    client_ids = {c.client_id for c in conversations if c.client_id is not None}
    per_client: dict[int, int] = {}
    if client_ids and not first_contact:
        counted = db.session.execute(
            select(Conversation.client_id, func.count())
            .where(Conversation.client_id.in_(client_ids))
            .group_by(Conversation.client_id)
        )
        per_client = dict(counted.all())
    waiting = rows.waiting_since(conversations)
    shown = []
    for c in conversations:
        row = summary_payload(
            c,
            unread=unread.get(c.id, 0),
            earlier=per_client.get(c.client_id, 1) - 1 if c.client_id else 0,
        ) | extras.get(c.id, {})
        row["visitor"] = rows.visitor_label(c.id, row.pop("age_band", None))
        row["visitor_waiting_since"] = iso(waiting[c.id])
        shown.append(row)
    return rows.with_previews(shown, conversations, viewer)


def list_conversations(
    user: StaffUser,
    *,
    service: str | None = None,
    channel: str | None = None,
    states: list[str] | None = None,
    mine: bool = False,
    limit: int = 200,
) -> list[dict]:
    """The inbox list: waiting first (oldest first), then the rest by latest activity."""
    require(user, "list_conversations")
    mine = mine or not can(user, "watch_queue")
    query = select(Conversation).where(
        Conversation.state.in_(states or ["queued", "active", "wrap_up"])
    )
    if service:
        query = query.join(Service).where(Service.slug == service)
    if channel:
        query = query.where(Conversation.channel == channel)
    if mine:
        query = query.where(Conversation.assignee_id == user.id)
    waiting = Conversation.state == "queued"
    query = query.order_by(
        case((waiting, 0), else_=1),
        case((waiting, Conversation.waiting_since), else_=None).asc(),
        func.coalesce(Conversation.last_message_at, Conversation.created_at).desc(),
        Conversation.id.desc(),
    ).limit(limit)
    return summaries(list(db.session.scalars(query)), viewer=user)


def earlier_conversations(conversation_id: int, user: StaffUser) -> list[dict]:
    """Other conversations of the same anonymous person, newest first (audited)."""
    conversation = find.by_id(conversation_id)
    require(user, "view_history", conversation)
    if conversation.client_id is None:
        return []
    others = list(
        db.session.scalars(
            select(Conversation)
            .where(
                Conversation.client_id == conversation.client_id,
                Conversation.id != conversation.id,
            )
            .order_by(Conversation.created_at.desc())
        )
    )
    audit.record(user, "conversation.history", conversation, {"shown": [c.id for c in others]})
    db.session.commit()
    return [{**row, "summary": c.summary} for row, c in zip(summaries(others), others, strict=True)]


def messages_after(conversation: Conversation, seq: int, *, include_notes: bool) -> list[Message]:
    """Messages with a sequence number above `seq`, in order."""
    query = select(Message).where(Message.conversation_id == conversation.id, Message.seq > seq)
    if not include_notes:
        query = query.where(Message.kind != "note")
    return list(db.session.scalars(query.order_by(Message.seq)))


def open_for_staff(conversation_id: int, user: StaffUser, since_seq: int = 0) -> dict:
    """A conversation with its messages after `since_seq`, for a staff member (audited)."""
    conversation = find.by_id(conversation_id)
    require(user, "view_conversation", conversation)
    messages = messages_after(conversation, since_seq, include_notes=True)
    audit.record(user, "conversation.view", conversation, {"since_seq": since_seq})
    db.session.commit()
    return {
        "conversation": summary(conversation, viewer=user),
        "messages": [message_payload(m, conversation) for m in messages],
        "visitor_read_seq": conversation.visitor_read_seq,
        "referrals": referrals_of(conversation.id),
        "summary": conversation.summary,
    }


def referrals_of(conversation_id: int) -> list[dict]:
    """The referrals of a conversation, oldest first."""
    return [
        referral_payload(r)
        for r in db.session.scalars(
            select(Referral)
            .where(Referral.conversation_id == conversation_id)
            .order_by(Referral.referred_on, Referral.id)
        )
    ]


def colleagues(user: StaffUser, conversation_id: int | None = None) -> list[dict]:
    """Active staff who take chats (of that conversation's service, when given), with their
    status and how many chats each has: available, busy (at their limit), away, on break or
    offline."""
    require(user, "list_conversations")
    target = find.by_id(conversation_id) if conversation_id is not None else None
    load = chats_per_counsellor()
    staff = db.session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.display_name)
    )
    takers = [s for s in staff if can(s, "receive_transfer", target)]
    status = staff_status.statuses([s.id for s in takers])
    return [
        {
            "id": s.id,
            "name": s.display_name,
            "role": s.role,
            "active_chats": load.get(s.id, 0),
            "max_chats": s.max_chats,
            "status": _colleague_status(status.get(s.id), load.get(s.id, 0) >= s.max_chats),
        }
        for s in takers
    ]


def _colleague_status(chosen: str | None, full: bool) -> str:
    """What the transfer list says of a colleague: their own status, or busy, or offline."""
    if chosen is None:
        return "offline"
    if chosen == "available" and full:
        return "busy"
    return chosen


# --- the visitor's view ---------------------------------------------------------------------


def visitor_view(conversation: Conversation) -> dict:
    """What the visitor's page needs to show the state of their conversation."""
    position = queue_position(conversation)
    typical = typical_wait_seconds(conversation.service_id) if position else None
    view = {
        "state": conversation.state,
        "service": conversation.service.slug,
        "queue_position": position,
        "estimated_wait_minutes": estimate_minutes(typical, position),
        "counsellor": conversation.assignee.display_name
        if conversation.assignee and conversation.state == "active"
        else None,
        "staff_read_seq": conversation.staff_read_seq,
        "survey_url": None,
    }
    return view | offers(conversation)


def offers(conversation: Conversation) -> dict:
    """What features offer the visitor or sender of this conversation now (e.g. the survey's
    `survey_url`), asked through `signals.visitor_viewing`."""
    offered: dict = {}
    for _receiver, extra in signals.visitor_viewing.send(conversation):
        offered.update(extra or {})
    return offered


def queue_position(conversation: Conversation) -> int | None:
    """1 for the next chat to be picked up in this service; None when not waiting."""
    if conversation.state != "queued" or conversation.waiting_since is None:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.service_id == conversation.service_id,
            Conversation.state == "queued",
            Conversation.channel == conversation.channel,
            (Conversation.waiting_since < conversation.waiting_since)
            | (
                (Conversation.waiting_since == conversation.waiting_since)
                & (Conversation.id < conversation.id)
            ),
        )
    )
    return ahead + 1


def queue_positions(service_id: int) -> list[tuple[int, dict]]:
    """(conversation id, its `queue` payload) of every chat waiting at this service."""
    waiting = list(
        db.session.scalars(
            select(Conversation.id)
            .where(
                Conversation.service_id == service_id,
                Conversation.state == "queued",
                Conversation.channel == "chat",
            )
            .order_by(Conversation.waiting_since, Conversation.id)
        )
    )
    if not waiting:
        return []
    typical = typical_wait_seconds(service_id)
    return [
        (
            conversation_id,
            {
                "queue_position": position,
                "estimated_wait_minutes": estimate_minutes(typical, position),
            },
        )
        for position, conversation_id in enumerate(waiting, start=1)
    ]


def typical_wait_seconds(service_id: int, now: datetime | None = None) -> float | None:
    """Median wait of the last 20 chats picked up in this service in the past 30 days."""
    since = (now or utcnow()) - timedelta(days=30)
    rows = db.session.execute(
        select(Conversation.waiting_since, Conversation.assigned_at)
        .where(
            Conversation.service_id == service_id,
            Conversation.channel == "chat",
            Conversation.assigned_at.is_not(None),
            Conversation.waiting_since.is_not(None),
            Conversation.assigned_at > since,
        )
        .order_by(Conversation.assigned_at.desc())
        .limit(20)
    ).all()
    waits = [(assigned - waiting).total_seconds() for waiting, assigned in rows]
    return statistics.median(waits) if waits else None


def estimate_minutes(typical_seconds: float | None, position: int | None) -> int | None:
    """The wait to show a visitor at this place in the queue, in whole minutes (at least 1)."""
    if typical_seconds is None or position is None:
        return None
    return max(1, round(typical_seconds * position / 60))


def chats_per_counsellor() -> dict[int, int]:
    """How many active chats each member of staff has, by their id."""
    return dict(
        db.session.execute(
            select(Conversation.assignee_id, func.count())
            .where(Conversation.state == "active")
            .group_by(Conversation.assignee_id)
        ).all()
    )
