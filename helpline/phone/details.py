"""What the inbox list shows of a phone conversation: no number, only its last digits."""

from sqlalchemy import Row, bindparam, select

from helpline.extensions import db
from helpline.inbox import signals
from helpline.inbox.models import Conversation
from helpline.phone.callbacks import callback_refusal, callback_under_way
from helpline.phone.models import PhoneCall, PhoneLine
from helpline.timeutil import iso, utcnow

_lines = PhoneLine.__table__
_legs = PhoneCall.__table__
# One Core query for both, the line and its call legs: read on every inbox-row update.
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
    for row in db.session.connection().execute(_details_statement, {"ids": ids}):
        lines[row.conversation_id] = row
        if row.call_id is not None:
            calls.setdefault(row.conversation_id, []).append(row)
    by_id = {c.id: c for c in conversations}
    shown = {}
    for conversation_id, line in lines.items():
        legs = calls.get(conversation_id, [])
        inbound = next((c for c in legs if c.direction == "inbound"), None)
        refusal = callback_refusal(by_id[conversation_id], line)
        shown[conversation_id] = {
            "phone": {
                "stage": line.stage,
                "caller": line.masked_number,
                "withheld": line.withheld,
                "can_call_back": refusal is None,
                "call_back_refusal": refusal,
                "callback_under_way": any(callback_under_way(c, utcnow()) for c in legs),
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


@signals.summarising.connect
def _summarise(conversations: list[Conversation]) -> dict[int, dict]:
    return details(conversations)
