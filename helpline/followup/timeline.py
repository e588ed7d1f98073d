"""What a follow-up session's changes say in the conversation it was booked from."""

from datetime import datetime

from helpline.auth.models import StaffUser
from helpline.inbox import messages

BOOKING_TEXT = {
    "followup_booked": "{name} booked a follow-up session with {therapist} on {when}.",
    "followup_rescheduled": "{name} moved the follow-up session with {therapist} to {when}.",
    "followup_cancelled": "{name} cancelled the follow-up session of {when}.",
    "followup_outcome": "Follow-up session of {when}: {outcome}.",
    "followup_chat": "The client opened the booked chat session with {therapist}.",
}


def record(
    conversation_id: int,
    event: str,
    user: StaffUser,
    now: datetime,
    *,
    audit_action: str,
    **params: str,
) -> None:
    """Show what happened to a follow-up session in its conversation (audited)."""
    said = BOOKING_TEXT[event].format(name=user.display_name, **params)
    messages.record_event(conversation_id, event, said, user, now, audit_action=audit_action)
