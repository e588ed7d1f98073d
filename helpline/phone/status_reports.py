"""Twilio's status reports: a call leg moves only forward, and what that means is shown."""

import functools
from datetime import datetime

from sqlalchemy import Update, bindparam, update

from helpline.extensions import db
from helpline.inbox import messages
from helpline.phone import inbox as phone_inbox
from helpline.phone.callbacks import child_of_callback
from helpline.phone.calls import caller_hung_up, find_call, talk_time
from helpline.phone.inbox import record
from helpline.phone.models import FINAL_STATUSES, STATUS_RANK, PhoneCall
from helpline.timeutil import utcnow

_legs = PhoneCall.__table__


def call_status(
    call_sid: str,
    status: str,
    duration: int | None,
    parent_sid: str | None,
    now: datetime | None = None,
) -> None:
    """Twilio reports a call's progress; only a step forward changes anything."""
    now = now or utcnow()
    call = find_call(call_sid) or child_of_callback(call_sid, parent_sid, now)
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
        caller_hung_up(call, now)
        return
    db.session.commit()
    if call.direction != "inbound" and (moved or newly_answered):
        _show_callback(
            call, status, duration, now, ended=final and bool(moved), answered=newly_answered
        )


def _show_callback(
    call: PhoneCall,
    status: str,
    duration: int | None,
    now: datetime,
    *,
    ended: bool,
    answered: bool,
) -> None:
    """What the inbox says of a callback leg that was answered or ended."""
    conversation_id = call.conversation_id
    if call.leg == "caller":
        if answered:
            messages.add_contact_moment(
                conversation_id,
                "callback",
                now,
                event="callback_answered",
                text=phone_inbox.text("callback_answered"),
            )
        if ended:
            if status == "completed" and (duration or 0) > 0:
                record(conversation_id, "callback_ended", duration=talk_time(duration))
            else:
                record(conversation_id, "callback_failed", status=_said(status))
    elif ended and status != "completed":
        record(conversation_id, "callback_failed", status="your phone: " + _said(status))


@functools.cache
def _advance_call(final: bool) -> Update:
    """Move a call leg to a later status only (a final one also records its end)."""
    names = ("status", "ended_at", "duration_seconds") if final else ("status",)
    return (
        update(_legs)
        .where(_legs.c.id == bindparam("call_id"), _legs.c.status_rank < bindparam("new_rank"))
        .values(status_rank=bindparam("new_rank"), **{n: bindparam(f"new_{n}") for n in names})
    )


def _said(status: str) -> str:
    return {"no-answer": "no answer", "canceled": "cancelled"}.get(status, status)
