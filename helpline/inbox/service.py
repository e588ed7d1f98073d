"""Every state change of a conversation. Each function persists, audits, commits, then emits.

Channels (chat, form, phone) and the staff surfaces call these functions; none of them writes a
Conversation or a Message itself.
"""

import functools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from helpline import loading
from helpline.auth.models import StaffUser
from helpline.codes import derived_token, keyed_hash
from helpline.extensions import db
from helpline.inbox import broadcast, categories, hours, signals
from helpline.inbox.errors import (
    AlreadyAssigned,
    ChatLimitReached,
    ConversationChanged,
    ConversationEnded,
    InvalidInput,
    InvalidState,
    NoPhone,
    NotFound,
    ServiceClosed,
)
from helpline.inbox.models import (
    OPEN_STATES,
    AuditEntry,
    Client,
    ContactMoment,
    Conversation,
    ConversationCategory,
    Message,
    Referral,
    Service,
    copied_to_moment,
)
from helpline.inbox.payloads import (
    message_payload,
    referral_payload,
    summary_payload,
    visitor_message_payload,
)
from helpline.inbox.permissions import can, require
from helpline.timeutil import iso, local_today, utcnow

EVENT_TEXT = {
    "joined": "{name} joined the conversation.",
    "transferred": "The conversation was transferred to {name}.",
    "requeued": "The conversation was put back in the queue.",
    "ended": "{name} ended the conversation.",
    "visitor_ended": "The visitor ended the conversation.",
    "visitor_left": "The visitor left.",
    "closed": "{name} closed the conversation.",
    "exported": "{name} exported an anonymised report.",
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
    "followup_booked": "{name} booked a follow-up session with {therapist} on {when}.",
    "followup_rescheduled": "{name} moved the follow-up session with {therapist} to {when}.",
    "followup_cancelled": "{name} cancelled the follow-up session of {when}.",
    "followup_outcome": "Follow-up session of {when}: {outcome}.",
    "followup_chat": "The client opened the booked chat session with {therapist}.",
}


@dataclass
class Posted:
    """The outcome of sending a message: the stored message, and whether this call stored it."""

    conversation: Conversation
    message: Message
    created: bool
    # The assignee's unread count after a visitor's message, counted before commit.
    unread: int | None = None
    # The token the visitor holds, when this call opened (or found again) their chat: the
    # database keeps only its keyed hash.
    token: str | None = None


# --- reading -------------------------------------------------------------------------------


def get_service(slug: str) -> Service:
    """The service with this slug, or NotFound."""
    service = db.session.scalar(select(Service).where(Service.slug == slug))
    if service is None:
        raise NotFound("Unknown service.")
    return service


def is_open(service: Service, now: datetime | None = None) -> bool:
    """True when the service's chat is open at `now`."""
    return service.chat_enabled and within_hours(service, now)


def within_hours(service: Service, now: datetime | None = None) -> bool:
    """True inside the service's opening hours (the phone line keeps them without a chat)."""
    moment = now or utcnow()
    return hours.is_open(service.opening_hours, moment, current_app.config["TIMEZONE"])


def by_token(token: str) -> Conversation:
    """The conversation a visitor holds the token of, or NotFound."""
    conversation = _conversation_where("token_hash", token_hash(token))
    if conversation is None:
        raise NotFound()
    return conversation


def token_hash(token: str) -> str:
    """What the database keeps of a conversation token: a dump of it opens no chat."""
    return keyed_hash("conversation", token)


def chat_token(secret: str) -> str:
    """A chat's token, made again from what the visitor (and only they) hold: a retried first
    message, or a booking code entered again, gets the same token back."""
    return derived_token("conversation", secret)


def by_id(conversation_id: int) -> Conversation:
    """The conversation with this id, or NotFound."""
    conversation = loading.in_session(Conversation, conversation_id) or _conversation_where(
        "id", conversation_id
    )
    if conversation is None:
        raise NotFound()
    return conversation


@functools.cache
def _conversation_statement(column: str) -> Select:
    """The conversation whose `column` is :value, with its service and assignee."""
    conversations, services, staff = (m.__table__ for m in (Conversation, Service, StaffUser))
    return (
        select(
            *loading.columns(Conversation), *loading.columns(Service), *loading.columns(StaffUser)
        )
        .select_from(
            conversations.join(services, services.c.id == conversations.c.service_id).outerjoin(
                staff, staff.c.id == conversations.c.assignee_id
            )
        )
        .where(conversations.c[column] == bindparam("value"))
    )


def _conversation_where(column: str, value: object) -> Conversation | None:
    """A conversation, its service and assignee, read by one Core statement: every message
    reads its conversation here, and the ORM's joined loading costs more than the query."""
    row = loading.first(_conversation_statement(column), {"value": value})
    return None if row is None else _loaded_conversation(row)


def _loaded_conversation(row: Sequence) -> Conversation:
    """The conversation with its service and assignee, from a row that starts with their
    columns (`_conversation_statement`'s order)."""
    service_at = len(loading.columns(Conversation))
    conversation = loading.from_row(Conversation, row)
    service = loading.from_row(Service, row, service_at)
    assignee = loading.from_row(StaffUser, row, service_at + len(loading.columns(Service)))
    unloaded = inspect(conversation).unloaded
    if "service" in unloaded:
        set_committed_value(conversation, "service", service)
    if "assignee" in unloaded:
        set_committed_value(conversation, "assignee", assignee)
    return conversation


def messages_after(conversation: Conversation, seq: int, *, include_notes: bool) -> list[Message]:
    """Messages with a sequence number above `seq`, in order."""
    query = select(Message).where(Message.conversation_id == conversation.id, Message.seq > seq)
    if not include_notes:
        query = query.where(Message.kind != "note")
    return list(db.session.scalars(query.order_by(Message.seq)))


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


def visitor_view(conversation: Conversation) -> dict:
    """What the visitor's page needs to show the state of their conversation."""
    position = queue_position(conversation)
    typical = typical_wait_seconds(conversation.service_id) if position else None
    return {
        "state": conversation.state,
        "service": conversation.service.slug,
        "queue_position": position,
        "estimated_wait_minutes": _estimate_minutes(typical, position),
        "counsellor": conversation.assignee.display_name
        if conversation.assignee and conversation.state == "active"
        else None,
        "staff_read_seq": conversation.staff_read_seq,
        "survey_url": _survey_url(conversation),
    }


def _survey_url(conversation: Conversation) -> str | None:
    """The link to the survey once a chat has ended, until it is answered."""
    if conversation.channel != "chat" or conversation.state not in ("wrap_up", "closed"):
        return None
    from helpline.survey import service as survey

    return None if survey.is_answered(conversation.id) else survey.link_for(conversation)


