"""New contacts: the anonymous client behind them and the conversation their first message opens."""

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Insert, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from helpline.auth.models import StaffUser
from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.inbox import announce, find
from helpline.inbox.errors import ServiceClosed
from helpline.inbox.messages import Posted, StoredMessage, append
from helpline.inbox.models import Client, ContactMoment, Conversation, Message, Service
from helpline.timeutil import utcnow


def client_for_browser(browser_token: str) -> Client:
    """The anonymous client behind a browser token, created on first use."""
    return _client_known_by("browser_hash", keyed_hash("browser", browser_token))


def client_for_phone(number: str) -> Client:
    """The anonymous client behind a caller's number, known only by its keyed hash."""
    return _client_known_by("phone_hash", keyed_hash("phone", number))


def new_client() -> Client:
    """A new anonymous client known by nothing but its conversations (e.g. a form's sender)."""
    client = Client()
    db.session.add(client)
    db.session.flush()
    client.first_contact = True
    return client


def _client_known_by(column: str, digest: str) -> Client:
    """The client known by this hash, created if new.

    One INSERT ... ON CONFLICT DO NOTHING: the same person arriving twice at once cannot make
    two clients, and a new person costs no look-up first.
    """
    statement = _insert_client(db.engine.dialect.name, column)
    created = db.session.execute(statement, {column: digest, "created_at": utcnow()}).scalar()
    client = db.session.scalar(select(Client).where(getattr(Client, column) == digest))
    client.first_contact = created is not None
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


def open_chat(
    service_slug: str,
    browser_token: str,
    client_msg_id: str,
    body: str,
    now: datetime | None = None,
    admit: Callable[[Service], None] | None = None,
    language: str | None = None,
) -> Posted:
    """Start a chat with the visitor's first message; a retried first message opens nothing new.

    `admit` may refuse a new chat (by raising); a retried first message is not asked again.
    `language`: that of the visitor's page, if known."""
    service = find.get_service(service_slug)
    client = client_for_browser(browser_token)
    return open_conversation(
        service,
        "chat",
        client,
        client_msg_id,
        body,
        now,
        during_opening_hours=True,
        token=find.chat_token(f"{browser_token}:{client_msg_id}"),
        admit=admit,
        language=language,
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
    event: tuple[str, str] | None = None,
    attach: Callable[[Conversation], None] | None = None,
    assign_to: StaffUser | None = None,
    token: str | None = None,
    admit: Callable[[Service], None] | None = None,
    language: str | None = None,
) -> Posted:
    """Open a waiting conversation with its first message, once per (client, client_msg_id).

    With `during_opening_hours`, only while the service is open; a retry of a first message
    sent in time still gets its conversation after closing time. With `event` (its name and
    text), the first message is that system event instead of the visitor's words (a call has
    no words yet). `attach` adds a channel's own rows to the new conversation in the same
    transaction. With `assign_to`, the conversation starts active with that staff member (a
    booked session). `token`: what the visitor will hold to write in it (a chat's), kept only
    as a keyed hash. `language`: the one the person wrote in, if known (nl, en).
    """
    now = now or utcnow()
    client_id = client.id
    sender, kind, name, text = (
        ("visitor", "text", None, body) if event is None else ("system", "event", *event)
    )
    if during_opening_hours:
        retried = _retried_or_admitted(service, client_id, client_msg_id, now, admit)
        if retried is not None:
            return replace(retried, token=token)
    try:
        conversation = _new_conversation(service, channel, client, client_msg_id, now, assign_to)
        conversation.token_hash = find.token_hash(token) if token else None
        conversation.language = language
        stored = append(
            conversation, sender, text, client_msg_id=client_msg_id, kind=kind, event=name, now=now
        )
        if attach is not None:
            attach(conversation)
        first_contact, client.first_contact = client.first_contact, False
        publish = announce.prepare_new_conversation(conversation, first_contact=first_contact)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        retried = _opened_by(client_id, client_msg_id)
        if retried is None:
            raise
        return replace(retried, token=token)
    publish()
    return Posted(conversation, stored, True, token=token)


def _retried_or_admitted(
    service: Service,
    client_id: int,
    client_msg_id: str,
    now: datetime,
    admit: Callable[[Service], None] | None,
) -> Posted | None:
    """A retried first message's conversation; else None if a new one may open now (the
    service is open and `admit` does not refuse), else ServiceClosed.

    A retry sent in time gets its conversation even after closing time; without an hours
    check, the unique (client, opening message) constraint finds retries instead.
    """
    retried = _opened_by(client_id, client_msg_id)
    if retried is not None:
        return retried
    if not find.is_open(service, now):
        db.session.rollback()
        raise ServiceClosed()
    if admit is not None:
        admit(service)
    return None


def _new_conversation(
    service: Service,
    channel: str,
    client: Client,
    client_msg_id: str,
    now: datetime,
    assign_to: StaffUser | None,
) -> Conversation:
    """A new conversation waiting (or active with `assign_to`), with its first contact
    moment, in the session; its first message is appended next."""
    conversation = Conversation(
        service=service,
        channel=channel,
        state="active" if assign_to else "queued",
        client=client,
        assignee=assign_to,
        assigned_at=now if assign_to else None,
        opening_msg_id=client_msg_id,
        created_at=now,
        waiting_since=now,
        visitor_seen_at=now if channel == "chat" else None,
    )
    db.session.add(conversation)
    db.session.add(ContactMoment(conversation=conversation, kind="inbound", started_at=now))
    return conversation


def _opened_by(client_id: int, client_msg_id: str) -> Posted | None:
    """The conversation this client opened with this message, if any."""
    found = db.session.execute(
        select(Conversation, Message)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Conversation.client_id == client_id,
            Conversation.opening_msg_id == client_msg_id,
            Message.client_msg_id == client_msg_id,
        )
    ).first()
    if found is None:
        return None
    conversation, message = found
    return Posted(conversation, StoredMessage.of(message), False)
