"""Therapists' availability and the follow-up sessions booked in it.

Times of day in availability are local (Europe/Amsterdam): "Mondays 10:00-12:00" stays at ten
o'clock across daylight-saving changes. Booked sessions are stored as naive UTC.
"""

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.models import Client, Conversation
from helpline.timeutil import utcnow

METHODS = ("phone", "chat")
# A booking that holds its slot; cancelled and rescheduled ones free it but stay as history.
HOLDING = ("booked", "held", "no_show", "referred")
STATUSES = ("booked", "cancelled", "rescheduled", "held", "no_show", "referred")
OUTCOMES = ("held", "no_show", "cancelled", "referred")


class AvailabilityRule(db.Model):
    """A weekly recurring block a therapist offers, cut into sessions of `slot_minutes`."""

    __tablename__ = "availability_rule"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("ends > starts", name="ends_after_starts"),
        CheckConstraint("slot_minutes BETWEEN 10 AND 240", name="slot_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    weekday: Mapped[int] = mapped_column()  # 0 = Monday
    starts: Mapped[time] = mapped_column()
    ends: Mapped[time] = mapped_column()
    slot_minutes: Mapped[int] = mapped_column(default=45)
    valid_from: Mapped[date] = mapped_column()
    valid_until: Mapped[date | None] = mapped_column()


class AvailabilityException(db.Model):
    """A date that differs from the weekly rules: time off, or an extra block."""

    __tablename__ = "availability_exception"
    __table_args__ = (
        CheckConstraint("kind IN ('unavailable', 'extra')", name="kind"),
        CheckConstraint(
            "(starts IS NULL AND ends IS NULL AND kind = 'unavailable') "
            "OR (starts IS NOT NULL AND ends IS NOT NULL AND ends > starts)",
            name="period",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    day: Mapped[date] = mapped_column()
    kind: Mapped[str] = mapped_column(String(12))
    # Both empty: the whole day (only for 'unavailable').
    starts: Mapped[time | None] = mapped_column()
    ends: Mapped[time | None] = mapped_column()
    slot_minutes: Mapped[int] = mapped_column(default=45)
    note: Mapped[str | None] = mapped_column(String(200))


class Booking(db.Model):
    """A follow-up session of a conversation's anonymous client with a therapist."""

    __tablename__ = "booking"
    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'cancelled', 'rescheduled', 'held', 'no_show', 'referred')",
            name="status",
        ),
        CheckConstraint("method IN ('phone', 'chat')", name="method"),
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        # No double booking: one holding booking per therapist and start, by the database.
        Index(
            "uq_booking_therapist_start_holding",
            "therapist_id",
            "starts_at",
            unique=True,
            sqlite_where=text("status IN ('booked', 'held', 'no_show', 'referred')"),
            postgresql_where=text("status IN ('booked', 'held', 'no_show', 'referred')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    method: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="booked")
    # The counsellor chose to let the therapist read the whole conversation.
    transcript_shared: Mapped[bool] = mapped_column(default=False)
    # For a phone session: the number to call, encrypted; erased once the session is over.
    sealed_number: Mapped[str | None] = mapped_column(Text)
    # For a chat session: keyed hash of the code the client opens the chat with.
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    chat_conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id"))
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # History: the booking this one replaced, and why a booking ended without a session.
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    outcome_at: Mapped[datetime | None] = mapped_column()
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    outcome_note: Mapped[str | None] = mapped_column(String(500))

    therapist: Mapped[StaffUser] = relationship(foreign_keys=[therapist_id])
    conversation: Mapped[Conversation] = relationship(foreign_keys=[conversation_id])
    client: Mapped[Client | None] = relationship()