# Built once: every inbox-row update runs them.
_messages = Message.__table__
_conversations = Conversation.__table__
_unread_of = (
    select(_messages.c.conversation_id, func.count())
    .join(_conversations, _conversations.c.id == _messages.c.conversation_id)
    .where(
        _messages.c.conversation_id.in_(bindparam("ids", expanding=True)),
        _messages.c.sender == "visitor",
        _messages.c.seq > _conversations.c.staff_read_seq,
    )
    .group_by(_messages.c.conversation_id)
)
_per_client = (
    select(_conversations.c.client_id, func.count())
    .where(_conversations.c.client_id.in_(bindparam("ids", expanding=True)))
    .group_by(_conversations.c.client_id)
)


def summary(conversation: Conversation, *, first_contact: bool = False) -> dict:
    """The inbox-list row of one conversation."""
    return summaries([conversation], first_contact=first_contact)[0]


def summaries(conversations: list[Conversation], *, first_contact: bool = False) -> list[dict]:
    """Inbox-list rows, with unread counts and earlier contacts fetched in two queries.

    `first_contact`: every one of these is its client's first conversation (nothing to count).
    """
    if not conversations:
        return []
    db.session.flush()  # the Core reads below see this transaction's changes
    # A call has no written messages from the caller: nothing to count unread.
    written = [c.id for c in conversations if c.channel != "phone"]
    connection = db.session.connection()
    unread_rows = connection.execute(_unread_of, {"ids": written}).all() if written else []
    unread = dict(unread_rows)
    # Categories are chosen at closing: only closed conversations can have them.
    tagged = categories.names_of([c.id for c in conversations if c.state == "closed"])
    extras: dict[int, dict] = {c.id: {"categories": tagged.get(c.id, [])} for c in conversations}
    for _receiver, fields in signals.summarising.send(conversations):
        for conversation_id, extra in (fields or {}).items():
            extras.setdefault(conversation_id, {}).update(extra)
    client_ids = {c.client_id for c in conversations if c.client_id is not None}
    per_client: dict[int, int] = {}
    if client_ids and not first_contact:
        per_client = dict(connection.execute(_per_client, {"ids": list(client_ids)}).all())
    return [
        summary_payload(
            c,
            unread=unread.get(c.id, 0),
            earlier=per_client.get(c.client_id, 1) - 1 if c.client_id else 0,
        )
        | extras.get(c.id, {})
        for c in conversations
    ]


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
    return summaries(list(db.session.scalars(query)))


def earlier_conversations(conversation_id: int, user: StaffUser) -> list[dict]:
    """Other conversations of the same anonymous person, newest first (audited)."""
    conversation = by_id(conversation_id)
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
    _audit(user, "conversation.history", conversation, {"shown": [c.id for c in others]})
    db.session.commit()
    return [{**row, "summary": c.summary} for row, c in zip(summaries(others), others, strict=True)]


def open_for_staff(conversation_id: int, user: StaffUser, since_seq: int = 0) -> dict:
    """A conversation with its messages after `since_seq`, for a staff member (audited)."""
    conversation = by_id(conversation_id)
    require(user, "view_conversation", conversation)
    messages = messages_after(conversation, since_seq, include_notes=True)
    _audit(user, "conversation.view", conversation, {"since_seq": since_seq})
    db.session.commit()
    return {
        "conversation": summary(conversation),
        "messages": [message_payload(m, conversation) for m in messages],
        "visitor_read_seq": conversation.visitor_read_seq,
        "referrals": referrals_of(conversation.id),
        "summary": conversation.summary,
    }


# --- visitor side ------------------------------------------------------------------------


def client_for_browser(browser_token: str) -> Client:
    """The anonymous client behind a browser token, created on first use."""
    return _client_known_by("browser_hash", keyed_hash("browser", browser_token))


def client_for_phone(number: str) -> Client:
    """The anonymous client behind a caller's number, known only by its keyed hash."""
    return _client_known_by("phone_hash", keyed_hash("phone", number))


def _client_known_by(column: str, digest: str) -> Client:
    """The client known by this hash, created if new.

    One INSERT ... ON CONFLICT DO NOTHING: the same person arriving twice at once cannot make
    two clients, and a new person costs no look-up first.
    """
    connection = db.session.connection()
    now = utcnow()
    created = connection.execute(
        _insert_client(connection.dialect.name, column), {column: digest, "created_at": now}
    ).scalar()
    if created is None:
        return db.session.scalar(select(Client).where(getattr(Client, column) == digest))
    values = {"browser_hash": None, "phone_hash": None, column: digest}
    client = Client(id=created, created_at=now, **values)
    make_transient_to_detached(client)
    db.session.add(client)
    client.first_contact = True
    return client


@functools.cache
def _insert_client(dialect: str, column: str) -> Insert:
    table = Client.__table__
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        dialect_insert(table)
        .values({column: bindparam(column), "created_at": bindparam("created_at")})
        .on_conflict_do_nothing(index_elements=[table.c[column]])
        .returning(table.c.id)
    )


def new_client() -> Client:
    """A new anonymous client known by nothing but its conversations (e.g. a form's sender)."""
    client = Client()
    db.session.add(client)
    db.session.flush()
    client.first_contact = True
    return client


def open_chat(
    service_slug: str,
    browser_token: str,
    client_msg_id: str,
    body: str,
    now: datetime | None = None,
    admit: Callable[[Service], None] | None = None,
) -> Posted:
    """Start a chat with the visitor's first message; a retried first message opens nothing new.

    `admit` may refuse a new chat (by raising); a retried first message is not asked again."""
    service = get_service(service_slug)
    client = client_for_browser(browser_token)
    return open_conversation(
        service,
        "chat",
        client,
        client_msg_id,
        body,
        now,
        during_opening_hours=True,
        token=chat_token(f"{browser_token}:{client_msg_id}"),
        admit=admit,
    )


def open_conversation(
    service: Service,
    channel: str,
    client: Client,
    client_msg_id: str,
    body: str,
    now: datetime | None = None,
    *,
    during_opening_hours: bool = False,
    event: str | None = None,
    attach: Callable[[Conversation], None] | None = None,
    assign_to: StaffUser | None = None,
    event_params: dict | None = None,
    token: str | None = None,
    admit: Callable[[Service], None] | None = None,
) -> Posted:
    """Open a waiting conversation with its first message, once per (client, client_msg_id).

    With `during_opening_hours`, only while the service is open; a retry of a first message
    sent in time still gets its conversation after closing time. With `event`, the first
    message is that system event instead of the visitor's words (a call has no words yet).
    `attach` adds a channel's own rows to the new conversation in the same transaction.
    With `assign_to`, the conversation starts active with that staff member (a booked session).
    `token`: what the visitor will hold to write in it (a chat's), kept only as a keyed hash.
    """
    now = now or utcnow()
    client_id = client.id
    if during_opening_hours:
        # A retry sent in time gets its conversation even after closing time; without an hours
        # check, the unique (client, opening message) constraint below finds retries instead.
        retried = _opened_by(client, client_msg_id)
        if retried is not None:
            retried.token = token
            return retried
        if not is_open(service, now):
            db.session.rollback()
            raise ServiceClosed()
        if admit is not None:
            admit(service)
    if event is None:
        sender, kind, text = "visitor", "text", body
    else:
        sender, kind, text = (
            "system",
            "event",
            EVENT_TEXT[event].format(name="", **(event_params or {})),
        )
    row, also = _message_row(sender, text, client_msg_id, None, kind, event, now)
    given = {
        "token_hash": token_hash(token) if token else None,
        "service_id": service.id,
        "channel": channel,
        "state": "active" if assign_to else "queued",
        "client_id": client_id,
        "assignee_id": assign_to.id if assign_to else None,
        "assigned_at": now if assign_to else None,
        "opening_msg_id": client_msg_id,
        "created_at": now,
        "waiting_since": now,
        "visitor_seen_at": now if channel == "chat" else None,
        "last_seq": 1,
        **also,
    }
    try:
        conversation = _insert_conversation(given, service, client, assign_to)
        row.update(conversation_id=conversation.id, seq=1)
        message = _loaded_message(row, author=None)
        if attach is not None:
            attach(conversation)
        first_contact, client.first_contact = client.first_contact, False
        publish = _prepare_new_conversation(conversation, first_contact=first_contact)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        retried = _opened_by(db.session.get(Client, client_id), client_msg_id)
        if retried is None:
            raise
        retried.token = token
        return retried
    publish()
    return Posted(conversation, message, True, token=token)


