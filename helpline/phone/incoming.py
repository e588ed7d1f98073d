"""An incoming call: into the queue when someone can answer, otherwise the menu."""

import re
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from helpline.abuse import service as abuse
from helpline.encryption import seal
from helpline.extensions import db
from helpline.inbox import find, intake
from helpline.inbox.models import Conversation, Service
from helpline.phone import inbox as phone_inbox
from helpline.phone import twiml
from helpline.phone.calls import caller_hung_up, find_call, find_line, move_stage
from helpline.phone.inbox import record, staff_available_for_calls
from helpline.phone.models import STATUS_RANK, PhoneCall, PhoneLine
from helpline.timeutil import utcnow

# What a caller ID says when the number is withheld ("anonymous" typed on a keypad, etc.).
WITHHELD = {
    "",
    "anonymous",
    "restricted",
    "unknown",
    "private",
    "unavailable",
    "+266696687",
    "+7378742833",
    "+2562533",
    "+8656696",
    "+86282452253",
}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# Built once: the webhooks run these on every call.
_service_by_number = select(Service).where(Service.phone_number == bindparam("number"))
_insert_line = insert(PhoneLine.__table__)
_insert_leg = insert(PhoneCall.__table__)


def is_withheld(number: str) -> bool:
    """True when the caller ID is withheld or not a callable number."""
    text = number.strip()
    return text.lower() in WITHHELD or not E164.match(text)


def mask(number: str) -> str:
    """Only the last two digits: enough to say 'the number ending in 78'."""
    return "…" + number[-2:]


def incoming_call(call_sid: str, caller: str, called: str, now: datetime | None = None) -> str:
    """A call comes in: queue it if someone can answer, otherwise offer voicemail or callback."""
    now = now or utcnow()
    existing = find_call(call_sid)
    if existing is not None:
        return _replay(existing)
    service = db.session.scalar(_service_by_number, {"number": called})
    if service is None:
        return twiml.goodbye(twiml.UNKNOWN_NUMBER)
    withheld = is_withheld(caller)
    open_now = find.within_hours(service, now)
    available = open_now and staff_available_for_calls(service.id)
    client = intake.new_client() if withheld else intake.client_for_phone(caller)
    if not withheld and abuse.client_blocked(client.id):
        db.session.rollback()  # a kept-out call leaves nothing behind
        return twiml.goodbye(twiml.KEPT_OUT)

    try:
        posted = intake.open_conversation(
            service,
            "phone",
            client,
            call_sid,
            "",
            now,
            event=("call_started", phone_inbox.text("call_started")),
            attach=_attach_call(call_sid, caller, withheld, available, now),
        )
    except IntegrityError:
        # The same call reported twice at once: the first request's conversation stands.
        db.session.rollback()
        existing = find_call(call_sid)
        if existing is None:
            raise
        return _replay(existing)
    if not posted.created:
        return _replay(find_call(call_sid))
    if available:
        return twiml.enqueue(service)
    return twiml.menu(service, closed=not open_now, withheld=withheld)


def keep_waiting(call_sid: str, queue_time: int) -> str:
    """Twilio asks what to play while the caller waits; after too long, go to the menu."""
    call = find_call(call_sid)
    if call is None:
        return twiml.waiting(first=False, leave=True)
    conversation = call.conversation
    limit = current_app.config["PHONE_QUEUE_WAIT_SECONDS"]
    leave = conversation.state == "queued" and (
        queue_time >= limit or not staff_available_for_calls(conversation.service_id)
    )
    db.session.rollback()
    return twiml.waiting(first=queue_time < 5, leave=leave)


def left_queue(call_sid: str, result: str, now: datetime | None = None) -> str:
    """The caller left the queue: hung up, was put through, or waited too long (the menu)."""
    call = find_call(call_sid)
    if call is None:
        return twiml.empty()
    if result == "hangup":
        caller_hung_up(call, now)
        return twiml.empty()
    if result in ("leave", "queue-full", "error", "system-shutdown"):
        line = find_line(call.conversation_id)
        if call.conversation.state != "queued":
            return twiml.empty()
        move_stage(line, ("ringing",), "menu")
        service = call.conversation.service
        return twiml.menu(service, closed=not find.within_hours(service), withheld=line.withheld)
    return twiml.empty()


def menu_choice(call_sid: str, digits: str) -> str:
    """1: leave a voicemail; 2: ask to be called back (not with a withheld number)."""
    call = find_call(call_sid)
    if call is None:
        return twiml.goodbye()
    line = find_line(call.conversation_id)
    service = call.conversation.service
    closed = not find.within_hours(service)
    if digits == "1":
        move_stage(line, ("menu", "ringing"), "recording")
        return twiml.record()
    if digits == "2" and not line.withheld:
        if move_stage(line, ("menu", "ringing", "recording"), "callback_requested"):
            record(call.conversation_id, "callback_requested")
        return twiml.goodbye(twiml.CALLBACK)
    db.session.rollback()
    prompt = None if digits == "2" else twiml.UNKNOWN_CHOICE
    return twiml.menu(service, closed=closed, withheld=line.withheld, prompt=prompt)


def _replay(call: PhoneCall) -> str:
    """The answer to a repeated incoming-call webhook: what the caller's stage calls for."""
    line = find_line(call.conversation_id)
    service = call.conversation.service
    db.session.rollback()
    if line.stage == "ringing":
        return twiml.enqueue(service)
    if line.stage == "menu":
        return twiml.menu(service, closed=not find.within_hours(service), withheld=line.withheld)
    return twiml.empty()


def _attach_call(
    call_sid: str, caller: str, withheld: bool, available: bool, now: datetime
) -> Callable[[Conversation], None]:
    """The caller's line and call leg, written with the conversation they open."""

    def attach(conversation: Conversation) -> None:
        # Core INSERTs: nothing on this path needs them as objects.
        connection = db.session.connection()
        line = {
            "conversation_id": conversation.id,
            "stage": "ringing" if available else "menu",
            "withheld": withheld,
            "masked_number": None if withheld else mask(caller),
            "sealed_number": None if withheld else seal(caller),
        }
        connection.execute(_insert_line, line)
        call = {
            "call_sid": call_sid,
            "conversation_id": conversation.id,
            "direction": "inbound",
            "leg": "caller",
            "status": "ringing",
            "status_rank": STATUS_RANK["ringing"],
            "created_at": now,
        }
        connection.execute(_insert_leg, call)

    return attach
