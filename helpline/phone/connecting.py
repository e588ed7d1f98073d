"""A counsellor accepts a call: the caller is put through to their phone, until the talk ends."""

from sqlalchemy import update

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import signals
from helpline.inbox.errors import InboxError, InvalidState
from helpline.inbox.models import Conversation
from helpline.phone import inbox as phone_inbox
from helpline.phone import rest, twiml
from helpline.phone.calls import (
    LIVE_STAGES,
    find_call,
    find_inbound_call,
    find_line,
    move_stage,
    talk_time,
)
from helpline.phone.inbox import NoPhone, caller_gone, requeue
from helpline.phone.models import PhoneCall
from helpline.phone.signals import talk_ended
from helpline.timeutil import utcnow


class CallNotConnected(InboxError):
    code = "call_not_connected"
    status = 502
    default_message = "The call could not be put through."


def refuse_claim_without_phone(conversation: Conversation, user: StaffUser) -> None:
    """A live call can only be accepted by someone it can be put through to."""
    if conversation.channel != "phone":
        return
    line = find_line(conversation.id)
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
    line = find_line(conversation.id)
    call = find_inbound_call(conversation.id)
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
    line = find_line(conversation.id)
    move_stage(line, LIVE_STAGES, "connected", commit=False)
    db.session.execute(
        update(PhoneCall)
        .where(PhoneCall.id == call.id)
        .values(staff_id=user.id, answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    phone_inbox.show(conversation.id)


def put_through_ended(
    call_sid: str, status: str, seconds: int | None, put_through_to: int | None
) -> str:
    """The counsellor's phone was rung: the talk is over, or it was not answered."""
    call = find_call(call_sid)
    if call is None:
        return twiml.empty()
    conversation = call.conversation
    line = find_line(conversation.id)
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
        move_stage(line, ("connected",), "ended", commit=False)
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
    move_stage(line, ("connected",), "ringing", commit=False)
    if requeue(conversation.id, "call_missed") is None:
        db.session.commit()
    return twiml.enqueue(conversation.service, greet=False)


def _after_talk(conversation: Conversation) -> str:
    """What a caller still on the line hears: a feature's answer to talk_ended, or goodbye."""
    for _receiver, answer in talk_ended.send(conversation):
        if answer:
            return answer
    return twiml.goodbye()


@signals.claiming.connect
def _claiming(conversation: Conversation, user: StaffUser) -> None:
    refuse_claim_without_phone(conversation, user)


@signals.claimed.connect
def _claimed(conversation: Conversation, user: StaffUser) -> None:
    put_through(conversation, user)