def post_visitor_message(
    token: str, client_msg_id: str, body: str, origin: str | None = None
) -> Posted:
    """Store a visitor's message once, however often it is sent.

    `origin`: the socket it came from, which has it in its ack; the visitor's other
    connections (tabs) receive it live."""
    posted = _post_by_token(token, client_msg_id, body)
    if posted is None:
        posted = _post_as_visitor(lambda: by_token(token), client_msg_id, body)
    if posted.created:
        _publish_message(posted.conversation, posted.message, unread=posted.unread, origin=origin)
    return posted


def post_sender_message(conversation_id: int, client_msg_id: str, body: str) -> Posted:
    """Store a form sender's message once: they hold no token, their code and secret (checked
    by the form) found the conversation."""
    posted = _post_as_visitor(lambda: by_id(conversation_id), client_msg_id, body)
    if posted.created:
        _publish_message(posted.conversation, posted.message, unread=posted.unread)
    return posted


def _post_as_visitor(read: Callable[[], Conversation], client_msg_id: str, body: str) -> Posted:
    return _posting(
        read,
        lambda conversation: _post(
            conversation,
            "visitor",
            body,
            client_msg_id,
            allowed_states=_visitor_writes_in(conversation.channel),
            ended=ConversationEnded,
        ),
    )


def _visitor_writes_in(channel: str) -> tuple[str, ...]:
    """The states in which a visitor's message is taken: a form's sender may still write back
    while the counsellor wraps up; a chat has ended then."""
    return OPEN_STATES if channel == "chat" else _FORM_REPLY_STATES


_FORM_REPLY_STATES = (*OPEN_STATES, "wrap_up")


def visitor_read(conversation_id: int, seq: int) -> None:
    """The visitor has read everything up to `seq`."""
    _raise_watermark(conversation_id, "visitor_read_seq", seq)
    broadcast.to_viewers(conversation_id, "read", {"conversation_id": conversation_id, "seq": seq})


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
        _announce_presence([conversation_id])


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


def visitor_ends(conversation: Conversation, now: datetime | None = None) -> Conversation:
    """The visitor ended the chat themselves."""
    return _visitor_goes(conversation, "visitor_ended", now)


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
            _visitor_goes(conversation, "visitor_left", now)
            moved += 1
        except (InvalidState, ConversationEnded):
            db.session.rollback()
    return moved


# --- staff side -------------------------------------------------------------------------------


def post_staff_message(
    conversation_id: int, user: StaffUser, client_msg_id: str, body: str, *, note: bool = False
) -> Posted:
    """A counsellor's reply (sent to the visitor) or private note (never sent to the visitor)."""

    def post(conversation: Conversation) -> Posted:
        require(user, "add_note" if note else "reply", conversation)
        return _post(
            conversation,
            "counsellor",
            body,
            client_msg_id,
            allowed_states=("queued", "active", "wrap_up", "closed") if note else ("active",),
            ended=InvalidState,
            author=user,
            kind="note" if note else "text",
        )

    posted = _posting(lambda: by_id(conversation_id), post)
    if posted.created:
        _publish_message(posted.conversation, posted.message)
    return posted


def post_reply_as(
    conversation_id: int, staff_id: int, session_token: str, client_msg_id: str, body: str
) -> Posted | None:
    """A reply in one statement, on PostgreSQL between transactions, for the staff member a
    socket's session names (`helpline.auth.views.session_claim`), before their user is loaded:
    stored, with its audit entry, only while that staff member is active and signed in with
    this session token, and the conversation is active with them (what `load_user` and
    `post_staff_message` check). None when it cannot be done so (not theirs, not active, a
    retry, another database): nothing is written, and `post_staff_message` answers.
    """
    row, also = _message_row("counsellor", body, client_msg_id, None, "text", None, utcnow())
    row["author_id"] = staff_id
    parameters = {
        "conversation_id": conversation_id,
        "by_staff": staff_id,
        "by_session_token": session_token,
    }
    posted = _post_alone("reply", row, also, parameters, audit="message.send", count_unread=False)
    if posted is not None:
        _publish_message(posted.conversation, posted.message)
    return posted


