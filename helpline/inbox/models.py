"""The inbox core: services, anonymous clients, conversations, messages and the audit log."""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.timeutil import utcnow

STATES = ("queued", "active", "wrap_up", "closed")
LANGUAGES = ("nl", "en")
REFERRAL_KINDS = ("takedown", "police", "gp", "treatment", "youth_care", "other")
CHANNELS = ("chat", "form", "phone")
# The text-search configurations a search matches what was said with (PostgreSQL only): `simple`
# finds every word as typed, `dutch` also other forms of a word (gedeeld, gedeelde).
TEXT_SEARCH_CONFIGURATIONS = ("simple", "dutch")
OPEN_STATES = ("queued", "active")


class Service(db.Model):
    """One helpline of the organisation, e.g. Helpwanted or Stop it Now!."""

    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint("retention_days >= 1", name="retention_days_positive"),
        CheckConstraint("chat_queue_limit > 0", name="chat_queue_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # Weekly opening hours, e.g. "mon-fri 09:00-17:00; sat 10:00-12:00", or "always" / "never".
    opening_hours: Mapped[str] = mapped_column(String(200), default="mon-fri 09:00-17:00")
    chat_enabled: Mapped[bool] = mapped_column(default=True)
    # Waiting chats past which a new visitor is sent to the form instead of the queue.
    chat_queue_limit: Mapped[int] = mapped_column(default=30, server_default="30")
    # Which contact form this service offers (see helpline/forms/schemas.py), if any.
    form: Mapped[str | None] = mapped_column(String(20))
    # The service's Twilio number in E.164 (+3180...); calls to it land in this service.
    phone_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    # After a call, callers may answer the survey by keypad.
    phone_survey: Mapped[bool] = mapped_column(default=False)
    # What people said is purged from conversations closed longer ago than this many days.
    retention_days: Mapped[int] = mapped_column(default=365, server_default="365")
    # A purge of this service holds it until then: one server at a time, and a server that
    # died while purging lets the next one in once this has passed.
    retention_lease_until: Mapped[datetime | None] = mapped_column()


class Client(db.Model):
    """An anonymous person, recognised only by a keyed hash of an identifier they hold."""

    __tablename__ = "client"

    id: Mapped[int] = mapped_column(primary_key=True)
    browser_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Keyed hash of a caller's number: repeat callers are recognised, the number is not kept.
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Not a column: set on a client created in this transaction, whose conversation is
    # therefore their first (the inbox row needs no count of earlier ones).
    first_contact = False


class Conversation(db.Model):
    __tablename__ = "conversation"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'active', 'wrap_up', 'closed')", name="state"),
        CheckConstraint("channel IN ('chat', 'form', 'phone')", name="channel"),
        CheckConstraint("state != 'active' OR assignee_id IS NOT NULL", name="active_has_assignee"),
        CheckConstraint("language IS NULL OR language IN ('nl', 'en')", name="language"),
        Index("ix_conversation_state_service", "state", "service_id"),
        Index("ix_conversation_assignee_state", "assignee_id", "state"),
        Index("ix_conversation_created_at", "created_at"),
        # A retried first message finds the conversation it opened instead of opening another.
        UniqueConstraint("client_id", "opening_msg_id", name="uq_conversation_client_opening"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Keyed hash of the token the visitor holds (a chat's); a form or call has none.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    channel: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10), default="queued")
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    opening_msg_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    waiting_since: Mapped[datetime | None] = mapped_column()
    assigned_at: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    last_message_at: Mapped[datetime | None] = mapped_column()
    # Set when the visitor's last connection dropped; cleared when they come back.
    visitor_left_at: Mapped[datetime | None] = mapped_column()
    # Refreshed by every server process holding a connection of the visitor: a server that
    # crashed cannot report the disconnect, so a chat not seen for the grace period has ended.
    visitor_seen_at: Mapped[datetime | None] = mapped_column()
    # The visitor left while still waiting: counted as an abandoned contact.
    abandoned: Mapped[bool] = mapped_column(default=False)
    summary: Mapped[str | None] = mapped_column(Text)
    # The language of the page the visitor wrote from (nl, en); None when not known (a call).
    language: Mapped[str | None] = mapped_column(String(2))
    # Highest message seq handed out; allocation is an UPDATE ... RETURNING on this column.
    last_seq: Mapped[int] = mapped_column(default=0)
    # Read watermarks: everything up to this seq has been read by that side.
    visitor_read_seq: Mapped[int] = mapped_column(default=0)
    staff_read_seq: Mapped[int] = mapped_column(default=0)
    # When what was said in it was purged after the service's retention period.
    purged_at: Mapped[datetime | None] = mapped_column()

    service: Mapped[Service] = relationship(lazy="joined")
    client: Mapped[Client | None] = relationship()
    assignee: Mapped[StaffUser | None] = relationship(lazy="joined")


class ContactMoment(db.Model):
    """One inbound contact or one callback: what the annual report counts."""

    __tablename__ = "contact_moment"
    __table_args__ = (
        CheckConstraint("kind IN ('inbound', 'callback')", name="kind"),
        CheckConstraint("channel IN ('chat', 'form', 'phone')", name="channel"),
        # A year of the report's figures read from this index alone, without the conversations.
        Index(
            "ix_contact_moment_report",
            "started_at",
            postgresql_include=["service_id", "channel", "kind", "person"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="inbound")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Copies of the conversation's service, channel and person, none of which ever changes:
    # the report counts moments without their conversations. Filled on insert.
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    channel: Mapped[str] = mapped_column(String(10))
    person: Mapped[int] = mapped_column()

    conversation: Mapped[Conversation] = relationship()


def person_of(client_id: int | None, conversation_id: int) -> int:
    """One number per person: the client, or minus the conversation when no client is known."""
    return client_id if client_id is not None else -conversation_id


_COPIED = ("service_id", "channel", "client_id", "created_at")


def _conversation_of(row, connection):
    # In memory when the row was made with its loaded conversation, else read by primary key
    # (a flush should not load other objects).
    conversation = inspect(row).dict.get("conversation")
    if conversation is not None and all(k in inspect(conversation).dict for k in _COPIED):
        return conversation
    columns = [getattr(Conversation, name) for name in _COPIED]
    return connection.execute(select(*columns).where(Conversation.id == row.conversation_id)).one()


def copied_to_moment(conversation, conversation_id: int) -> dict:
    """A contact moment's copies of its conversation (an object or a row with service_id,
    channel and client_id)."""
    return {
        "service_id": conversation.service_id,
        "channel": conversation.channel,
        "person": person_of(conversation.client_id, conversation_id),
    }


@event.listens_for(ContactMoment, "before_insert")
def copy_conversation_to_moment(mapper, connection, moment: ContactMoment) -> None:
    """Fill a new moment's copies of its conversation."""
    copies = copied_to_moment(_conversation_of(moment, connection), moment.conversation_id)
    for name, value in copies.items():
        setattr(moment, name, value)


class Message(db.Model):
    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_message_conversation_seq"),
        UniqueConstraint(
            "conversation_id", "client_msg_id", name="uq_message_conversation_client_msg"
        ),
        CheckConstraint("sender IN ('visitor', 'counsellor', 'system')", name="sender"),
        CheckConstraint("kind IN ('text', 'note', 'event')", name="kind"),
        CheckConstraint("kind != 'note' OR sender = 'counsellor'", name="note_by_staff"),
        *(
            Index(
                f"ix_message_body_{configuration}",
                text(f"to_tsvector('{configuration}'::regconfig, body)"),
                postgresql_using="gin",
            ).ddl_if(dialect="postgresql")
            for configuration in TEXT_SEARCH_CONFIGURATIONS
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"))
    seq: Mapped[int] = mapped_column()
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(10))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    kind: Mapped[str] = mapped_column(String(10), default="text")
    body: Mapped[str] = mapped_column(Text)
    # Machine-readable event name for kind='event' (joined, transferred, ended, visitor_left...),
    # or 'whisper' on a note a supervisor sent the counsellor while watching.
    event: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[StaffUser | None] = relationship(lazy="joined")

    @property
    def author_name(self) -> str | None:
        """The staff member's name as shown with the message."""
        return self.author.display_name if self.author else None


class AuditEntry(db.Model):
    """Who read or changed which contact, and when. Written in the same transaction."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_conversation", "conversation_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    action: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id"))
    detail: Mapped[dict | None] = mapped_column(JSON)


class StaffConnection(db.Model):
    """A live /inbox socket of a staff member, on whichever server holds it: signing out ends
    each of them (`helpline.inbox.connections`)."""

    __tablename__ = "staff_connection"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A supervisor board's socket: it does not make its person online in the inbox.
    board_only: Mapped[bool] = mapped_column(default=False, server_default="0")


STAFF_STATUSES = ("available", "away", "on_break")


class StaffStatusPeriod(db.Model):
    """A stretch of time a staff member was online in one status; the open one (no end) is
    their status now. Kept for the report of hours available."""

    __tablename__ = "staff_status_period"
    __table_args__ = (
        CheckConstraint("status IN ('available', 'away', 'on_break')", name="status"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
        # At most one open period per person: their status now.
        Index(
            "uq_staff_status_period_open",
            "user_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        Index("ix_staff_status_period_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()


class ConversationWatcher(db.Model):
    """A supervisor's socket following a conversation silently (`helpline.inbox.monitoring`).

    Renewed by the server holding the socket; a row that stops being renewed (its server
    died) expires."""

    __tablename__ = "conversation_watcher"
    __table_args__ = (
        UniqueConstraint("sid", "conversation_id", name="uq_watcher_sid_conversation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    renewed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Category(db.Model):
    """What a contact was about, as the annual report counts it; a subcategory has a parent."""

    __tablename__ = "category"
    __table_args__ = (
        CheckConstraint("parent_id IS NULL OR parent_id != id", name="not_own_parent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    position: Mapped[int] = mapped_column(default=0)
    # A retired category is no longer offered; contacts tagged with it keep it.
    retired_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped["Category | None"] = relationship(remote_side=[id])


class ServiceCategory(db.Model):
    """A category a service offers its counsellors at wrap-up."""

    __tablename__ = "service_category"

    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), primary_key=True)


class ConversationCategory(db.Model):
    """One category of a conversation; a conversation has one or more."""

    __tablename__ = "conversation_category"
    __table_args__ = (
        Index("ix_conversation_category_category", "category_id"),
        # A year of the report's categories read from this index alone.
        Index(
            "ix_conversation_category_report",
            "opened_at",
            postgresql_include=["service_id", "category_id", "conversation_id", "person"],
        ),
    )

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), primary_key=True)
    # Copies of the conversation's service, opening time and person, filled on insert.
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    opened_at: Mapped[datetime] = mapped_column()
    person: Mapped[int] = mapped_column()

    conversation: Mapped[Conversation] = relationship()


@event.listens_for(ConversationCategory, "before_insert")
def copy_conversation_to_category(mapper, connection, row: ConversationCategory) -> None:
    """Fill a new category row's copies of its conversation."""
    conversation = _conversation_of(row, connection)
    row.service_id, row.opened_at = conversation.service_id, conversation.created_at
    row.person = person_of(conversation.client_id, row.conversation_id)


class Referral(db.Model):
    """Where the person was referred to, e.g. a take-down request to a platform, or their GP."""

    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('takedown', 'police', 'gp', 'treatment', 'youth_care', 'other')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    referred_on: Mapped[date] = mapped_column()
    note: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
