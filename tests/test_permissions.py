"""Every role, and a switched-off account, against every action and every kind of target.

The expected answers are written out here, not read from the rule table: loosening any rule
makes this fail. A conversation is walked in every state, on every channel; the relation that
matters (whose it is) is part of each case.
"""

import itertools

import pytest
from sqlalchemy import select

from helpline.api.models import ApiToken
from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.followup.models import Booking
from helpline.inbox.models import CHANNELS, STATES, Conversation, Service
from helpline.inbox.permissions import RULES, can, conversations_allowed
from tests import factories

ME, COLLEAGUE = 1, 2
ROLES = ("counsellor", "therapist", "supervisor", "admin")

# Conversations: (state, whose) → assignee; a waiting one is nobody's.
SITUATIONS = {
    "queued": ("queued", None),
    "active-own": ("active", ME),
    "active-other": ("active", COLLEAGUE),
    "wrap_up-own": ("wrap_up", ME),
    "wrap_up-other": ("wrap_up", COLLEAGUE),
    "wrap_up-nobody's": ("wrap_up", None),
    "closed-own": ("closed", ME),
    "closed-other": ("closed", COLLEAGUE),
}
CONVERSATIONS = frozenset(SITUATIONS)
OWN = frozenset({"active-own", "wrap_up-own", "closed-own"})
QUEUE_OR_OWN = OWN | {"queued", "wrap_up-nobody's"}
# Other targets.
SESSION = frozenset({"booking: their session", "booking: their session, shared"})
SHARED = frozenset({"booking: their session, shared"})
BOOKED = frozenset({"booking: they booked it", "booking: for their conversation"})
BOOKINGS = SESSION | BOOKED | {"booking: someone else's"}
SELF = frozenset({"their own account", "their own token"})
OTHERS = frozenset({"a colleague's account", "a colleague's token", "a service", "nothing"})
EVERYTHING = CONVERSATIONS | BOOKINGS | SELF | OTHERS
NONE = frozenset()
ALL = EVERYTHING


def roles(counsellor, therapist, supervisor, admin) -> dict[str, frozenset]:
    """What each role may act on, in the order counsellor, therapist, supervisor, admin."""
    return dict(zip(ROLES, (counsellor, therapist, supervisor, admin), strict=True))


EVERY_ROLE = roles(ALL, ALL, ALL, ALL)
LEADS_ONLY = roles(NONE, NONE, ALL, ALL)
NOT_THERAPISTS = roles(ALL, NONE, ALL, ALL)
THERAPISTS_OWN = roles(ALL, OWN, ALL, ALL)
OWNER_OR_LEADS = roles(OWN, OWN, ALL, ALL)
QUEUE_OWNER_OR_LEADS = roles(QUEUE_OR_OWN, OWN, ALL, ALL)
SESSION_OR_LEADS = roles(BOOKED, SESSION, ALL, ALL)

EXPECTED = {
    "manage_own_account": EVERY_ROLE,
    "manage_api_tokens": EVERY_ROLE,
    "revoke_api_token": roles(SELF, SELF, SELF, ALL),
    "list_conversations": EVERY_ROLE,
    "search_conversations": EVERY_ROLE,
    "watch_queue": NOT_THERAPISTS,
    "view_conversation": THERAPISTS_OWN,
    "view_history": NOT_THERAPISTS,
    "preview_messages": roles(OWN, OWN, OWN, OWN),
    "claim": NOT_THERAPISTS,
    "reply": roles(OWN, OWN, OWN, OWN),
    "add_note": THERAPISTS_OWN,
    "transfer": OWNER_OR_LEADS,
    "end": QUEUE_OWNER_OR_LEADS,
    "close": QUEUE_OWNER_OR_LEADS,
    "recategorise": OWNER_OR_LEADS,
    "refer": THERAPISTS_OWN,
    "export": THERAPISTS_OWN,
    "block_visitor": OWNER_OR_LEADS,
    "view_blocks": LEADS_ONLY,
    "lift_block": LEADS_ONLY,
    "take_calls": NOT_THERAPISTS,
    "simulate_calls": NOT_THERAPISTS,
    "call_back": QUEUE_OWNER_OR_LEADS,
    "listen_recording": THERAPISTS_OWN,
    "delete_recording": QUEUE_OWNER_OR_LEADS,
    "book_followup": NOT_THERAPISTS,
    "view_agenda": roles(NONE, ALL, ALL, ALL),
    "view_all_sessions": LEADS_ONLY,
    "read_transcript": roles(NONE, SHARED, ALL, ALL),
    "reschedule_followup": SESSION_OR_LEADS,
    "cancel_followup": SESSION_OR_LEADS,
    "record_outcome": roles(NONE, SESSION, ALL, ALL),
    "call_client": roles(NONE, SESSION, NONE, NONE),
    "manage_availability": roles(NONE, SELF, ALL, ALL),
    "keep_calendar": roles(NONE, ALL, NONE, NONE),
    "api_conversations": NOT_THERAPISTS,
    "api_followup": EVERY_ROLE,
    "view_reports": LEADS_ONLY,
    "manage_categories": roles(NONE, NONE, NONE, ALL),
    "manage_canned_responses": LEADS_ONLY,
    "use_canned_responses": THERAPISTS_OWN,
    "set_status": NOT_THERAPISTS,
    "receive_transfer": NOT_THERAPISTS,
    "view_board": LEADS_ONLY,
    "monitor": LEADS_ONLY,
    "whisper": LEADS_ONLY,
}