def claim(conversation_id: int, user: StaffUser, now: datetime | None = None) -> Conversation:
    """Take a waiting conversation. Of two counsellors claiming at once, exactly one gets it."""
    now = now or utcnow()
    conversation = by_id(conversation_id)
    require(user, "claim", conversation)
    if conversation.assignee_id == user.id and conversation.state == "active":
        return conversation
    if conversation.state != "queued":
        raise AlreadyAssigned() if conversation.state == "active" else ConversationEnded()
    _check_capacity(user)
    signals.claiming.send(conversation, user=user)
    result = db.session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.assignee_id.is_(None),
            Conversation.state == "queued",
        )
        .values(assignee_id=user.id, state="active", assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise AlreadyAssigned()
    db.session.expire(conversation)
    event = _append_event(conversation, "joined", user, now)
    _audit(user, "conversation.claim", conversation)
    _commit_change(conversation, event)
    signals.claimed.send(conversation, user=user)
    return conversation


def transfer(
    conversation_id: int, user: StaffUser, to_user_id: int | None, now: datetime | None = None
) -> Conversation:
    """Hand an active conversation to a colleague, or back to the queue (to_user_id None)."""
    now = now or utcnow()
    conversation = by_id(conversation_id)
    require(user, "transfer", conversation)
    if conversation.state != "active":
        raise InvalidState("Only an active conversation can be transferred.")
    current = conversation.assignee_id
    target = None
    if to_user_id is not None:
        target = db.session.get(StaffUser, to_user_id)
        if target is None or not target.is_active:
            raise NotFound("That colleague does not exist.")
        if target.id == current:
            raise InvalidState("The conversation is already with that colleague.")
        _check_capacity(target, "{name} has reached the limit of concurrent chats.")
        values = {"assignee_id": target.id, "assigned_at": now}
    else:
        values = {"assignee_id": None, "state": "queued"}
    result = db.session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.assignee_id == current,
            Conversation.state == "active",
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise AlreadyAssigned("The conversation changed hands in the meantime.")
    db.session.expire(conversation)
    event = _append_event(conversation, "transferred" if target else "requeued", target, now)
    _audit(user, "conversation.transfer", conversation, {"from": current, "to": to_user_id})
    _commit_change(conversation, event)
    if target is not None:
        broadcast.to_staff(
            "assigned", {"conversation_id": conversation.id, "by": user.display_name}, target.id
        )
    return conversation


def end(conversation_id: int, user: StaffUser, now: datetime | None = None) -> Conversation:
    """The counsellor ends the chat; it goes to wrap-up for categorising."""
    now = now or utcnow()
    conversation = by_id(conversation_id)
    require(user, "end", conversation)
    if conversation.state not in OPEN_STATES:
        raise InvalidState("The conversation has already ended.")
    conversation.state = "wrap_up"
    conversation.ended_at = now
    if conversation.assignee_id is None:
        conversation.assignee_id = user.id
    event = _append_event(conversation, "ended", user, now)
    _audit(user, "conversation.end", conversation)
    _commit_change(conversation, event)
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
    conversation = by_id(conversation_id)
    require(user, "close", conversation)
    if conversation.state in OPEN_STATES:
        raise InvalidState("End the conversation before closing it.")
    if conversation.state == "closed":
        raise InvalidState("The conversation is already closed.")
    chosen = categories.checked_choice(conversation.service_id, category_ids)
    if not summary_text or not summary_text.strip():
        raise InvalidInput("Write a short summary.")
    conversation.state = "closed"
    conversation.closed_at = now
    conversation.summary = summary_text.strip()
    _set_categories(conversation, chosen)
    event = _append_event(conversation, "closed", user, now)
    _audit(user, "conversation.close", conversation, {"categories": chosen})
    signals.closing.send(conversation)
    _commit_change(conversation, event)
    return conversation


def recategorise(
    conversation_id: int,
    user: StaffUser,
    summary_text: str,
    category_ids: list[int],
    now: datetime | None = None,
) -> Conversation:
    """Correct the categories and summary of a closed conversation (audited, before and after)."""
    conversation = by_id(conversation_id)
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
    if not summary_text or not summary_text.strip():
        raise InvalidInput("Write a short summary.")
    detail = {
        "categories": {"from": before, "to": sorted(chosen)},
        "summary_changed": summary_text.strip() != (conversation.summary or ""),
    }
    conversation.summary = summary_text.strip()
    _set_categories(conversation, chosen)
    _audit(user, "conversation.recategorise", conversation, detail)
    db.session.commit()
    _announce(conversation, everyone=True)
    return conversation


def categories_offered(user: StaffUser, service_slug: str | None) -> list[dict]:
    """The categories a counsellor can choose from at wrap-up (all services without a slug)."""
    require(user, "list_conversations")
    service_id = get_service(service_slug).id if service_slug else None
    return categories.tree(service_id=service_id)


def add_referral(
    conversation_id: int,
    user: StaffUser,
    kind: str,
    referred_on: date,
    note: str | None,
) -> dict:
    """Record where the person was referred to (e.g. a take-down request), with its date."""
    conversation = by_id(conversation_id)
    require(user, "refer", conversation)
    if referred_on > local_today() + timedelta(days=1):
        raise InvalidState("A referral cannot be dated in the future.")
    if referred_on < conversation.created_at.date() - timedelta(days=1):
        raise InvalidState("A referral cannot be dated before the conversation.")
    referral = Referral(
        conversation_id=conversation.id,
        kind=kind,
        referred_on=referred_on,
        note=(note or "").strip() or None,
        created_by_id=user.id,
    )
    db.session.add(referral)
    db.session.flush()
    _audit(user, "referral.add", conversation, {"referral": referral.id, "kind": kind})
    db.session.commit()
    return referral_payload(referral)


def remove_referral(conversation_id: int, referral_id: int, user: StaffUser) -> None:
    """Take back a referral recorded by mistake (audited)."""
    conversation = by_id(conversation_id)
    require(user, "refer", conversation)
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.conversation_id != conversation.id:
        raise NotFound("That referral does not exist.")
    db.session.delete(referral)
    _audit(user, "referral.remove", conversation, {"referral": referral_id, "kind": referral.kind})
    db.session.commit()


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


def record_export(conversation: Conversation, user: StaffUser, now: datetime | None = None) -> None:
    """Note on the conversation that an anonymised report left the platform (audited)."""
    now = now or utcnow()
    event = _append_event(conversation, "exported", user, now)
    _audit(user, "conversation.export", conversation)
    db.session.commit()
    broadcast.to_viewers(conversation.id, "message", message_payload(event, conversation))


def staff_read(conversation_id: int, user: StaffUser, seq: int) -> None:
    """The assigned counsellor has read the visitor's messages up to `seq`."""
    conversation = by_id(conversation_id)
    if not can(user, "reply", conversation):
        return
    _raise_watermark(conversation_id, "staff_read_seq", seq)
    broadcast.to_visitor(conversation_id, "read", {"seq": seq})
    db.session.expire(conversation)
    broadcast.to_staff("activity", _activity(conversation) | {"visitor_present": None}, user.id)


def colleagues(user: StaffUser) -> list[dict]:
    """Active staff a conversation can be transferred to, with how many chats each has."""
    load = dict(
        db.session.execute(
            select(Conversation.assignee_id, func.count())
            .where(Conversation.state == "active")
            .group_by(Conversation.assignee_id)
        ).all()
    )
    staff = db.session.scalars(
        select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.display_name)
    )
    return [
        {
            "id": s.id,
            "name": s.display_name,
            "role": s.role,
            "active_chats": load.get(s.id, 0),
            "max_chats": s.max_chats,
        }
        for s in staff
    ]


# --- channels without a live visitor socket (phone) --------------------------------------------


def record_event(
    conversation_id: int,
    event: str,
    actor: StaffUser | None = None,
    now: datetime | None = None,
    *,
    audit: str | None = None,
    **params: str,
) -> Conversation:
    """Note what happened on a channel (a voicemail, a callback) as an event, and show it."""
    now = now or utcnow()
    conversation = by_id(conversation_id)
    message = _append_event(conversation, event, actor, now, **params)
    if actor is not None and audit:
        _audit(actor, audit, conversation)
    db.session.commit()
    _publish_message(conversation, message)
    _announce(conversation, everyone=conversation.state != "active")
    return conversation


def add_contact_moment(
    conversation_id: int, kind: str, now: datetime | None = None, *, event: str | None = None
) -> None:
    """Count a callback (or another inbound contact) of an existing conversation."""
    now = now or utcnow()
    conversation = by_id(conversation_id)
    db.session.add(ContactMoment(conversation=conversation, kind=kind, started_at=now))
    message = _append_event(conversation, event, None, now) if event else None
    db.session.commit()
    if message is not None:
        _publish_message(conversation, message)


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
    conversation = by_id(conversation_id)
    if conversation.state == "active":
        return _leave_state(conversation, "wrap_up", "call_ended", now, **params)
    if conversation.state == "queued" and not keep_waiting:
        return _leave_state(conversation, "closed", "caller_hung_up", now)
    return None


