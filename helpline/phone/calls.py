"""Finding a call and its line by what Twilio sends, and moving a line from stage to stage.

Every webhook may arrive twice, late or out of order: each step is keyed by the CallSid and
changes a row only from the state it expects, so a repeat changes nothing.
"""

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from helpline.extensions import db
from helpline.inbox.models import Conversation
from helpline.phone import inbox as phone_inbox
from helpline.phone.inbox import caller_gone
from helpline.phone.models import PhoneCall, PhoneLine
from helpline.timeutil import utcnow

WAITING_STAGES = ("voicemail", "callback_requested", "recording")
# A live caller a counsellor can be put through to.
LIVE_STAGES = ("ringing", "menu")

_lines = PhoneLine.__table__
# Built once: the webhooks run these on every call.
_call_by_sid = select(PhoneCall).where(PhoneCall.call_sid == bindparam("call_sid"))
_line_by_conversation = select(PhoneLine).where(
    PhoneLine.conversation_id == bindparam("conversation_id")
)
_move_stage_statement = (
    update(_lines)
    .where(
        _lines.c.id == bindparam("line_id"),
        _lines.c.stage.in_(bindparam("from_stages", expanding=True)),
    )
    .values(stage=bindparam("to_stage"))
)


def find_call(call_sid: str) -> PhoneCall | None:
    """The call leg Twilio names by this CallSid."""
    return db.session.scalar(_call_by_sid, {"call_sid": call_sid})


def find_line(conversation_id: int) -> PhoneLine | None:
    """The phone line of a conversation: the caller's stage, number and voicemail."""
    return db.session.scalar(_line_by_conversation, {"conversation_id": conversation_id})


def find_inbound_call(conversation_id: int) -> PhoneCall | None:
    """The caller's own call that opened a conversation."""
    return db.session.scalar(
        select(PhoneCall).where(
            PhoneCall.conversation_id == conversation_id, PhoneCall.direction == "inbound"
        )
    )


def talk_over(call_sid: str) -> Conversation | None:
    """The conversation of a call whose talk with a counsellor has ended, or None."""
    call = find_call(call_sid)
    if call is None:
        return None
    line = find_line(call.conversation_id)
    if line is None or line.stage != "ended" or call.talk_seconds is None:
        return None
    return call.conversation


def talk_time(seconds: int | None) -> str:
    """Seconds as m:ss for the inbox."""
    seconds = max(0, int(seconds or 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


def move_stage(
    line: PhoneLine, from_stages: tuple[str, ...], to_stage: str, *, commit: bool = True
) -> bool:
    """Move the line to `to_stage` only from one of `from_stages`; True when it moved."""
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


def caller_hung_up(call: PhoneCall, now: datetime | None) -> None:
    """The caller hung up: the talk or the wait ends, unless a voicemail or callback waits.

    Commits what the transaction holds (e.g. the call's final status) with the change.
    """
    conversation_id = call.conversation_id
    line = find_line(conversation_id)
    if line.stage in WAITING_STAGES:
        db.session.commit()
        return
    talk = call.talk_seconds
    if talk is None and call.answered_at is not None:
        talk = int(((now or utcnow()) - call.answered_at).total_seconds())
    move_stage(line, ("ringing", "menu", "connected"), "ended", commit=False)
    if caller_gone(conversation_id, now, duration=talk_time(talk)) is None:
        db.session.commit()
