"""Who may do what with a conversation, as named actions checked in one place."""

from collections.abc import Callable

from helpline.auth.models import StaffUser
from helpline.inbox.errors import NotAllowed
from helpline.inbox.models import Conversation

LEADS = ("supervisor", "admin")


def _is_staff(user: StaffUser, conversation: Conversation | None) -> bool:
    return user.is_active


def _owns_or_leads(user: StaffUser, conversation: Conversation | None) -> bool:
    return user.is_active and (conversation.assignee_id == user.id or user.role in LEADS)


def _owns_unowned_or_leads(user: StaffUser, conversation: Conversation | None) -> bool:
    return conversation.assignee_id is None or _owns_or_leads(user, conversation)


RULES: dict[str, Callable[[StaffUser, Conversation | None], bool]] = {
    "view_conversation": _is_staff,
    "list_conversations": _is_staff,
    "claim": _is_staff,
    "add_note": _is_staff,
    "reply": lambda user, conversation: user.is_active and conversation.assignee_id == user.id,
    "transfer": _owns_or_leads,
    "end": _owns_unowned_or_leads,
    "close": _owns_unowned_or_leads,
    "export": _is_staff,
    "take_calls": _is_staff,
    "call_back": _owns_unowned_or_leads,
    "listen_recording": _is_staff,
    "delete_recording": _owns_unowned_or_leads,
}

REFUSALS = {
    "reply": "Claim the conversation before you reply.",
    "transfer": "Only the counsellor who has the conversation, or a supervisor, can transfer it.",
    "end": "Only the counsellor who has the conversation, or a supervisor, can end it.",
    "close": "Only the counsellor who has the conversation, or a supervisor, can close it.",
    "call_back": "Only the counsellor who has the conversation, or a supervisor, can call back.",
    "delete_recording": (
        "Only the counsellor who has the conversation, or a supervisor, can delete the voicemail."
    ),
}


def can(user: StaffUser, action: str, conversation: Conversation | None = None) -> bool:
    """True when `user` may perform `action` on `conversation`."""
    return RULES[action](user, conversation)


def require(user: StaffUser, action: str, conversation: Conversation | None = None) -> None:
    """Raise NotAllowed unless `user` may perform `action`."""
    if not can(user, action, conversation):
        raise NotAllowed(REFUSALS.get(action))
