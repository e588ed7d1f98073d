"""Follow-up sessions: therapists' availability, booking without double booking, outcomes.

Availability is written in local wall-clock time and cut into slots per day, so a weekly
"Monday 10:00" is 09:00 UTC in winter and 08:00 UTC in summer. Bookings hold a slot through a
partial unique index on (therapist, start): two counsellors booking the same slot at once
cannot both succeed, whatever the application does.
"""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from helpline.auth.models import StaffUser
from helpline.codes import ALPHABET, keyed_hash, normalise
from helpline.encryption import seal, unseal
from helpline.extensions import db
from helpline.followup.models import (
    HOLDING,
    METHODS,
    OUTCOMES,
    AvailabilityException,
    AvailabilityRule,
    Booking,
)
from helpline.inbox import audit, categories, find, intake, messages
from helpline.inbox.errors import InboxError, InvalidInput, InvalidState, NotFound
from helpline.inbox.models import Conversation, Message
from helpline.inbox.permissions import can, require
from helpline.phone import service as phone
from helpline.phone.models import PhoneLine
from helpline.timeutil import local_today, to_local, to_utc, utcnow

CODE_LENGTH = 8
HOLDING_INDEX = "uq_booking_therapist_start_holding"
# How far ahead counsellors can book, and how early a booked chat can be opened.
HORIZON_DAYS = 42
CHAT_OPENS_BEFORE = timedelta(minutes=15)
# A therapist can call from a little before the session until well after its start.
CALL_WINDOW = (timedelta(minutes=30), timedelta(hours=2))
OUTCOME_WORDS = {
    "held": "held",
    "no_show": "the client did not show up",
    "cancelled": "cancelled",
    "referred": "held, and referred into treatment",
}


class SlotTaken(InboxError):
    code = "slot_taken"
    default_message = "That time has just been booked; choose another."


class OutsideAvailability(InboxError):
    code = "outside_availability"
    status = 422
    default_message = "The therapist is not available at that time."


class SlotInPast(InboxError):
    code = "slot_in_past"
    status = 422
    default_message = "That time has passed; choose a time in the future."


class NoNumber(InboxError):
    code = "no_number"
    status = 422
    default_message = "There is no number to call: enter the number the client gave."


class UnknownBookingCode(InboxError):
    code = "unknown_code"
    status = 422
    default_message = "We do not know this code, or the session is not now."


@dataclass(frozen=True)
class Slot:
    """A free session time of one therapist, in UTC."""

    therapist_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass
class Booked:
    """A new booking, and for a chat session the code the client opens it with (shown once)."""

    booking: Booking
    code: str | None


# --- therapists and availability ---------------------------------------------------------------


def therapists() -> list[StaffUser]:
    """Active therapists, by name."""
    return list(
        db.session.scalars(
            select(StaffUser)
            .where(StaffUser.role == "therapist", StaffUser.active.is_(True))
            .order_by(StaffUser.display_name)
        )
    )