def requeue(conversation_id: int, event: str, now: datetime | None = None) -> Conversation | None:
    """Put an active conversation back at the front of the queue (e.g. the counsellor's phone
    did not answer)."""
    now = now or utcnow()
    conversation = by_id(conversation_id)
    if conversation.state != "active":
        return None
    assignee = conversation.assignee
    result = db.session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == "active")
        .values(state="queued", assignee_id=None, assigned_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        return None
    db.session.expire(conversation)
    message = _append_event(conversation, event, assignee, now)
    _commit_change(conversation, message)
    return conversation


def announce(conversation_id: int) -> None:
    """Show staff the current row of a conversation whose channel details changed."""
    conversation = by_id(conversation_id)
    db.session.refresh(conversation)
    _announce(conversation, everyone=conversation.state != "active")


def audit(user: StaffUser, action: str, conversation: Conversation) -> None:
    """Record a staff member's read of a contact outside the inbox's own reads."""
    _audit(user, action, conversation)
    db.session.commit()


def audit_reads(user: StaffUser, action: str, conversation_ids: list[int]) -> None:
    """Record that a staff member saw (part of) these conversations, one entry each."""
    for conversation_id in dict.fromkeys(conversation_ids):
        db.session.add(AuditEntry(actor_id=user.id, action=action, conversation_id=conversation_id))
    db.session.commit()


def audit_change(user: StaffUser, action: str, detail: dict) -> None:
    """Commit a change that concerns no single contact (availability, categories), audited."""
    db.session.add(AuditEntry(actor_id=user.id, action=action, conversation_id=None, detail=detail))
    db.session.commit()


_staff = StaffUser.__table__
_busy = (
    select(func.count())
    .select_from(_conversations)
    .where(_conversations.c.assignee_id == _staff.c.id, _conversations.c.state == "active")
    .scalar_subquery()
)
_available_for_calls = (
    select(_staff.c.id)
    .where(
        _staff.c.active.is_(True),
        _staff.c.takes_calls.is_(True),
        _staff.c.phone_endpoint.is_not(None),
        _busy < _staff.c.max_chats,
    )
    .limit(1)
)


def staff_available_for_calls(service_id: int) -> bool:
    """Someone takes calls now and has room for one more conversation."""
    return db.session.connection().execute(_available_for_calls).first() is not None


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


# --- internals -------------------------------------------------------------------------------


def _opened_by(client: Client, client_msg_id: str) -> Posted | None:
    conversation = db.session.scalar(
        select(Conversation).where(
            Conversation.client_id == client.id, Conversation.opening_msg_id == client_msg_id
        )
    )
    if conversation is None:
        return None
    message = db.session.scalar(
        select(Message).where(
            Message.conversation_id == conversation.id, Message.client_msg_id == client_msg_id
        )
    )
    return Posted(conversation, message, False)


_MESSAGE_COLUMNS = (
    "conversation_id",
    "seq",
    "client_msg_id",
    "sender",
    "author_id",
    "kind",
    "event",
    "body",
    "created_at",
)
_insert_message = insert(Message.__table__)


# Built once per set of columns and run as plain Core: on this path (every message), building
# the statement and the ORM's bulk-update machinery cost more than the UPDATE.
@functools.cache
def _next_seq_statement(names: tuple[str, ...], lookup: str, returned: tuple[str, ...]) -> Update:
    """UPDATE conversation SET last_seq = last_seq + 1, <names> WHERE <lookup> RETURNING <returned>.

    `lookup`: "id", the conversation :conversation_id; "checked", that conversation only while
    its state and assignee are still :expected_state and :expected_assignee; "token", the
    chat whose token has the keyed hash :by_token, while it takes the visitor's messages; "reply",
    the conversation :conversation_id while it is active with :by_staff, and only while that
    staff member is active and signed in with :by_session_token (what `load_user` checks).
    A reply also sets the conversation's first response, unless it has one.
    """
    c = Conversation.__table__.c
    values = {n: bindparam(f"new_{n}") for n in names}
    if lookup == "token":
        # Only chats have a token (_visitor_writes_in). The states are spelled out rather than
        # IN (...), which is expanded into the SQL on every execution.
        where = [
            c.token_hash == bindparam("by_token"),
            or_(*(c.state == state for state in _visitor_writes_in("chat"))),
        ]
    else:
        where = [c.id == bindparam("conversation_id")]
    if lookup == "reply":
        staff = StaffUser.__table__.c
        signed_in = select(staff.id).where(
            staff.id == bindparam("by_staff"),
            staff.active.is_(True),
            staff.session_token == bindparam("by_session_token"),
        )
        where += [c.state == "active", c.assignee_id == bindparam("by_staff"), signed_in.exists()]
        values["first_response_at"] = func.coalesce(
            c.first_response_at, bindparam("message_created_at", type_=c.first_response_at.type)
        )
    if lookup == "checked":
        where += [
            c.state == bindparam("expected_state"),
            c.assignee_id.is_not_distinct_from(bindparam("expected_assignee", type_=c.id.type)),
        ]
    return (
        update(Conversation.__table__)
        .where(*where)
        .values(last_seq=c.last_seq + 1, **values)
        .returning(*(c[name] for name in returned))
    )


@functools.cache
def _append_statement(
    names: tuple[str, ...], audited: bool, counted: bool, lookup: str = "id"
) -> Select:
    """PostgreSQL: the sequence number, the message and what goes with it in one statement.

    WITH next_seq AS (UPDATE conversation SET last_seq = last_seq + 1, <names> WHERE <lookup>
                      RETURNING ...),
         inserted AS (INSERT INTO message (...) SELECT ..., next_seq.last_seq, ... FROM next_seq
                      RETURNING id, seq, conversation_id)
       [, INSERT INTO audit_entry (...) SELECT ... FROM inserted]      -- audited: staff's words
    SELECT [conversation, service, assignee,]                -- lookups "token", "reply"
           inserted.id, inserted.seq
           [, visitor messages above staff_read_seq, highest seq]     -- counted: unread count
    FROM inserted, next_seq ...

    `lookup`: as `_next_seq_statement`. When it finds nothing, nothing is written and there
    is no row.
    """
    table = Message.__table__
    whole = lookup in _RETURNS_CONVERSATION
    returned = (
        tuple(column.key for column in loading.columns(Conversation))
        if whole
        else ("id", "last_seq", "staff_read_seq")
    )
    following = _next_seq_statement(names, lookup, returned).cte("next_seq")
    from_next_seq = {"seq": following.c.last_seq, "conversation_id": following.c.id}
    values = [
        # Prefixed: a parameter named like a column would also be SET by the UPDATE.
        from_next_seq.get(name, bindparam(f"message_{name}", type_=table.c[name].type))
        for name in _MESSAGE_COLUMNS
    ]
    inserted = (
        insert(table)
        .from_select(list(_MESSAGE_COLUMNS), select(*values))
        .returning(table.c.id, table.c.seq, table.c.conversation_id)
        .cte("inserted")
    )
    joined = inserted.join(following, true())
    selected = [inserted.c.id, inserted.c.seq]
    if whole:
        services, staff = Service.__table__, StaffUser.__table__
        joined = joined.join(services, services.c.id == following.c.service_id).outerjoin(
            staff, staff.c.id == following.c.assignee_id
        )
        selected = [
            *(following.c[column.key] for column in loading.columns(Conversation)),
            *loading.columns(Service),
            *loading.columns(StaffUser),
            *selected,
        ]
    if counted:
        # Read in the statement's snapshot, which does not hold the new message (added after),
        # nor a message committed while the UPDATE waited for the row lock: the highest seq
        # seen tells whether one was missed.
        earlier = table.alias("earlier")
        unread = select(func.count()).where(
            earlier.c.conversation_id == following.c.id,
            earlier.c.sender == "visitor",
            earlier.c.seq > following.c.staff_read_seq,
        )
        highest = select(func.max(earlier.c.seq)).where(earlier.c.conversation_id == following.c.id)
        selected += [unread.scalar_subquery(), highest.scalar_subquery()]
    statement = select(*selected).select_from(joined)
    if audited:
        audit = AuditEntry.__table__
        entry = select(
            bindparam("message_created_at", type_=audit.c.at.type),
            bindparam("message_author_id", type_=audit.c.actor_id.type),
            bindparam("audit_action", type_=audit.c.action.type),
            inserted.c.conversation_id,
            bindparam("audit_detail", type_=audit.c.detail.type),
        )
        columns = ["at", "actor_id", "action", "conversation_id", "detail"]
        statement = statement.add_cte(insert(audit).from_select(columns, entry).cte("audited"))
    return statement


# The lookups that find the conversation in the statement itself, which returns it whole.
_RETURNS_CONVERSATION = ("token", "reply")


def _next_seq(conversation: Conversation, also: dict, parameters: dict, lookup: str) -> int:
    """Hand out the next sequence number, setting `also` on the conversation in the same UPDATE
    (SQLite; PostgreSQL's `_append_statement` does it with the INSERT). ConversationChanged
    when the lookup finds nothing.

    The UPDATE takes the conversation's row lock until commit, so sequence numbers of one
    conversation become visible in order: a reader that has seen seq n never misses n-1.
    """
    names = tuple(sorted(also))
    parameters = parameters | {f"new_{n}": also[n] for n in names}
    statement = _next_seq_statement(names, lookup, ("last_seq",))
    seq = db.session.connection().execute(statement, parameters).scalar()
    if seq is None:
        raise ConversationChanged()
    _took_seq(conversation, seq, also)
    return seq


def _took_seq(conversation: Conversation, seq: int, also: dict) -> None:
    """The conversation in the session as the UPDATE left it."""
    set_committed_value(conversation, "last_seq", seq)
    for name, value in also.items():
        set_committed_value(conversation, name, value)


def _append(
    conversation: Conversation,
    sender: str,
    body: str,
    *,
    client_msg_id: str | None = None,
    author: StaffUser | None = None,
    kind: str = "text",
    event: str | None = None,
    now: datetime | None = None,
) -> Message:
    """Store the conversation's next message, under the conversation's row lock."""
    row, also = _message_row(sender, body, client_msg_id, author, kind, event, now or utcnow())
    return _append_row(conversation, row, also, author)[0]


def _append_row(
    conversation: Conversation,
    row: dict,
    also: dict,
    author: StaffUser | None,
    *,
    audit: str | None = None,
    count_unread: bool = False,
    checked: bool = False,
) -> tuple[Message, int | None]:
    """Store a message row; `audit`: the author's audit action, written with it; `count_unread`:
    also count the visitor messages staff have not read (this one included); `checked`: only
    while the conversation's state and assignee are still those the caller checked, else
    ConversationChanged.

    On PostgreSQL this is one statement, run alone when the session is between transactions.
    """
    db.session.flush()
    parameters = {"conversation_id": conversation.id}
    lookup = "id"
    if checked:
        lookup = "checked"
        parameters |= {
            "expected_state": conversation.state,
            "expected_assignee": conversation.assignee_id,
        }
    if db.engine.dialect.name != "postgresql":
        seq = _next_seq(conversation, also, parameters, lookup)
        message = _loaded_message(row | {"conversation_id": conversation.id, "seq": seq}, author)
        if audit is not None:
            _audit(author, audit, conversation)
        return message, _count_unread(conversation) if count_unread else None
    result = _execute_append(lookup, row, also, parameters, audit=audit, count_unread=count_unread)
    if result is None:
        raise ConversationChanged()
    seq = result[1]
    message = _appended(conversation, row, also, author, message_id=result[0], seq=seq)
    return message, _unread(conversation, seq, result[2:]) if count_unread else None


def _post_by_token(token: str, client_msg_id: str, body: str) -> Posted | None:
    """A visitor's message as one statement, run alone: find the conversation by its token,
    check that it takes the visitor's messages, store the message and count what the
    counsellor has not read. None when it cannot be done so (an unknown token, a conversation
    that takes no messages now, a message sent before): the usual path then answers."""
    row, also = _message_row("visitor", body, client_msg_id, None, "text", None, utcnow())
    parameters = {"by_token": token_hash(token)}
    return _post_alone("token", row, also, parameters, audit=None, count_unread=True)


def _post_alone(
    lookup: str,
    row: dict,
    also: dict,
    parameters: dict,
    *,
    audit: str | None,
    count_unread: bool,
) -> Posted | None:
    """Store a message with `_append_statement`, whose lookup (one of `_RETURNS_CONVERSATION`)
    finds and checks the conversation too, run alone. None when it cannot run alone (PostgreSQL
    between transactions only), when the lookup finds nothing or the message was stored before;
    nothing is written then."""
    if not loading.between_transactions():
        return None
    try:
        result = _execute_append(
            lookup, row, also, parameters, audit=audit, count_unread=count_unread
        )
    except IntegrityError:
        return None
    if result is None:
        return None
    conversation = _loaded_conversation(result)
    at = sum(len(loading.columns(model)) for model in (Conversation, Service, StaffUser))
    seq = result[at + 1]
    author = conversation.assignee if row["sender"] == "counsellor" else None
    message = _appended(conversation, row, also, author, message_id=result[at], seq=seq)
    unread = (
        _unread(conversation, seq, result[at + 2 :])
        if count_unread and conversation.state == "active"
        else None
    )
    return Posted(conversation, message, True, unread)


def _execute_append(
    lookup: str,
    row: dict,
    also: dict,
    parameters: dict,
    *,
    audit: str | None,
    count_unread: bool,
) -> Sequence | None:
    """Run `_append_statement` for a message row and what it changes on the conversation
    (alone between transactions, see `loading.first`): its row, or None when the lookup
    found nothing."""
    names = tuple(sorted(also))
    parameters = parameters | _append_parameters(row, also, names)
    if audit is not None:
        parameters |= {"audit_action": audit, "audit_detail": None}
    statement = _append_statement(names, audit is not None, count_unread, lookup)
    return loading.first(statement, parameters)


def _appended(
    conversation: Conversation,
    row: dict,
    also: dict,
    author: StaffUser | None,
    *,
    message_id: int,
    seq: int,
) -> Message:
    """The message `_append_statement` stored, in the session, and its conversation as the
    statement left it."""
    _took_seq(conversation, seq, also)
    stored = {"id": message_id, "conversation_id": conversation.id, "seq": seq}
    return _loaded_message(row | stored, author)


def _append_parameters(row: dict, also: dict, names: tuple[str, ...]) -> dict:
    """The parameters of `_append_statement` for a message row and what it changes."""
    given = {f"message_{name}": value for name, value in row.items() if name not in _FROM_NEXT_SEQ}
    return given | {f"new_{name}": also[name] for name in names}


_FROM_NEXT_SEQ = ("conversation_id", "seq")


def _unread(conversation: Conversation, seq: int, counted: Sequence) -> int:
    """The unread count after message `seq`, from the count and highest seq the append read:
    when its snapshot missed a message committed meanwhile, counted again (after commit, so
    perhaps with a later message too: never too few)."""
    count, highest = counted
    if (highest or 0) == seq - 1:
        return count + 1
    return _count_unread(conversation)


def _message_row(
    sender: str,
    body: str,
    client_msg_id: str | None,
    author: StaffUser | None,
    kind: str,
    event: str | None,
    now: datetime,
) -> tuple[dict, dict]:
    """A new message's columns (without conversation and seq), and what it changes on its
    conversation."""
    also: dict = {}
    if kind == "text":
        also["last_message_at"] = now
    if sender == "visitor":
        also.update(visitor_left_at=None, visitor_seen_at=now)
    row = {
        "conversation_id": None,
        "seq": None,
        "client_msg_id": client_msg_id,
        "sender": sender,
        "author_id": author.id if author else None,
        "kind": kind,
        "event": event,
        "body": body,
        "created_at": now,
    }
    return row, also


def _loaded_message(row: dict, author: StaffUser | None) -> Message:
    """INSERT the message row unless inserted already (it has an id), with Core instead of a
    unit-of-work flush (the larger cost on this path); the row is then put in the session as
    a loaded object, as a flush would have left it."""
    if "id" not in row:
        inserted = db.session.connection().execute(_insert_message, row)
        row["id"] = inserted.inserted_primary_key[0]
    message = Message(author=author, **row)
    make_transient_to_detached(message)
    db.session.add(message)
    return message


def _insert_conversation(
    given: dict, service: Service, client: Client, assignee: StaffUser | None
) -> Conversation:
    """INSERT a new conversation and its first contact moment with Core (the ORM's unit of work
    costs more than both statements on this path); the conversation is then in the session as
    a loaded object, with its service, client and assignee."""
    now = given["created_at"]
    db.session.flush()  # e.g. the client, when it is new
    connection = db.session.connection()
    values = _with_defaults(Conversation.__table__, given)
    conversation_id = connection.execute(_insert_conversation_row, values).inserted_primary_key[0]
    conversation = Conversation(id=conversation_id, **values)
    moment = {"conversation_id": conversation_id, "kind": "inbound", "started_at": now}
    connection.execute(_insert_moment, moment | copied_to_moment(conversation, conversation_id))
    make_transient_to_detached(conversation)
    db.session.add(conversation)
    set_committed_value(conversation, "service", service)
    set_committed_value(conversation, "client", client)
    set_committed_value(conversation, "assignee", assignee)
    return conversation


def _with_defaults(table: Table, given: dict) -> dict:
    """Every column but the key: the given value, else the column's scalar default, else None."""
    values = {}
    for column in table.columns:
        if column.primary_key:
            continue
        if column.key in given:
            values[column.key] = given[column.key]
        elif column.default is not None and column.default.is_scalar:
            values[column.key] = column.default.arg
        else:
            values[column.key] = None
    return values


_insert_conversation_row = insert(Conversation.__table__)
_insert_moment = insert(ContactMoment.__table__)


def _append_event(
    conversation: Conversation, event: str, actor: StaffUser | None, now: datetime, **params: str
) -> Message:
    name = actor.display_name if actor else ""
    return _append(
        conversation,
        "system",
        EVENT_TEXT[event].format(name=name, **params),
        author=actor,
        kind="event",
        event=event,
        now=now,
    )


def _post(
    conversation: Conversation,
    sender: str,
    body: str,
    client_msg_id: str,
    *,
    allowed_states: tuple[str, ...],
    ended: type[Exception],
    author: StaffUser | None = None,
    kind: str = "text",
) -> Posted:
    if conversation.state not in allowed_states:
        # A retry of a message stored before the conversation ended still gets its ack.
        existing = _existing(conversation.id, client_msg_id)
        if existing is not None:
            return Posted(conversation, existing, False)
        raise ended()
    conversation_id = conversation.id
    # No look-up first: the unique (conversation, client_msg_id) constraint refuses a second copy,
    # and the rollback also returns the sequence number it took.
    try:
        row, also = _message_row(sender, body, client_msg_id, author, kind, None, utcnow())
        if sender == "counsellor" and kind == "text" and conversation.first_response_at is None:
            also["first_response_at"] = row["created_at"]
        message, unread = _append_row(
            conversation,
            row,
            also,
            author,
            audit=None if author is None else "note.add" if kind == "note" else "message.send",
            # Counted with the append, under its row lock: every earlier message of this
            # conversation is committed by then.
            count_unread=sender == "visitor" and conversation.state == "active",
            checked=True,
        )
        db.session.commit()
    except IntegrityError:
        # A retry, or the same message arriving twice at once: the first copy stands.
        db.session.rollback()
        existing = _existing(conversation_id, client_msg_id)
        if existing is None:
            raise
        return Posted(by_id(conversation_id), existing, False)
    return Posted(conversation, message, True, unread)


def _posting(read: Callable[[], Conversation], post: Callable[[Conversation], Posted]) -> Posted:
    """Read the conversation and post to it; when it changed in between (a transfer, an end),
    read it and check again: a message never lands where the checks it passed no longer hold."""
    for _ in range(_POST_ATTEMPTS):
        conversation = read()
        try:
            return post(conversation)
        except ConversationChanged:
            db.session.expunge(conversation)
    raise ConversationChanged()


_POST_ATTEMPTS = 3


def _existing(conversation_id: int, client_msg_id: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.client_msg_id == client_msg_id
        )
    )


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


