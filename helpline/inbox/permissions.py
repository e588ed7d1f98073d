"""Who may do what with a conversation, as named actions checked in one place."""

from collections.abc import Callable

from helpline.auth.models import StaffUser
from helpline.inbox.errors import NotAllowed
from helpline.inbox.models import Conversation

LEADS = ("supervisor", "admin")


def _is_staff(user: StaffUser, conversation: Conversation | None) -> bool:
    return user.is_active


def _works_the_inbox(user: StaffUser, conversation: Conversation | None) -> bool:
    # Therapists see only their own sessions, and a conversation only once it is theirs.
    return user.is_active and (
        user.role != "therapist"
        or (conversation is not None and conversation.assignee_id == user.id)
    )


def _is_admin(user: StaffUser, conversation: Conversation | None) -> bool:
    return user.is_active and user.role == "admin"


def _owns_or_leads(user: StaffUser, conversation: Conversation | None) -> bool:
    return user.is_active and (conversation.assignee_id == user.id or user.role in LEADS)


def _owns_unowned_or_leads(user: StaffUser, conversation: Conversation | None) -> bool:
    return conversation.assignee_id is None or _owns_or_leads(user, conversation)


RULES: dict[str, Callable[[StaffUser, Conversation | None], bool]] = {
    "view_conversation": _works_the_inbox,
    "list_conversations": _is_staff,
    "claim": lambda user, conversation: user.is_active and user.role != "therapist",
    "add_note": _works_the_inbox,
    "reply": lambda user, conversation: user.is_active and conversation.assignee_id == user.id,
    "transfer": _owns_or_leads,
    "end": _owns_unowned_or_leads,
    "close": _owns_unowned_or_leads,
    "export": _works_the_inbox,
    "take_calls": _works_the_inbox,
    "recategorise": _owns_or_leads,
    "refer": _works_the_inbox,
    "manage_categories": _is_admin,
    "book_followup": lambda user, conversation: user.is_active and user.role != "therapist",
    "call_back": _owns_unowned_or_leads,
    "listen_recording": _works_the_inbox,
    "delete_recording": _owns_unowned_or_leads,
    "block_visitor": _owns_or_leads,
    "view_blocks": lambda user, conversation: user.is_active and user.role in LEADS,
    "lift_block": lambda user, conversation: user.is_active and user.role in LEADS,
}

REFUSALS = {
    "reply": "Claim the conversation before you reply.",
    "transfer": "Only the counsellor who has the conversation, or a supervisor, can transfer it.",
    "end": "Only the counsellor who has the conversation, or a supervisor, can end it.",
    "close": "Only the counsellor who has the conversation, or a supervisor, can close it.",
    "recategorise": (
        "Only the counsellor who had the conversation, or a supervisor, can correct it."
    ),
    "manage_categories": "Only an admin can change the categories.",
    "claim": "Therapists take their sessions from the agenda, not the queue.",
    "call_back": "Only the counsellor who has the conversation, or a supervisor, can call back.",
    "delete_recording": (
        "Only the counsellor who has the conversation, or a supervisor, can delete the voicemail."
    ),
    "block_visitor": (
        "Only the counsellor who has the conversation, or a supervisor, can block its visitor."
    ),
    "view_blocks": "Only supervisors see the blocked visitors.",
    "lift_block": "Only a supervisor can lift a block.",
}


def can(user: StaffUser, action: str, conversation: Conversation | None = None) -> bool:
    """True when `user` may perform `action` on `conversation`."""
    return RULES[action](user, conversation)


def require(user: StaffUser, action: str, conversation: Conversation | None = None) -> None:
    """Raise NotAllowed unless `user` may perform `action`."""
    if not can(user, action, conversation):
        raise NotAllowed(REFUSALS.get(action))