def add_rule(
    user: StaffUser,
    therapist_id: int,
    weekday: int,
    starts: time,
    ends: time,
    slot_minutes: int = 45,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> AvailabilityRule:
    """A weekly block of sessions, e.g. Mondays 10:00-12:00 in slots of 45 minutes."""
    therapist = _therapist_managed_by(user, therapist_id)
    if ends <= starts:
        raise InvalidState("The block must end after it starts.")
    if valid_until is not None and valid_from is not None and valid_until < valid_from:
        raise InvalidState("The last day must not be before the first.")
    rule = AvailabilityRule(
        therapist_id=therapist.id,
        weekday=weekday,
        starts=starts,
        ends=ends,
        slot_minutes=slot_minutes,
        valid_from=valid_from or local_today(),
        valid_until=valid_until,
    )
    db.session.add(rule)
    audit.audit_change(user, "availability.add_rule", {"therapist": therapist.id})
    return rule


def remove_rule(user: StaffUser, rule_id: int) -> None:
    """Stop a weekly block; booked sessions in it stay booked."""
    _remove(user, AvailabilityRule, rule_id, "That block does not exist.", "remove_rule")


def _remove(
    user: StaffUser,
    model: type[AvailabilityRule] | type[AvailabilityException],
    row_id: int,
    missing: str,
    action: str,
) -> None:
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(missing)
    _therapist_managed_by(user, row.therapist_id)
    db.session.delete(row)
    audit.audit_change(user, f"availability.{action}", {"therapist": row.therapist_id})


def add_exception(
    user: StaffUser,
    therapist_id: int,
    day: date,
    kind: str,
    starts: time | None = None,
    ends: time | None = None,
    slot_minutes: int = 45,
    note: str | None = None,
) -> AvailabilityException:
    """A day off (whole day or a period), or an extra block on one day."""
    therapist = _therapist_managed_by(user, therapist_id)
    if (starts is None) != (ends is None):
        raise InvalidState("Give both a start and an end, or neither for the whole day.")
    if kind == "extra" and starts is None:
        raise InvalidState("An extra block needs a start and an end.")
    if starts is not None and ends <= starts:
        raise InvalidState("The period must end after it starts.")
    exception = AvailabilityException(
        therapist_id=therapist.id,
        day=day,
        kind=kind,
        starts=starts,
        ends=ends,
        slot_minutes=slot_minutes,
        note=(note or "").strip() or None,
    )
    db.session.add(exception)
    audit.audit_change(user, "availability.add_exception", {"therapist": therapist.id})
    return exception


def remove_exception(user: StaffUser, exception_id: int) -> None:
    """Take back a day off or an extra block."""
    missing = "That exception does not exist."
    _remove(user, AvailabilityException, exception_id, missing, "remove_exception")


def availability(therapist_id: int) -> dict:
    """A therapist's weekly blocks and exceptions (from today on)."""
    rules = db.session.scalars(
        select(AvailabilityRule)
        .where(
            AvailabilityRule.therapist_id == therapist_id,
            or_(
                AvailabilityRule.valid_until.is_(None),
                AvailabilityRule.valid_until >= local_today(),
            ),
        )
        .order_by(AvailabilityRule.weekday, AvailabilityRule.starts)
    )
    exceptions = db.session.scalars(
        select(AvailabilityException)
        .where(
            AvailabilityException.therapist_id == therapist_id,
            AvailabilityException.day >= local_today(),
        )
        .order_by(AvailabilityException.day, AvailabilityException.starts)
    )
    return {"rules": list(rules), "exceptions": list(exceptions)}


def free_slots(
    therapist_id: int | None = None,
    first_day: date | None = None,
    days: int = 14,
    now: datetime | None = None,
) -> list[Slot]:
    """Bookable session times from `first_day` (local) for `days` days, earliest first."""
    now = now or utcnow()
    first_day = first_day or to_local(now).date()
    last_day = first_day + timedelta(days=days - 1)
    people = [t.id for t in therapists()] if therapist_id is None else [therapist_id]
    if not people:
        return []
    taken = {
        (therapist, start)
        for therapist, start in db.session.execute(
            select(Booking.therapist_id, Booking.starts_at).where(
                Booking.therapist_id.in_(people),
                Booking.status.in_(HOLDING),
                Booking.starts_at >= to_utc(first_day, time(0)),
                Booking.starts_at < to_utc(last_day + timedelta(days=1), time(0)),
            )
        )
    }
    slots = [
        slot
        for slot in _offered(people, first_day, last_day)
        if slot.starts_at > now and (slot.therapist_id, slot.starts_at) not in taken
    ]
    return sorted(slots, key=lambda s: (s.starts_at, s.therapist_id))


# --- booking ----------------------------------------------------------------------------------


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
    slot = _check_slot(therapist_id, starts_at, now)
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
        code_hash=_code_hash(code) if code else None,
        booked_by_id=user.id,
        booked_at=now,
    )
    therapist = db.session.get(StaffUser, therapist_id)
    db.session.add(booking)
    _commit_holding(
        lambda: _record(
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
    old = _booking(booking_id)
    require(user, "reschedule_followup", old)
    if old.status != "booked":
        raise InvalidState("Only a booked session can be moved.")
    therapist_id = therapist_id or old.therapist_id
    slot = _check_slot(therapist_id, starts_at, now)
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
        lambda: _record(
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
    booking = _booking(booking_id)
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
    _record(
        booking.conversation_id,
        "followup_cancelled",
        user,
        now,
        audit_action="followup.cancel",
        when=describe(booking.starts_at),
    )
    return booking


def record_outcome(
    booking_id: int,
    user: StaffUser,
    outcome: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Booking:
    """The therapist records how the session went: held, no-show, cancelled, or referred."""
    now = now or utcnow()
    booking = _booking(booking_id)
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
    _record(
        booking.conversation_id,
        "followup_outcome",
        user,
        now,
        audit_action="followup.outcome",
        when=describe(booking.starts_at),
        outcome=OUTCOME_WORDS[outcome],
    )
    return booking


def call_client(booking_id: int, user: StaffUser, now: datetime | None = None):
    """The therapist calls the client at the session's time, through the phone line."""
    now = now or utcnow()
    booking = _booking(booking_id)
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
    return phone.dial_back(booking.conversation, user, number, now)


def open_booked_chat(code: str, now: datetime | None = None) -> tuple[Conversation, str]:
    """The client opens their booked chat session with its code; the therapist has it at once.
    Returns the chat and the token the client holds to write in it (the same for the same code).
    """
    now = now or utcnow()
    token = find.chat_token(f"booking:{normalise(code)}")
    digest = _code_hash(normalise(code))
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
            BOOKING_TEXT["followup_chat"].format(therapist=therapist.display_name),
        ),
        attach=attach,
        assign_to=therapist,
        token=token,
    )
    return posted.conversation, token


# --- what therapists see -----------------------------------------------------------------------


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
    booking = _booking(booking_id)
    require(user, "read_transcript", booking)
    audit.audit(user, "followup.transcript", booking.conversation)
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.conversation_id == booking.conversation_id, Message.kind != "note")
            .order_by(Message.seq)
        )
    )


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
    booking = _booking(booking_id)
    require(user, action, booking)
    return booking