def _visitor_goes(conversation: Conversation, event: str, now: datetime | None) -> Conversation:
    now = now or utcnow()
    if conversation.state not in OPEN_STATES:
        raise ConversationEnded()
    state = "closed" if conversation.state == "queued" else "wrap_up"
    moved = _leave_state(conversation, state, event, now)
    if moved is None:
        db.session.rollback()
        raise InvalidState()
    return moved


def _set_categories(conversation: Conversation, chosen: list[int]) -> None:
    db.session.execute(
        delete(ConversationCategory).where(ConversationCategory.conversation_id == conversation.id)
    )
    db.session.add_all(
        ConversationCategory(conversation_id=conversation.id, category_id=category_id)
        for category_id in chosen
    )


@functools.cache
def _leave_state_statement(names: tuple[str, ...]) -> Update:
    return (
        update(_conversations)
        .where(
            _conversations.c.id == bindparam("conversation_id"),
            _conversations.c.state == bindparam("from_state"),
        )
        .values(**{name: bindparam(f"new_{name}") for name in names})
    )


def _leave_state(
    conversation: Conversation, state: str, event: str, now: datetime, **params: str
) -> Conversation | None:
    # Conditional on the state it was read in, so two reports of the same hang-up move it once.
    values: dict = {"state": state, "ended_at": now}
    if state == "closed":
        values.update(abandoned=True, closed_at=now)
    db.session.flush()
    parameters = {"conversation_id": conversation.id, "from_state": conversation.state} | {
        f"new_{name}": value for name, value in values.items()
    }
    result = db.session.connection().execute(_leave_state_statement(tuple(values)), parameters)
    if result.rowcount != 1:
        # Moved on meanwhile: nothing written here; the caller's other changes are its own.
        return None
    # The row now holds exactly these values: no need to read it back.
    for name, value in values.items():
        set_committed_value(conversation, name, value)
    message = _append_event(conversation, event, None, now, **params)
    if state == "closed":
        signals.closing.send(conversation)
    _commit_change(conversation, message)
    return conversation