def person(role: str, *, active: bool = True, ident: int = ME) -> StaffUser:
    return StaffUser(id=ident, role=role, active=active, display_name=role, email=f"{ident}@x")


def conversation(state: str, assignee: int | None, channel: str) -> Conversation:
    return Conversation(id=7, state=state, assignee_id=assignee, channel=channel, service_id=1)


def booking(*, therapist: int, booked_by: int, assignee: int | None, shared: bool) -> Booking:
    made = Booking(id=3, therapist_id=therapist, booked_by_id=booked_by, transcript_shared=shared)
    made.conversation = conversation("closed", assignee, "phone")
    return made


def targets(role: str, channel: str) -> dict[str, object]:
    """Every target, by the name the expectations use."""
    found = {name: conversation(*situation, channel) for name, situation in SITUATIONS.items()}
    found |= {
        "booking: their session": booking(
            therapist=ME, booked_by=COLLEAGUE, assignee=COLLEAGUE, shared=False
        ),
        "booking: their session, shared": booking(
            therapist=ME, booked_by=COLLEAGUE, assignee=COLLEAGUE, shared=True
        ),
        "booking: they booked it": booking(
            therapist=COLLEAGUE, booked_by=ME, assignee=COLLEAGUE, shared=True
        ),
        "booking: for their conversation": booking(
            therapist=COLLEAGUE, booked_by=COLLEAGUE, assignee=ME, shared=True
        ),
        "booking: someone else's": booking(
            therapist=COLLEAGUE, booked_by=COLLEAGUE, assignee=COLLEAGUE, shared=True
        ),
        "their own account": person(role),
        "a colleague's account": person("therapist", ident=COLLEAGUE),
        "their own token": ApiToken(id=5, user_id=ME),
        "a colleague's token": ApiToken(id=6, user_id=COLLEAGUE),
        "a service": Service(id=1, slug="helpwanted", name="Helpwanted"),
        "nothing": None,
    }
    return found


def test_the_expectations_name_every_action_of_the_rule_table():
    assert set(EXPECTED) == set(RULES)
    assert set(targets("counsellor", "chat")) == EVERYTHING


@pytest.mark.parametrize(("role", "channel"), list(itertools.product(ROLES, CHANNELS)))
def test_each_role_may_do_exactly_what_the_table_in_this_test_says(role, channel):
    me = person(role)
    wrong = [
        (action, name, allowed)
        for action, expected in EXPECTED.items()
        for name, target in targets(role, channel).items()
        if (allowed := can(me, action, target)) != (name in expected[role])
    ]

    assert wrong == []


@pytest.mark.parametrize(("role", "channel"), list(itertools.product(ROLES, CHANNELS)))
def test_a_switched_off_account_may_do_nothing_at_all(role, channel):
    me = person(role, active=False)
    allowed = [
        (action, name)
        for action in RULES
        for name, target in targets(role, channel).items()
        if can(me, action, target)
    ]

    assert allowed == []


def test_the_query_of_the_rules_finds_exactly_the_conversations_can_allows(app):
    """Searches read with `conversations_allowed`: for every role, switched on or off, and every
    action, it selects the conversations (each state, channel and assignee) that `can` allows."""
    people = [factories.staff_user(role, role=role) for role in ROLES]
    for role in ROLES:
        people.append(switched_off := factories.staff_user(f"Former {role}", role=role))
        switched_off.active = False
    db.session.commit()
    colleague = factories.staff_user("Colleague")
    made = [
        factories.conversation(channel=channel, state=state, assignee=assignee)
        for channel, state in itertools.product(CHANNELS, STATES)
        for assignee in [None, colleague, *people]
        if (assignee is None) == (state == "queued") or state in ("wrap_up", "closed")
    ]

    wrong = [
        (user.role, user.active, action)
        for user, action in itertools.product(people, RULES)
        if selected(conversations_allowed(user, action))
        != {conversation.id for conversation in made if can(user, action, conversation)}
    ]

    assert wrong == []
    assert len(made) == 3 * (1 + 9 + 10 + 10)


def selected(condition) -> set[int]:
    return set(db.session.scalars(select(Conversation.id).where(condition)))
