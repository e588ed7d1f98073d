"""Who may do what: one table of named actions, and `can`, which every check asks.

Each action names, for each role, how the staff member must stand to the target to be allowed
(Aselo's named actions). A role left out of a rule is never allowed; a switched-off account is
never allowed anything. A waiting conversation is the queue's, not anyone's: only the roles that
work the queue reach it. Targets are a Conversation, a Booking, a Service, a staff member, an
API token, or None ("in general": only a rule that allows any target answers yes).
"""

from typing import NamedTuple

from sqlalchemy import ColumnElement, false, or_, true

from helpline.auth.models import StaffUser
from helpline.inbox.errors import NotAllowed
from helpline.inbox.models import Conversation

ANY = "any"  # whatever the target
MINE = "mine"  # the conversation is assigned to them
QUEUE = "queue"  # the conversation is waiting for someone (assigned to nobody), or is theirs
SESSION = "session"  # they are the therapist of the booking
SHARED = "shared"  # they are the therapist of the booking, and its transcript was shared
BOOKED = "booked"  # they booked the session, or have the conversation it was booked for
SELF = "self"  # the target is their own account, or belongs to it (an API token)


class Rule(NamedTuple):
    """How each role must stand to the target; None: that role never may."""

    counsellor: str | None
    therapist: str | None
    supervisor: str | None
    admin: str | None


# fmt: off
RULES: dict[str, Rule] = {
    #                               counsellor therapist supervisor admin
    "manage_own_account":      Rule(ANY,     ANY,     ANY,     ANY),
    "manage_api_tokens":       Rule(ANY,     ANY,     ANY,     ANY),
    "revoke_api_token":        Rule(SELF,    SELF,    SELF,    ANY),
    "list_conversations":      Rule(ANY,     ANY,     ANY,     ANY),
    "search_conversations":    Rule(ANY,     ANY,     ANY,     ANY),
    "watch_queue":             Rule(ANY,     None,    ANY,     ANY),
    "view_conversation":       Rule(ANY,     MINE,    ANY,     ANY),
    "view_history":            Rule(ANY,     None,    ANY,     ANY),
    # The last message on a list row: opening a conversation is audited, a row is not, so a
    # row shows words only to the person who has the conversation.
    "preview_messages":        Rule(MINE,    MINE,    MINE,    MINE),
    "claim":                   Rule(ANY,     None,    ANY,     ANY),
    "reply":                   Rule(MINE,    MINE,    MINE,    MINE),
    "add_note":                Rule(ANY,     MINE,    ANY,     ANY),
    "transfer":                Rule(MINE,    MINE,    ANY,     ANY),
    "end":                     Rule(QUEUE,   MINE,    ANY,     ANY),
    "close":                   Rule(QUEUE,   MINE,    ANY,     ANY),
    "recategorise":            Rule(MINE,    MINE,    ANY,     ANY),
    "refer":                   Rule(ANY,     MINE,    ANY,     ANY),
    "export":                  Rule(ANY,     MINE,    ANY,     ANY),
    "block_visitor":           Rule(MINE,    MINE,    ANY,     ANY),
    "view_blocks":             Rule(None,    None,    ANY,     ANY),
    "lift_block":              Rule(None,    None,    ANY,     ANY),
    "take_calls":              Rule(ANY,     None,    ANY,     ANY),
    "simulate_calls":          Rule(ANY,     None,    ANY,     ANY),
    "call_back":               Rule(QUEUE,   MINE,    ANY,     ANY),
    "listen_recording":        Rule(ANY,     MINE,    ANY,     ANY),
    "delete_recording":        Rule(QUEUE,   MINE,    ANY,     ANY),
    "book_followup":           Rule(ANY,     None,    ANY,     ANY),
    "view_agenda":             Rule(None,    ANY,     ANY,     ANY),
    "view_all_sessions":       Rule(None,    None,    ANY,     ANY),
    "read_transcript":         Rule(None,    SHARED,  ANY,     ANY),
    "reschedule_followup":     Rule(BOOKED,  SESSION, ANY,     ANY),
    "cancel_followup":         Rule(BOOKED,  SESSION, ANY,     ANY),
    "record_outcome":          Rule(None,    SESSION, ANY,     ANY),
    "call_client":             Rule(None,    SESSION, None,    None),
    "manage_availability":     Rule(None,    SELF,    ANY,     ANY),
    "keep_calendar":           Rule(None,    ANY,     None,    None),
    "api_conversations":       Rule(ANY,     None,    ANY,     ANY),
    "api_followup":            Rule(ANY,     ANY,     ANY,     ANY),
    "view_reports":            Rule(None,    None,    ANY,     ANY),
    "manage_categories":       Rule(None,    None,    None,    ANY),
    "manage_canned_responses": Rule(None,    None,    ANY,     ANY),
    "use_canned_responses":    Rule(ANY,     MINE,    ANY,     ANY),
    "set_status":              Rule(ANY,     None,    ANY,     ANY),
    "receive_transfer":        Rule(ANY,     None,    ANY,     ANY),
    "view_board":              Rule(None,    None,    ANY,     ANY),
    "monitor":                 Rule(None,    None,    ANY,     ANY),
    "whisper":                 Rule(None,    None,    ANY,     ANY),
}
# fmt: on