def _audit(
    user: StaffUser, action: str, conversation: Conversation | None, detail: dict | None = None
) -> None:
    # A Core INSERT (staff messages write one each): after a flush, so that a conversation
    # new in this transaction exists for its foreign key.
    db.session.flush()
    values = {
        "actor_id": user.id,
        "action": action,
        "conversation_id": conversation.id if conversation else None,
        "detail": detail,
    }
    db.session.connection().execute(_insert_audit, values)


_insert_audit = insert(AuditEntry.__table__)


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
    _announce_presence(returned)


def _announce_presence(conversation_ids: list[int]) -> None:
    db.session.expire_all()
    for conversation_id in conversation_ids:
        conversation = db.session.get(Conversation, conversation_id)
        _announce(conversation, everyone=conversation.state != "active")


def _announce(conversation: Conversation, *, everyone: bool) -> None:
    _send_row(conversation, summary(conversation), everyone=everyone)


def _send_row(conversation: Conversation, row: dict, *, everyone: bool) -> None:
    if everyone or conversation.assignee_id is None:
        broadcast.to_queue(conversation.service_id, "conversation", row, conversation.assignee_id)
    else:
        broadcast.to_staff("conversation", row, conversation.assignee_id)
        broadcast.to_viewers(conversation.id, "conversation", row)


