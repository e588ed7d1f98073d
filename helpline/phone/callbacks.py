"""Calling back: the counsellor's phone rings first, then the caller's, from the service number."""

from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from helpline.auth.models import StaffUser
from helpline.encryption import unseal
from helpline.extensions import db
from helpline.inbox import find, signals
from helpline.inbox.errors import InboxError, InvalidState
from helpline.inbox.models import Conversation
from helpline.inbox.permissions import require
from helpline.phone import rest, twiml
from helpline.phone.calls import find_call, find_line
from helpline.phone.inbox import NoPhone, record
from helpline.phone.models import STATUS_RANK, PhoneCall, PhoneLine
from helpline.timeutil import utcnow

# A callback whose end Twilio never reported (e.g. a wrong PUBLIC_URL) stops blocking the next.
CALLBACK_UNDER_WAY = timedelta(minutes=15)

_lines = PhoneLine.__table__
_forget_sealed = (
    update(_lines)
    .where(_lines.c.conversation_id == bindparam("of_conversation"))
    .values(sealed_number=None)
)


class CannotCallBack(InboxError):
    code = "cannot_call_back"
    default_message = "This caller cannot be called back."


def call_back(conversation_id: int, user: StaffUser, now: datetime | None = None) -> PhoneCall:
    """Call back the caller of a phone conversation: the counsellor's phone rings first."""
    conversation = find.by_id(conversation_id)
    require(user, "call_back", conversation)
    if conversation.channel != "phone":
        raise InvalidState("Only a phone conversation can be called back.")
    line = find_line(conversation.id)
    refusal = callback_refusal(conversation, line)
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
    if any(callback_under_way(leg, now) for leg in legs):
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


def callback_refusal(conversation: Conversation, line: PhoneLine | None) -> str | None:
    """Why this caller cannot be called back, or None when they can."""
    if line is None:
        return "Not a phone conversation."
    if line.withheld:
        return "The caller's number is withheld: they cannot be called back."
    if conversation.state == "closed" or line.sealed_number is None:
        return "The conversation is closed: the number is no longer kept."
    if not conversation.service.phone_number:
        return "This service has no phone number to call from."
    return None


def callback_under_way(call: PhoneCall, now: datetime) -> bool:
    """A callback whose counsellor leg has not ended, and not been silent for too long."""
    return (
        call.direction == "callback"
        and call.leg == "staff"
        and call.status_rank < STATUS_RANK["completed"]
        and call.created_at > now - CALLBACK_UNDER_WAY
    )


def child_of_callback(call_sid: str, parent_sid: str | None, now: datetime) -> PhoneCall | None:
    """The caller's leg of a callback, recorded the first time Twilio reports it."""
    if parent_sid is None:
        return None
    parent = find_call(parent_sid)
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
        child = find_call(call_sid)
    return child


@signals.closing.connect
def _forget_number(conversation: Conversation) -> None:
    """Closing ends the need to call back: the encrypted number goes, only its hash stays."""
    if conversation.channel != "phone":
        return
    db.session.connection().execute(_forget_sealed, {"of_conversation": conversation.id})
