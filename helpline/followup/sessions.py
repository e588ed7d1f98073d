"""At and after a session: the therapist's agenda, the call or booked chat, the transcript,
and what became of the session."""

from datetime import datetime, timedelta

from sqlalchemy import select

from helpline.auth.models import StaffUser
from helpline.codes import normalise
from helpline.encryption import unseal
from helpline.extensions import db
from helpline.followup import timeline
from helpline.followup.bookings import by_id, code_hash, describe
from helpline.followup.errors import NoNumber, UnknownBookingCode
from helpline.followup.models import OUTCOMES, Booking
from helpline.inbox import audit, categories, find, intake
from helpline.inbox.errors import InvalidState
from helpline.inbox.models import Conversation, Message
from helpline.inbox.permissions import can, require
from helpline.phone import callbacks
from helpline.timeutil import to_local, utcnow

# How early a booked chat can be opened.
CHAT_OPENS_BEFORE = timedelta(minutes=15)
# A therapist can call from a little before the session until well after its start.
CALL_WINDOW = (timedelta(minutes=30), timedelta(hours=2))
OUTCOME_WORDS = {
    "held": "held",
    "no_show": "the client did not show up",
    "cancelled": "cancelled",
    "referred": "held, and referred into treatment",
}


def agenda(user: StaffUser, *, past_days: int = 14, now: datetime | None = None) -> list[dict]:
    """A therapist's sessions with only what they need: categories and the summary."""
    now = now or utcnow()
    require(user, "view_agenda")
    query = (
        select(Booking)
        .where(Booking.starts_at >= now - timedelta(days=past_days))
        .order_by(Booking.starts_at, Booking.id)
    )
    if not can(user, "view_all_sessions"):
        query = query.where(Booking.therapist_id == user.id)
    bookings = list(db.session.scalars(query))
    tagged = categories.names_of([b.conversation_id for b in bookings])
    audit.audit_reads(user, "followup.agenda", [b.conversation_id for b in bookings])
    return [
        {
            "booking": b,
            "when": to_local(b.starts_at),
            "until": to_local(b.ends_at),
            "categories": [c["name"] for c in tagged.get(b.conversation_id, [])],
            "summary": b.conversation.summary,
            "service": b.conversation.service.name,
            "can_call": b.method == "phone" and b.status == "booked" and bool(b.sealed_number),
        }
        for b in bookings
    ]


def transcript(booking_id: int, user: StaffUser) -> list[Message]:
    """The conversation's words, for the session's therapist only if the counsellor shared them."""
    booking = by_id(booking_id)
    require(user, "read_transcript", booking)
    audit.audit(user, "followup.transcript", booking.conversation)
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.conversation_id == booking.conversation_id, Message.kind != "note")
            .order_by(Message.seq)
        )
    )


def call_client(booking_id: int, user: StaffUser, now: datetime | None = None):
    """The therapist calls the client at the session's time, through the phone line."""
    now = now or utcnow()
    booking = by_id(booking_id)
    require(user, "call_client", booking)
    if booking.method != "phone" or booking.status != "booked":
        raise InvalidState("This session is not a booked phone session.")
    before, after = CALL_WINDOW
    if now < booking.starts_at - before:
        raise InvalidState("The client can be called from 30 minutes before the session.")
    if now > booking.starts_at + after:
        raise InvalidState("The session was more than two hours ago; book a new one.")
    number = unseal(booking.sealed_number) if booking.sealed_number else None
    if number is None:
        raise NoNumber("The number for this session can no longer be read.")
    return callbacks.dial_back(booking.conversation, user, number, now)


def open_booked_chat(code: str, now: datetime | None = None) -> tuple[Conversation, str]:
    """The client opens their booked chat session with its code; the therapist has it at once.
    Returns the chat and the token the client holds to write in it (the same for the same code).
    """
    now = now or utcnow()
    token = find.chat_token(f"booking:{normalise(code)}")
    digest = code_hash(normalise(code))
    booking = db.session.scalar(select(Booking).where(Booking.code_hash == digest))
    if (
        booking is None
        or booking.status != "booked"
        or booking.method != "chat"
        or not booking.starts_at - CHAT_OPENS_BEFORE <= now <= booking.ends_at
    ):
        db.session.rollback()
        raise UnknownBookingCode()
    if booking.chat_conversation_id is not None:
        chat = db.session.get(Conversation, booking.chat_conversation_id)
        if chat.state not in ("queued", "active"):
            raise UnknownBookingCode("This session has ended.")
        return chat, token
    origin = booking.conversation
    client = origin.client or intake.new_client()
    therapist = booking.therapist
    booking_id = booking.id

    def attach(conversation: Conversation) -> None:
        db.session.get(Booking, booking_id).chat_conversation_id = conversation.id

    posted = intake.open_conversation(
        origin.service,
        "chat",
        client,
        f"booking-{booking_id}",
        "",
        now,
        event=(
            "followup_chat",
            timeline.BOOKING_TEXT["followup_chat"].format(therapist=therapist.display_name),
        ),
        attach=attach,
        assign_to=therapist,
        token=token,
    )
    return posted.conversation, token


def record_outcome(
    booking_id: int,
    user: StaffUser,
    outcome: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Booking:
    """The therapist records how the session went: held, no-show, cancelled, or referred."""
    now = now or utcnow()
    booking = by_id(booking_id)
    require(user, "record_outcome", booking)
    if outcome not in OUTCOMES:
        raise InvalidState("Unknown outcome.")
    if booking.status in ("cancelled", "rescheduled") and outcome != booking.status:
        raise InvalidState("This session was cancelled or moved; it has no outcome.")
    if outcome in ("held", "no_show", "referred") and booking.starts_at > now:
        raise InvalidState("A session that has not started yet cannot have taken place.")
    booking.status = outcome
    booking.outcome_at = now
    booking.outcome_by_id = user.id
    booking.outcome_note = (note or "").strip() or None
    booking.sealed_number = None
    booking.code_hash = None
    if outcome == "cancelled":
        booking.cancelled_at = booking.cancelled_at or now
    timeline.record(
        booking.conversation_id,
        "followup_outcome",
        user,
        now,
        audit_action="followup.outcome",
        when=describe(booking.starts_at),
        outcome=OUTCOME_WORDS[outcome],
    )
    return booking