def _prepare_new_conversation(
    conversation: Conversation, *, first_contact: bool
) -> Callable[[], None]:
    """Read the new conversation's row (before commit); the returned function announces it."""
    row = summary(conversation, first_contact=first_contact)
    queue = _queue_positions(conversation.service_id) if conversation.channel == "chat" else []

    def publish() -> None:
        _send_row(conversation, row, everyone=True)
        broadcast.to_queue(
            conversation.service_id,
            "new_conversation",
            {"id": conversation.id, "service": conversation.service.slug},
            conversation.assignee_id,
        )
        _send_queue(queue)

    return publish


def _publish_message(
    conversation: Conversation,
    message: Message,
    *,
    unread: int | None = None,
    origin: str | None = None,
) -> None:
    signals.message_posted.send(conversation, message=message)
    # Only a chat visitor has a socket; a caller or a form's sender has nothing to receive.
    if message.kind != "note" and conversation.channel == "chat":
        payload = visitor_message_payload(message)
        broadcast.to_visitor(conversation.id, "message", payload, skip_sid=origin)
    broadcast.to_viewers(conversation.id, "message", message_payload(message, conversation))
    if message.sender != "visitor":
        return
    if conversation.state == "active":
        # The counsellor who has the chat needs its unread count; nobody else needs anything.
        broadcast.to_staff("activity", _activity(conversation, unread), conversation.assignee_id)
    else:
        _announce(conversation, everyone=True)


def _activity(conversation: Conversation, unread: int | None = None) -> dict:
    if unread is None:
        unread = _count_unread(conversation)
    return {
        "conversation_id": conversation.id,
        "last_seq": conversation.last_seq,
        "last_message_at": iso(conversation.last_message_at),
        "unread": unread,
        "visitor_present": True,
    }


_unread_statement = (
    select(func.count())
    .select_from(_messages)
    .where(
        _messages.c.conversation_id == bindparam("conversation_id"),
        _messages.c.sender == "visitor",
        _messages.c.seq > bindparam("read_seq"),
    )
)


def _count_unread(conversation: Conversation) -> int:
    """Visitor messages above the staff's read watermark (a Core statement built once)."""
    parameters = {"conversation_id": conversation.id, "read_seq": conversation.staff_read_seq}
    return loading.first(_unread_statement, parameters)[0]


def _commit_change(conversation: Conversation, event: Message) -> None:
    """Commit a change, then tell everyone.

    What they are told is read first, in the same transaction: publishing needs no
    transaction of its own, and what is sent is exactly what was committed.
    """
    publish = _prepare_change(conversation, event)
    db.session.commit()
    publish()


def _prepare_change(conversation: Conversation, event: Message) -> Callable[[], None]:
    """Read what a change's announcements need; the returned function sends them."""
    row = summary(conversation)
    chat = conversation.channel == "chat"
    view = visitor_view(conversation) if chat else None
    # Queue positions count waiting chats only: other channels never move them.
    queue = _queue_positions(conversation.service_id) if chat else []

    def publish() -> None:
        _publish_message(conversation, event)
        _send_row(conversation, row, everyone=True)
        if chat:
            broadcast.to_visitor(conversation.id, "state", view)
            _send_queue(queue)

    return publish


def _queue_positions(service_id: int) -> list[tuple[int, dict]]:
    """(conversation id, its `queue` payload) of every chat waiting at this service."""
    waiting = list(
        db.session.scalars(
            select(Conversation.id)
            .where(
                and_(
                    Conversation.service_id == service_id,
                    Conversation.state == "queued",
                    Conversation.channel == "chat",
                )
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
                "estimated_wait_minutes": _estimate_minutes(typical, position),
            },
        )
        for position, conversation_id in enumerate(waiting, start=1)
    ]


def _send_queue(positions: list[tuple[int, dict]]) -> None:
    for conversation_id, payload in positions:
        broadcast.to_visitor(conversation_id, "queue", payload)


def _estimate_minutes(typical_seconds: float | None, position: int | None) -> int | None:
    if typical_seconds is None or position is None:
        return None
    return max(1, round(typical_seconds * position / 60))
