"""What the phone channel keeps beside its conversation: the caller's line and every call leg."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.models import Conversation
from helpline.timeutil import utcnow

# Where a phone conversation stands, as the inbox shows it.
STAGES = ("ringing", "menu", "recording", "connected", "voicemail", "callback_requested", "ended")

# Twilio's call statuses in the order a call goes through them; a late or repeated status
# callback never moves a call back.
STATUS_RANK = {
    "queued": 1,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "failed": 4,
    "no-answer": 4,
    "canceled": 4,
}
FINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")


class PhoneLine(db.Model):
    """The caller behind a phone conversation, and what they asked for."""

    __tablename__ = "phone_line"
    __table_args__ = (
        CheckConstraint(
            "stage IN ('ringing', 'menu', 'recording', 'connected', 'voicemail', "
            "'callback_requested', 'ended')",
            name="stage",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), unique=True)
    stage: Mapped[str] = mapped_column(String(20), default="ringing")
    # The caller's number withheld: they can be recognised and called back by nothing.
    withheld: Mapped[bool] = mapped_column(default=False)
    # At most the last two digits, for the counsellor to say "the number ending in 78".
    masked_number: Mapped[str | None] = mapped_column(String(20))
    # Fernet-encrypted number, only while a callback may be needed; erased at closing.
    sealed_number: Mapped[str | None] = mapped_column(Text)
    # A voicemail stays at Twilio: referenced here, played through the inbox, deletable.
    recording_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    recording_url: Mapped[str | None] = mapped_column(String(500))
    recording_seconds: Mapped[int | None] = mapped_column()
    recording_deleted_at: Mapped[datetime | None] = mapped_column()

    conversation: Mapped[Conversation] = relationship()


class PhoneCall(db.Model):
    """One leg of a call at Twilio: the caller's inbound call, or a leg of a callback."""

    __tablename__ = "phone_call"
    __table_args__ = (
        CheckConstraint("direction IN ('inbound', 'callback')", name="direction"),
        CheckConstraint("leg IN ('caller', 'staff')", name="leg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    # A callback rings the counsellor first; the caller's leg is its child call.
    parent_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10))
    leg: Mapped[str] = mapped_column(String(10), default="caller")
    status: Mapped[str] = mapped_column(String(20), default="ringing")
    status_rank: Mapped[int] = mapped_column(default=0)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    duration_seconds: Mapped[int | None] = mapped_column()
    # Of an inbound call: how long the caller talked with the counsellor.
    talk_seconds: Mapped[int | None] = mapped_column()

    conversation: Mapped[Conversation] = relationship()
    staff: Mapped[StaffUser | None] = relationship()
