"""The phone line's rules: a call becomes a conversation; Twilio's reports move it along.

Every webhook may arrive twice, late or out of order: each step is keyed by the CallSid and
changes a row only from the state it expects, so a repeat changes nothing.
"""

import functools
import re
from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import Row, Update, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from helpline.abuse import service as abuse
from helpline.auth.models import StaffUser
from helpline.encryption import seal, unseal
from helpline.extensions import db
from helpline.inbox import audit, find, intake, messages, signals
from helpline.inbox.errors import InboxError, InvalidState
from helpline.inbox.models import Conversation, Service
from helpline.inbox.permissions import require
from helpline.phone import inbox as phone_inbox
from helpline.phone import rest, twiml
from helpline.phone.inbox import NoPhone, caller_gone, record, requeue, staff_available_for_calls
from helpline.phone.models import FINAL_STATUSES, STATUS_RANK, PhoneCall, PhoneLine
from helpline.phone.signals import talk_ended
from helpline.timeutil import iso, utcnow

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
WAITING_STAGES = ("voicemail", "callback_requested", "recording")
# A live caller a counsellor can be put through to.
LIVE_STAGES = ("ringing", "menu")
# A callback whose end Twilio never reported (e.g. a wrong PUBLIC_URL) stops blocking the next.
CALLBACK_UNDER_WAY = timedelta(minutes=15)


class CannotCallBack(InboxError):
    code = "cannot_call_back"
    default_message = "This caller cannot be called back."


class CallNotConnected(InboxError):
    code = "call_not_connected"
    status = 502
    default_message = "The call could not be put through."


def is_withheld(number: str) -> bool:
    """True when the caller ID is withheld or not a callable number."""
    text = number.strip()
    return text.lower() in WITHHELD or not E164.match(text)


def mask(number: str) -> str:
    """Only the last two digits: enough to say 'the number ending in 78'."""
    return "…" + number[-2:]


