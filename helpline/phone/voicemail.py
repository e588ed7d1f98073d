"""Voicemail: recorded at Twilio, referenced in the inbox, played and deleted by staff."""

from datetime import datetime

from sqlalchemy import update

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import audit, find
from helpline.inbox.errors import InvalidState
from helpline.inbox.permissions import require
from helpline.phone import rest, twiml
from helpline.phone.calls import caller_hung_up, find_call, find_line, move_stage, talk_time
from helpline.phone.inbox import record
from helpline.phone.models import STATUS_RANK, PhoneLine
from helpline.timeutil import utcnow


def voicemail(call_sid: str, recording_sid: str | None, url: str | None, seconds: int) -> str:
    """The caller left a voicemail: it stays at Twilio and waits in the inbox, referenced."""
    call = find_call(call_sid)
    if call is None or recording_sid is None or url is None or seconds < 1:
        if call is not None:
            line = find_line(call.conversation_id)
            move_stage(line, ("recording",), "menu")
            if call.status_rank >= STATUS_RANK["completed"]:
                # The caller hung up without a word and Twilio reported that first.
                caller_hung_up(find_call(call_sid), utcnow())
        return twiml.goodbye(twiml.NOT_RECORDED)
    line = find_line(call.conversation_id)
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


def delete_voicemail(conversation_id: int, user: StaffUser, now: datetime | None = None) -> None:
    """Delete the voicemail at Twilio and forget where it was."""
    now = now or utcnow()
    conversation = find.by_id(conversation_id)
    require(user, "delete_recording", conversation)
    line = find_line(conversation_id)
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
    line = find_line(conversation_id)
    if line is None or line.recording_url is None:
        raise InvalidState("There is no voicemail to play.")
    audit.audit(user, "phone.recording.listen", conversation)
    return line