def therapist_managed_by(user: StaffUser, therapist_id: int) -> StaffUser:
    """The therapist whose availability `user` may see and change (themself, or as a lead)."""
    return _therapist_managed_by(user, therapist_id)


# --- the therapist's calendar feed -------------------------------------------------------------


def rotate_calendar_token(user: StaffUser) -> str:
    """A new secret address for the therapist's calendar feed; the old one stops working."""
    require(user, "keep_calendar")
    token = secrets.token_urlsafe(32)
    user.calendar_token_hash = _calendar_hash(token)
    audit.audit_change(user, "followup.calendar_rotate", {"therapist": user.id})
    return token


def calendar_owner(token: str) -> StaffUser | None:
    """The active therapist whose feed this secret opens, or None."""
    return db.session.scalar(
        select(StaffUser).where(
            StaffUser.calendar_token_hash == _calendar_hash(token),
            StaffUser.role == "therapist",
            StaffUser.active.is_(True),
        )
    )


def calendar_sessions(
    therapist: StaffUser, past_days: int = 30, now: datetime | None = None
) -> list[Booking]:
    """A therapist's sessions for the feed: times, method and status, nothing of the client."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.therapist_id == therapist.id,
                Booking.starts_at >= now - timedelta(days=past_days),
            )
            .order_by(Booking.starts_at, Booking.id)
        )
    )


def describe(moment_utc: datetime) -> str:
    """A session time as staff read it: 'Mon 30 Mar 2026 10:00' (local time)."""
    return to_local(moment_utc).strftime("%a %d %b %Y %H:%M")


# --- internals ---------------------------------------------------------------------------------


def _offered(people: list[int], first_day: date, last_day: date) -> list[Slot]:
    rules = list(
        db.session.scalars(
            select(AvailabilityRule).where(
                AvailabilityRule.therapist_id.in_(people),
                AvailabilityRule.valid_from <= last_day,
                or_(
                    AvailabilityRule.valid_until.is_(None),
                    AvailabilityRule.valid_until >= first_day,
                ),
            )
        )
    )
    exceptions = list(
        db.session.scalars(
            select(AvailabilityException).where(
                AvailabilityException.therapist_id.in_(people),
                AvailabilityException.day.between(first_day, last_day),
            )
        )
    )
    slots = []
    day = first_day
    while day <= last_day:
        for therapist_id in people:
            blocks = [
                (r.starts, r.ends, r.slot_minutes)
                for r in rules
                if r.therapist_id == therapist_id
                and r.weekday == day.weekday()
                and r.valid_from <= day
                and (r.valid_until is None or day <= r.valid_until)
            ]
            todays = [e for e in exceptions if e.therapist_id == therapist_id and e.day == day]
            blocks += [(e.starts, e.ends, e.slot_minutes) for e in todays if e.kind == "extra"]
            off = [e for e in todays if e.kind == "unavailable"]
            for starts, ends, minutes in blocks:
                for start_local, end_local in _cut(day, starts, ends, minutes):
                    if any(_overlaps(e, start_local, end_local) for e in off):
                        continue
                    slots.append(
                        Slot(
                            therapist_id,
                            to_utc(day, start_local.time()),
                            to_utc(end_local.date(), end_local.time()),
                        )
                    )
        day += timedelta(days=1)
    return list(dict.fromkeys(slots))


def _cut(day: date, starts: time, ends: time, minutes: int):
    start = datetime.combine(day, starts)
    end = datetime.combine(day, ends)
    step = timedelta(minutes=minutes)
    while start + step <= end:
        yield start, start + step
        start += step


def _overlaps(exception: AvailabilityException, start: datetime, end: datetime) -> bool:
    if exception.starts is None:
        return True
    off_start = datetime.combine(exception.day, exception.starts)
    off_end = datetime.combine(exception.day, exception.ends)
    return start < off_end and off_start < end


def _check_slot(therapist_id: int, starts_at: datetime, now: datetime) -> Slot:
    if _therapist(therapist_id, active=True) is None:
        raise NotFound("That therapist does not exist.")
    if starts_at <= now:
        raise SlotInPast()
    if starts_at > now + timedelta(days=HORIZON_DAYS):
        raise OutsideAvailability(f"Sessions can be booked up to {HORIZON_DAYS} days ahead.")
    day = to_local(starts_at).date()
    offered = [s for s in _offered([therapist_id], day, day) if s.starts_at == starts_at]
    if not offered:
        raise OutsideAvailability()
    taken = db.session.scalar(
        select(Booking.id).where(
            Booking.therapist_id == therapist_id,
            Booking.starts_at == starts_at,
            Booking.status.in_(HOLDING),
        )
    )
    if taken is not None:
        raise SlotTaken()
    return offered[0]


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
        if phone.is_withheld(number):
            raise NoNumber("Write the number in international form, e.g. +31612345678.")
        return seal(number)
    line = db.session.scalar(select(PhoneLine).where(PhoneLine.conversation_id == conversation.id))
    if line is not None and line.sealed_number:
        return line.sealed_number
    raise NoNumber()


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def _code_hash(code: str) -> str:
    return keyed_hash("booking", code)


def _calendar_hash(token: str) -> str:
    return keyed_hash("calendar", token)


def _booking(booking_id: int) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("That session does not exist.")
    return booking


def _therapist(therapist_id: int, *, active: bool = False) -> StaffUser | None:
    """The staff member with this id if they are a therapist (and active, if asked)."""
    query = select(StaffUser).where(StaffUser.id == therapist_id, StaffUser.role == "therapist")
    if active:
        query = query.where(StaffUser.active.is_(True))
    return db.session.scalar(query)


def _therapist_managed_by(user: StaffUser, therapist_id: int) -> StaffUser:
    therapist = _therapist(therapist_id)
    if therapist is None:
        raise NotFound("That therapist does not exist.")
    require(user, "manage_availability", therapist)
    return therapist


BOOKING_TEXT = {
    "followup_booked": "{name} booked a follow-up session with {therapist} on {when}.",
    "followup_rescheduled": "{name} moved the follow-up session with {therapist} to {when}.",
    "followup_cancelled": "{name} cancelled the follow-up session of {when}.",
    "followup_outcome": "Follow-up session of {when}: {outcome}.",
    "followup_chat": "The client opened the booked chat session with {therapist}.",
}


def _record(
    conversation_id: int,
    event: str,
    user: StaffUser,
    now: datetime,
    *,
    audit_action: str,
    **params: str,
) -> None:
    """Show what happened to a follow-up session in the conversation it was booked from."""
    said = BOOKING_TEXT[event].format(name=user.display_name, **params)
    messages.record_event(conversation_id, event, said, user, now, audit_action=audit_action)