REFUSALS = {
    "manage_own_account": "This account is switched off.",
    "manage_api_tokens": "This account is switched off.",
    "watch_queue": "Therapists take their sessions from the agenda, not the queue.",
    "view_conversation": "You cannot open this conversation.",
    "view_history": "You cannot see this person's earlier conversations.",
    "claim": "Therapists take their sessions from the agenda, not the queue.",
    "reply": "Claim the conversation before you reply.",
    "add_note": "You cannot add a note to this conversation.",
    "transfer": "Only the counsellor who has the conversation, or a supervisor, can transfer it.",
    "end": "Only the counsellor who has the conversation, or a supervisor, can end it.",
    "close": "Only the counsellor who has the conversation, or a supervisor, can close it.",
    "recategorise": (
        "Only the counsellor who had the conversation, or a supervisor, can correct it."
    ),
    "refer": "You cannot record referrals of this conversation.",
    "export": "You cannot export this conversation.",
    "block_visitor": (
        "Only the counsellor who has the conversation, or a supervisor, can block this visitor."
    ),
    "view_blocks": "Only supervisors and admins can see the blocks.",
    "lift_block": "Only supervisors and admins can lift a block.",
    "take_calls": "Therapists call their clients from the agenda.",
    "simulate_calls": "Only the staff who answer the phone line can try it here.",
    "call_back": "Only the counsellor who has the conversation, or a supervisor, can call back.",
    "listen_recording": "You cannot listen to this voicemail.",
    "delete_recording": (
        "Only the counsellor who has the conversation, or a supervisor, can delete the voicemail."
    ),
    "book_followup": "Therapists are booked by counsellors; they do not book sessions.",
    "view_agenda": "The agenda is for therapists.",
    "read_transcript": "The counsellor did not share this conversation.",
    "reschedule_followup": "Only the session's therapist, or a supervisor, can do that.",
    "cancel_followup": "Only the session's therapist, or a supervisor, can do that.",
    "record_outcome": "Only the session's therapist, or a supervisor, can do that.",
    "call_client": "Only the session's therapist can call the client.",
    "manage_availability": "Only the therapist, or a supervisor, can change this availability.",
    "keep_calendar": "Only therapists have a calendar feed.",
    "api_conversations": "Therapists use the follow-up endpoints of the API only.",
    "view_reports": "Only supervisors and admins can read the report figures.",
    "manage_categories": "Only an admin can change the categories.",
    "manage_canned_responses": "Only supervisors and admins can change the canned responses.",
    "use_canned_responses": "Canned responses are for the conversations you have.",
    "set_status": "Therapists take their sessions from the agenda and have no inbox status.",
    "receive_transfer": "That colleague does not take chats.",
    "view_board": "Only supervisors and admins can see the board.",
    "monitor": "Only supervisors and admins can watch a conversation.",
    "whisper": "Only supervisors and admins can whisper to the counsellor.",
}
DEFAULT_REFUSAL = "You are not allowed to do that."


def _assignee(target: object) -> int | None:
    return getattr(target, "assignee_id", None)


def _stands(user: StaffUser, relation: str, target: object) -> bool:
    """Whether `user` stands to `target` as `relation` says."""
    if relation == ANY:
        return True
    if target is None:
        return False
    if relation == MINE:
        return _assignee(target) == user.id
    if relation == QUEUE:
        return hasattr(target, "assignee_id") and _assignee(target) in (None, user.id)
    if relation == SESSION:
        return getattr(target, "therapist_id", None) == user.id
    if relation == SHARED:
        return getattr(target, "therapist_id", None) == user.id and target.transcript_shared
    if relation == BOOKED:
        booked_for = getattr(target, "conversation", None)
        return user.id in (getattr(target, "booked_by_id", None), _assignee(booked_for))
    if relation == SELF:
        owner = target.id if isinstance(target, StaffUser) else getattr(target, "user_id", None)
        return owner == user.id
    raise ValueError(f"unknown relation {relation!r}")


def can(user: StaffUser, action: str, target: object = None) -> bool:
    """True when `user` may perform `action` on `target` (None: on any target)."""
    rule = RULES[action]
    role = getattr(user, "role", None)  # None: not signed in
    if role not in Rule._fields or not user.is_active:
        return False
    relation = getattr(rule, role)
    return relation is not None and _stands(user, relation, target)


def require(user: StaffUser, action: str, target: object = None) -> None:
    """Raise NotAllowed unless `user` may perform `action` on `target`."""
    if not can(user, action, target):
        raise NotAllowed(REFUSALS.get(action, DEFAULT_REFUSAL))


def conversations_allowed(user: StaffUser, action: str) -> ColumnElement[bool]:
    """The SQL condition on `Conversation` rows that `can(user, action, row)` allows.

    The one translation of the rule table into a query (search reads with it): it must answer
    as `can` does, row by row, which tests/test_permissions.py checks for every role and action.
    """
    role = getattr(user, "role", None)
    if role not in Rule._fields or not user.is_active:
        return false()
    relation = getattr(RULES[action], role)
    if relation == ANY:
        return true()
    if relation == MINE:
        return Conversation.assignee_id == user.id
    if relation == QUEUE:
        return or_(Conversation.assignee_id.is_(None), Conversation.assignee_id == user.id)
    # No rule at all, or a relation to a booking or an account: no conversation stands so.
    return false()