def talk_time(seconds: int | None) -> str:
    """Seconds as m:ss for the inbox."""
    seconds = max(0, int(seconds or 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


# --- webhooks -----------------------------------------------------------------------------------


def incoming_call(call_sid: str, caller: str, called: str, now: datetime | None = None) -> str:
    """A call comes in: queue it if someone can answer, otherwise offer voicemail or callback."""
    now = now or utcnow()
    existing = _call(call_sid)
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

    try:
        posted = intake.open_conversation(
            service,
            "phone",
            client,
            call_sid,
            "",
            now,
            event=("call_started", phone_inbox.text("call_started")),
            attach=attach,
        )
    except IntegrityError:
        # The same call reported twice at once: the first request's conversation stands.
        db.session.rollback()
        existing = _call(call_sid)
        if existing is None:
            raise
        return _replay(existing)
    if not posted.created:
        return _replay(_call(call_sid))
    if available:
        return twiml.enqueue(service)
    return twiml.menu(service, closed=not open_now, withheld=withheld)


def keep_waiting(call_sid: str, queue_time: int) -> str:
    """Twilio asks what to play while the caller waits; after too long, go to the menu."""
    call = _call(call_sid)
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
    call = _call(call_sid)
    if call is None:
        return twiml.empty()
    if result == "hangup":
        _caller_hung_up(call, now)
        return twiml.empty()
    if result in ("leave", "queue-full", "error", "system-shutdown"):
        line = _line(call.conversation_id)
        if call.conversation.state != "queued":
            return twiml.empty()
        _move_stage(line, ("ringing",), "menu")
        service = call.conversation.service
        return twiml.menu(service, closed=not find.within_hours(service), withheld=line.withheld)
    return twiml.empty()


def menu_choice(call_sid: str, digits: str) -> str:
    """1: leave a voicemail; 2: ask to be called back (not with a withheld number)."""
    call = _call(call_sid)
    if call is None:
        return twiml.goodbye()
    line = _line(call.conversation_id)
    service = call.conversation.service
    closed = not find.within_hours(service)
    if digits == "1":
        _move_stage(line, ("menu", "ringing"), "recording")
        return twiml.record()
    if digits == "2" and not line.withheld:
        if _move_stage(line, ("menu", "ringing", "recording"), "callback_requested"):
            record(call.conversation_id, "callback_requested")
        return twiml.goodbye(twiml.CALLBACK)
    db.session.rollback()
    prompt = None if digits == "2" else twiml.UNKNOWN_CHOICE
    return twiml.menu(service, closed=closed, withheld=line.withheld, prompt=prompt)


def voicemail(call_sid: str, recording_sid: str | None, url: str | None, seconds: int) -> str:
    """The caller left a voicemail: it stays at Twilio and waits in the inbox, referenced."""
    call = _call(call_sid)
    if call is None or recording_sid is None or url is None or seconds < 1:
        if call is not None:
            line = _line(call.conversation_id)
            _move_stage(line, ("recording",), "menu")
            if call.status_rank >= STATUS_RANK["completed"]:
                # The caller hung up without a word and Twilio reported that first.
                _caller_hung_up(_call(call_sid), utcnow())
        return twiml.goodbye(twiml.NOT_RECORDED)
    line = _line(call.conversation_id)
    if line.recording_sid == recording_sid:
        db.session.rollback()
        return twiml.goodbye(twiml.RECORDED)
    stored = db.session.execute(
        update(PhoneLine)
        .where(PhoneLine.id == line.id, PhoneLine.recording_sid.is_(None))
        .values(
            recording_sid=recording_sid,
            recording_url=url,
            recording_seconds=seconds,
            stage="voicemail",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if stored:
        record(call.conversation_id, "voicemail", duration=talk_time(seconds))
    else:
        db.session.rollback()
    return twiml.goodbye(twiml.RECORDED)


def put_through_ended(
    call_sid: str, status: str, seconds: int | None, put_through_to: int | None
) -> str:
    """The counsellor's phone was rung: the talk is over, or it was not answered."""
    call = _call(call_sid)
    if call is None:
        return twiml.empty()
    conversation = call.conversation
    line = _line(conversation.id)
    if line.stage != "connected" or conversation.assignee_id != put_through_to:
        # A repeat, or a report about an earlier attempt: the call has moved on since.
        db.session.rollback()
        return (
            twiml.empty()
            if status in ("completed", "answered")
            else twiml.enqueue(conversation.service, greet=False)
        )
    if status in ("completed", "answered"):
        db.session.execute(
            update(PhoneCall)
            .where(PhoneCall.id == call.id)
            .values(talk_seconds=seconds or 0)
            .execution_options(synchronize_session=False)
        )
        _move_stage(line, ("connected",), "ended", commit=False)
        if caller_gone(conversation.id, duration=talk_time(seconds)) is None:
            db.session.commit()
        # Heard only by a caller still on the line: the counsellor hung up first.
        return _after_talk(conversation)
    if status == "canceled":
        # The caller hung up while the counsellor's phone rang: the status report ends it.
        db.session.rollback()
        return twiml.empty()
    # Not answered (or the line failed): back to the front of the queue; whoever did not
    # answer is off the line until they switch it on again.
    assignee_id = conversation.assignee_id
    if assignee_id is not None and status in ("no-answer", "busy"):
        db.session.execute(
            update(StaffUser)
            .where(StaffUser.id == assignee_id)
            .values(takes_calls=False)
            .execution_options(synchronize_session=False)
        )
    _move_stage(line, ("connected",), "ringing", commit=False)
    if requeue(conversation.id, "call_missed") is None:
        db.session.commit()
    return twiml.enqueue(conversation.service, greet=False)


def talk_over(call_sid: str) -> Conversation | None:
    """The conversation of a call whose talk with a counsellor has ended, or None."""
    call = _call(call_sid)
    if call is None:
        return None
    line = _line(call.conversation_id)
    if line is None or line.stage != "ended" or call.talk_seconds is None:
        return None
    return call.conversation


def call_status(
    call_sid: str,
    status: str,
    duration: int | None,
    parent_sid: str | None,
    now: datetime | None = None,
) -> None:
    """Twilio reports a call's progress; only a step forward changes anything."""
    now = now or utcnow()
    call = _call(call_sid) or _child_of_callback(call_sid, parent_sid, now)
    if call is None:
        db.session.rollback()
        return
    rank = STATUS_RANK[status]
    final = status in FINAL_STATUSES
    values: dict = {"status": status}
    # An inbound call is answered when put through (put_through); a callback leg when it is.
    answered = call.direction == "callback" and (
        status == "in-progress" or (status == "completed" and (duration or 0) > 0)
    )
    if final:
        values.update(ended_at=now, duration_seconds=duration)
    moved = (
        db.session.connection()
        .execute(
            _advance_call(final),
            {"call_id": call.id, "new_rank": rank} | {f"new_{n}": v for n, v in values.items()},
        )
        .rowcount
    )
    newly_answered = False
    if answered:
        newly_answered = bool(
            db.session.execute(
                update(PhoneCall)
                .where(PhoneCall.id == call.id, PhoneCall.answered_at.is_(None))
                .values(answered_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
        )
    if call.direction == "inbound" and final and moved:
        # The caller's call ended: its status and what that means, in one transaction.
        _caller_hung_up(call, now)
        return
    db.session.commit()
    if not moved and not newly_answered:
        return
    conversation_id = call.conversation_id
    if call.direction == "inbound":
        return
    if call.leg == "caller":
        if newly_answered:
            messages.add_contact_moment(
                conversation_id,
                "callback",
                now,
                event="callback_answered",
                text=phone_inbox.text("callback_answered"),
            )
        if final and moved:
            if status == "completed" and (duration or 0) > 0:
                record(conversation_id, "callback_ended", duration=talk_time(duration))
            else:
                record(conversation_id, "callback_failed", status=_said(status))
    elif final and moved and status != "completed":
        record(conversation_id, "callback_failed", status="your phone: " + _said(status))


# --- staff actions --------------------------------------------------------------------------------


def refuse_claim_without_phone(conversation: Conversation, user: StaffUser) -> None:
    """A live call can only be accepted by someone it can be put through to."""
    if conversation.channel != "phone":
        return
    line = _line(conversation.id)
    if line is None:
        return
    if line.stage == "recording":
        db.session.rollback()
        raise InvalidState("The caller is recording a voicemail; wait until they have finished.")
    if line.stage in LIVE_STAGES and not user.phone_endpoint:
        db.session.rollback()
        raise NoPhone()


def put_through(conversation: Conversation, user: StaffUser) -> None:
    """After a counsellor claimed a ringing call: connect the caller to their phone."""
    if conversation.channel != "phone":
        return
    line = _line(conversation.id)
    call = _inbound_call(conversation.id)
    if line is None or call is None or line.stage not in LIVE_STAGES or call.status_rank >= 4:
        db.session.rollback()
        return
    service_number = conversation.service.phone_number
    db.session.rollback()
    try:
        rest.redirect_call(
            call.call_sid, twiml.put_through(user.phone_endpoint, service_number, user.id)
        )
    except rest.PhoneUnavailable as error:
        requeue(conversation.id, "call_not_connected")
        raise CallNotConnected(str(error)) from error
    line = _line(conversation.id)
    _move_stage(line, LIVE_STAGES, "connected", commit=False)
    db.session.execute(
        update(PhoneCall)
        .where(PhoneCall.id == call.id)
        .values(staff_id=user.id, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    phone_inbox.show(conversation.id)


def call_back(conversation_id: int, user: StaffUser, now: datetime | None = None) -> PhoneCall:
    """Call back the caller of a phone conversation: the counsellor's phone rings first."""
    conversation = find.by_id(conversation_id)
    require(user, "call_back", conversation)
    if conversation.channel != "phone":
        raise InvalidState("Only a phone conversation can be called back.")
    line = _line(conversation.id)
    refusal = _callback_refusal(conversation, line)
    if refusal:
        raise CannotCallBack(refusal)
    number = unseal(line.sealed_number)
    if number is None:
        raise CannotCallBack("The caller's number can no longer be read.")
    return dial_back(conversation, user, number, now)


def dial_back(
    conversation: Conversation, user: StaffUser, number: str, now: datetime | None = None
) -> PhoneCall:
    """Ring `user`'s phone, then `number` from the service's number, for this conversation.

    Counts as a contact moment of the conversation once the person answers.
    """
    now = now or utcnow()
    if not user.phone_endpoint:
        raise NoPhone()
    service = conversation.service
    if not service.phone_number:
        raise CannotCallBack("This service has no phone number to call from.")
    legs = db.session.scalars(
        select(PhoneCall).where(
            PhoneCall.conversation_id == conversation.id, PhoneCall.direction == "callback"
        )
    )
    if any(_callback_under_way(leg, now) for leg in legs):
        raise InvalidState("A callback is already under way.")
    conversation_id = conversation.id
    endpoint = user.phone_endpoint
    # Where Twilio reaches this site; a socket event's own URL may be an internal one.
    status_url = current_app.config["PUBLIC_URL"] + url_for("phone.status")
    db.session.rollback()
    sid = rest.start_call(
        endpoint,
        service.phone_number,
        twiml.call_back(number, service.phone_number, status_url),
        status_url,
    )
    call = PhoneCall(
        call_sid=sid,
        conversation_id=conversation_id,
        direction="callback",
        leg="staff",
        status="queued",
        status_rank=STATUS_RANK["queued"],
        staff_id=user.id,
        created_at=now,
    )
    db.session.add(call)
    record(conversation_id, "callback_started", user, now, audit_action="phone.callback")
    return call


def delete_voicemail(conversation_id: int, user: StaffUser, now: datetime | None = None) -> None:
    """Delete the voicemail at Twilio and forget where it was."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    require(user, "delete_recording", conversation)
    line = _line(conversation_id)
    if line is None or line.recording_sid is None or line.recording_deleted_at is not None:
        raise InvalidState("There is no voicemail to delete.")
    recording_sid = line.recording_sid
    db.session.rollback()
    rest.delete_recording(recording_sid)
    db.session.execute(
        update(PhoneLine)
        .where(PhoneLine.conversation_id == conversation_id)
        .values(recording_url=None, recording_deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    record(conversation_id, "recording_deleted", user, now, audit_action="phone.recording.delete")


def voicemail_for_staff(conversation_id: int, user: StaffUser) -> PhoneLine:
    """The voicemail of a conversation, for playing in the inbox (audited)."""
    conversation = find.by_id(conversation_id)
    require(user, "listen_recording", conversation)
    line = _line(conversation_id)
    if line is None or line.recording_url is None:
        raise InvalidState("There is no voicemail to play.")
    audit.audit(user, "phone.recording.listen", conversation)
    return line


# --- what the inbox shows -----------------------------------------------------------------------


_lines = PhoneLine.__table__
_legs = PhoneCall.__table__
_details_statement = (
    select(
        _lines.c.conversation_id,
        _lines.c.stage,
        _lines.c.withheld,
        _lines.c.masked_number,
        _lines.c.sealed_number,
        _lines.c.recording_sid,
        _lines.c.recording_seconds,
        _lines.c.recording_deleted_at,
        _legs.c.id.label("call_id"),
        _legs.c.direction,
        _legs.c.leg,
        _legs.c.status_rank,
        _legs.c.created_at,
        _legs.c.talk_seconds,
        _legs.c.duration_seconds,
    )
    .select_from(_lines.outerjoin(_legs, _legs.c.conversation_id == _lines.c.conversation_id))
    .where(_lines.c.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(_legs.c.id)
)


def details(conversations: list[Conversation]) -> dict[int, dict]:
    """Phone details of the conversations in an inbox list: no number, only its last digits."""
    ids = [c.id for c in conversations if c.channel == "phone"]
    if not ids:
        return {}
    lines: dict[int, Row] = {}
    calls: dict[int, list[Row]] = {}
    # One Core query for both, the line and its call legs: read on every inbox-row update.
    for row in db.session.connection().execute(_details_statement, {"ids": ids}):
        lines[row.conversation_id] = row
        if row.call_id is not None:
            calls.setdefault(row.conversation_id, []).append(row)
    by_id = {c.id: c for c in conversations}
    shown = {}
    for conversation_id, line in lines.items():
        legs = calls.get(conversation_id, [])
        inbound = next((c for c in legs if c.direction == "inbound"), None)
        refusal = _callback_refusal(by_id[conversation_id], line)
        shown[conversation_id] = {
            "phone": {
                "stage": line.stage,
                "caller": line.masked_number,
                "withheld": line.withheld,
                "can_call_back": refusal is None,
                "call_back_refusal": refusal,
                "callback_under_way": any(_callback_under_way(c, utcnow()) for c in legs),
                "callbacks": sum(1 for c in legs if c.direction == "callback" and c.leg == "staff"),
                "talk_seconds": inbound.talk_seconds if inbound else None,
                "call_seconds": inbound.duration_seconds if inbound else None,
                "voicemail": (
                    {
                        "seconds": line.recording_seconds,
                        "deleted": line.recording_deleted_at is not None,
                        "deleted_at": iso(line.recording_deleted_at),
                    }
                    if line.recording_sid
                    else None
                ),
            }
        }
    return shown


# --- signals from the inbox ----------------------------------------------------------------------


@signals.summarising.connect
def _summarise(conversations: list[Conversation]) -> dict[int, dict]:
    return details(conversations)


@signals.claiming.connect
def _claiming(conversation: Conversation, user: StaffUser) -> None:
    refuse_claim_without_phone(conversation, user)


@signals.claimed.connect
def _claimed(conversation: Conversation, user: StaffUser) -> None:
    put_through(conversation, user)


@signals.closing.connect
def _forget_number(conversation: Conversation) -> None:
    """Closing ends the need to call back: the encrypted number goes, only its hash stays."""
    if conversation.channel != "phone":
        return
    db.session.connection().execute(_forget_sealed, {"of_conversation": conversation.id})


# --- internals -----------------------------------------------------------------------------------

# Built once: the webhooks run these on every call.
_service_by_number = select(Service).where(Service.phone_number == bindparam("number"))
_call_by_sid = select(PhoneCall).where(PhoneCall.call_sid == bindparam("call_sid"))
_line_of = select(PhoneLine).where(PhoneLine.conversation_id == bindparam("conversation_id"))
_forget_sealed = (
    update(_lines)
    .where(_lines.c.conversation_id == bindparam("of_conversation"))
    .values(sealed_number=None)
)
_move_stage_statement = (
    update(_lines)
    .where(
        _lines.c.id == bindparam("line_id"),
        _lines.c.stage.in_(bindparam("from_stages", expanding=True)),
    )
    .values(stage=bindparam("to_stage"))
)
_insert_line = insert(_lines)
_insert_leg = insert(_legs)


@functools.cache
def _advance_call(final: bool) -> Update:
    """Move a call leg to a later status only (a final one also records its end)."""
    names = ("status", "ended_at", "duration_seconds") if final else ("status",)
    return (
        update(_legs)
        .where(_legs.c.id == bindparam("call_id"), _legs.c.status_rank < bindparam("new_rank"))
        .values(status_rank=bindparam("new_rank"), **{n: bindparam(f"new_{n}") for n in names})
    )


def _call(call_sid: str) -> PhoneCall | None:
    return db.session.scalar(_call_by_sid, {"call_sid": call_sid})


def _line(conversation_id: int) -> PhoneLine | None:
    return db.session.scalar(_line_of, {"conversation_id": conversation_id})


def _inbound_call(conversation_id: int) -> PhoneCall | None:
    return db.session.scalar(
        select(PhoneCall).where(
            PhoneCall.conversation_id == conversation_id, PhoneCall.direction == "inbound"
        )
    )


def _replay(call: PhoneCall) -> str:
    """The answer to a repeated incoming-call webhook: what the caller's stage calls for."""
    line = _line(call.conversation_id)
    service = call.conversation.service
    db.session.rollback()
    if line.stage == "ringing":
        return twiml.enqueue(service)
    if line.stage == "menu":
        return twiml.menu(service, closed=not find.within_hours(service), withheld=line.withheld)
    return twiml.empty()


def _after_talk(conversation: Conversation) -> str:
    """What a caller still on the line hears: a feature's answer to talk_ended, or goodbye."""
    for _receiver, answer in talk_ended.send(conversation):
        if answer:
            return answer
    return twiml.goodbye()


def _move_stage(
    line: PhoneLine, from_stages: tuple[str, ...], to_stage: str, *, commit: bool = True
) -> bool:
    db.session.flush()
    parameters = {"line_id": line.id, "from_stages": list(from_stages), "to_stage": to_stage}
    moved = db.session.connection().execute(_move_stage_statement, parameters).rowcount
    if moved:
        set_committed_value(line, "stage", to_stage)
    if commit:
        db.session.commit()
        if moved:
            phone_inbox.show(line.conversation_id)
    return bool(moved)


def _caller_hung_up(call: PhoneCall, now: datetime | None) -> None:
    """Commits what the transaction holds (e.g. the call's final status) with the change."""
    conversation_id = call.conversation_id
    line = _line(conversation_id)
    if line.stage in WAITING_STAGES:
        db.session.commit()
        return
    talk = call.talk_seconds
    if talk is None and call.answered_at is not None:
        talk = int(((now or utcnow()) - call.answered_at).total_seconds())
    _move_stage(line, ("ringing", "menu", "connected"), "ended", commit=False)
    if caller_gone(conversation_id, now, duration=talk_time(talk)) is None:
        db.session.commit()


def _callback_under_way(call: PhoneCall, now: datetime) -> bool:
    """A callback whose counsellor leg has not ended, and not been silent for too long."""
    return (
        call.direction == "callback"
        and call.leg == "staff"
        and call.status_rank < STATUS_RANK["completed"]
        and call.created_at > now - CALLBACK_UNDER_WAY
    )


def _child_of_callback(call_sid: str, parent_sid: str | None, now: datetime) -> PhoneCall | None:
    if parent_sid is None:
        return None
    parent = _call(parent_sid)
    if parent is None or parent.direction != "callback":
        return None
    try:
        with db.session.begin_nested():
            child = PhoneCall(
                call_sid=call_sid,
                parent_sid=parent_sid,
                conversation_id=parent.conversation_id,
                direction="callback",
                leg="caller",
                status="initiated",
                status_rank=0,
                staff_id=parent.staff_id,
                created_at=now,
            )
            db.session.add(child)
    except IntegrityError:
        child = _call(call_sid)
    return child


def _callback_refusal(conversation: Conversation, line: PhoneLine | None) -> str | None:
    if line is None:
        return "Not a phone conversation."
    if line.withheld:
        return "The caller's number is withheld: they cannot be called back."
    if conversation.state == "closed" or line.sealed_number is None:
        return "The conversation is closed: the number is no longer kept."
    if not conversation.service.phone_number:
        return "This service has no phone number to call from."
    return None


def _said(status: str) -> str:
    return {"no-answer": "no answer", "canceled": "cancelled"}.get(status, status)
