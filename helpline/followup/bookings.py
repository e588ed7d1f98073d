"""Booking a follow-up session for a conversation's client, moving it, and cancelling it.

Bookings hold a slot through a partial unique index on (therapist, start): two counsellors
booking the same slot at once cannot both succeed, whatever the application does. A moved or
cancelled booking stays as history.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpline.auth.models import StaffUser
from helpline.codes import ALPHABET, keyed_hash
from helpline.encryption import seal
from helpline.extensions import db
from helpline.followup import timeline
from helpline.followup.errors import NoNumber, SlotTaken
from helpline.followup.models import METHODS, Booking
from helpline.followup.therapists import check_slot
from helpline.inbox import audit, find
from helpline.inbox.errors import InvalidInput, InvalidState, NotFound
from helpline.inbox.models import Conversation
from helpline.inbox.permissions import require
from helpline.phone.incoming import is_withheld
from helpline.phone.models import PhoneLine
from helpline.timeutil import to_local, utcnow

CODE_LENGTH = 8
HOLDING_INDEX = "uq_booking_therapist_start_holding"


@dataclass
class Booked:
    """A new booking, and for a chat session the code the client opens it with (shown once)."""

    booking: Booking
    code: str | None


def book(
    conversation_id: int,
    user: StaffUser,
    therapist_id: int,
    starts_at: datetime,
    method: str,
    *,
    share_transcript: bool = False,
    number: str | None = None,
    now: datetime | None = None,
) -> Booked:
    """Book a follow-up session for the conversation's anonymous client."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    require(user, "book_followup", conversation)
    if method not in METHODS:
        raise InvalidInput("Choose phone or chat.")
    if conversation.state == "closed":
        raise InvalidState("The conversation is closed; book during the conversation or wrap-up.")
    slot = check_slot(therapist_id, starts_at, now)
    sealed = _sealed_number(conversation, number) if method == "phone" else None
    code = _new_code() if method == "chat" else None
    booking = Booking(
        therapist_id=therapist_id,
        conversation_id=conversation.id,
        client_id=conversation.client_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        method=method,
        transcript_shared=share_transcript,
        sealed_number=sealed,
        code_hash=code_hash(code) if code else None,
        booked_by_id=user.id,
        booked_at=now,
    )
    therapist = db.session.get(StaffUser, therapist_id)
    db.session.add(booking)
    _commit_holding(
        lambda: timeline.record(
            conversation.id,
            "followup_booked",
            user,
            now,
            audit_action="followup.book",
            therapist=therapist.display_name,
            when=describe(slot.starts_at),
        )
    )
    return Booked(booking, code)


def reschedule(
    booking_id: int,
    user: StaffUser,
    starts_at: datetime,
    therapist_id: int | None = None,
    now: datetime | None = None,
) -> Booking:
    """Move a session to another free time (or therapist); the old booking stays as history."""
    now = now or utcnow()
    old = by_id(booking_id)
    require(user, "reschedule_followup", old)
    if old.status != "booked":
        raise InvalidState("Only a booked session can be moved.")
    therapist_id = therapist_id or old.therapist_id
    slot = check_slot(therapist_id, starts_at, now)
    old.status = "rescheduled"
    code_hash, old.code_hash = old.code_hash, None
    sealed, old.sealed_number = old.sealed_number, None
    db.session.flush()
    new = Booking(
        therapist_id=therapist_id,
        conversation_id=old.conversation_id,
        client_id=old.client_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        method=old.method,
        transcript_shared=old.transcript_shared,
        sealed_number=sealed,
        code_hash=code_hash,
        booked_by_id=user.id,
        booked_at=now,
        rescheduled_from_id=old.id,
    )
    db.session.add(new)
    therapist = db.session.get(StaffUser, therapist_id)
    _commit_holding(
        lambda: timeline.record(
            old.conversation_id,
            "followup_rescheduled",
            user,
            now,
            audit_action="followup.reschedule",
            therapist=therapist.display_name,
            when=describe(slot.starts_at),
        )
    )
    return new


def cancel(
    booking_id: int, user: StaffUser, reason: str | None = None, now: datetime | None = None
) -> Booking:
    """Cancel a session before it takes place; the slot is free again, the booking stays."""
    now = now or utcnow()
    booking = by_id(booking_id)
    require(user, "cancel_followup", booking)
    if booking.status != "booked":
        raise InvalidState("Only a booked session can be cancelled.")
    if booking.ends_at <= now:
        raise InvalidState("The session is over; record what became of it instead.")
    booking.status = "cancelled"
    booking.cancelled_at = now
    booking.cancel_reason = (reason or "").strip() or None
    booking.sealed_number = None
    booking.code_hash = None
    timeline.record(
        booking.conversation_id,
        "followup_cancelled",
        user,
        now,
        audit_action="followup.cancel",
        when=describe(booking.starts_at),
    )
    return booking


def bookings_of(conversation_id: int) -> list[Booking]:
    """Every booking of a conversation, history included, oldest first."""
    return list(
        db.session.scalars(
            select(Booking).where(Booking.conversation_id == conversation_id).order_by(Booking.id)
        )
    )


def booking_page(conversation_id: int, user: StaffUser) -> dict:
    """What the booking page shows of a conversation: its bookings, and whether a number is on
    file (never the number itself)."""
    conversation = find.by_id(conversation_id)
    require(user, "book_followup", conversation)
    audit.audit(user, "followup.bookings", conversation)
    line = db.session.scalar(select(PhoneLine).where(PhoneLine.conversation_id == conversation.id))
    return {
        "conversation": conversation,
        "bookings": bookings_of(conversation.id),
        "has_number": line is not None and bool(line.sealed_number),
    }


def booking_for(booking_id: int, user: StaffUser, action: str) -> Booking:
    """A booking `user` may act on ('reschedule_followup', 'cancel_followup', 'record_outcome')."""
    booking = by_id(booking_id)
    require(user, action, booking)
    return booking


def describe(moment_utc: datetime) -> str:
    """A session time as staff read it: 'Mon 30 Mar 2026 10:00' (local time)."""
    return to_local(moment_utc).strftime("%a %d %b %Y %H:%M")


def by_id(booking_id: int) -> Booking:
    """The booking with this id, or NotFound."""
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("That session does not exist.")
    return booking


def code_hash(code: str) -> str:
    """What is stored of a chat session's code: a keyed hash, never the code."""
    return keyed_hash("booking", code)


def _commit_holding(commit) -> None:
    """Commit a booking; the database refuses a second holder of the same slot."""
    try:
        commit()
    except IntegrityError as error:
        db.session.rollback()
        text = str(error.orig)
        # PostgreSQL names the index; SQLite names its columns.
        if HOLDING_INDEX in text or "booking.therapist_id, booking.starts_at" in text:
            raise SlotTaken() from error
        raise


def _sealed_number(conversation: Conversation, number: str | None) -> str:
    if number:
        if is_withheld(number):
            raise NoNumber("Write the number in international form, e.g. +31612345678.")
        return seal(number)
    line = db.session.scalar(select(PhoneLine).where(PhoneLine.conversation_id == conversation.id))
    if line is not None and line.sealed_number:
        return line.sealed_number
    raise NoNumber()


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
