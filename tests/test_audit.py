"""The audit log: a staff member's reads and changes have their entries, written with the change
itself, and changes that concern no single conversation are logged without one."""

from datetime import date, time

from sqlalchemy import select

from helpline.api import service as api
from helpline.extensions import db
from helpline.followup import calendar_feed, therapists
from helpline.inbox.models import AuditEntry, Conversation
from tests import factories
from tests.test_logs import database_refuses
from tests.test_privacy import everything_stored


def test_privacy_a_staff_action_whose_audit_entry_cannot_be_written_does_not_happen(
    app, visitor, counsellor
):
    person = visitor()
    person.say("hoi")
    anna = counsellor()
    assert anna.claim(1)["ok"]
    person.received("message")  # "Anna joined the conversation."
    with database_refuses("audit_entry"):
        replied = anna.say(1, "Dit antwoord wordt niet bewaard")
        ended = anna.emit("end", {"conversation_id": 1})

    assert not replied["ok"] and not ended["ok"]
    db.session.rollback()
    assert "Dit antwoord wordt niet bewaard" not in everything_stored()
    assert db.session.get(Conversation, 1).state == "active"
    assert person.received("message") == []


def test_privacy_changes_that_concern_no_single_conversation_are_audited_without_one(app):
    eva = factories.staff_user("Eva", role="therapist")

    therapists.add_rule(eva, eva.id, 0, time(10), time(12), 45, valid_from=date(2026, 1, 1))
    calendar = calendar_feed.rotate_calendar_token(eva)
    made = api.create_token(eva, "laptop")
    api.revoke_token(eva, made.token.id)

    db.session.rollback()
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.actor_id, e.action, e.conversation_id) for e in entries] == [
        (eva.id, "availability.add_rule", None),
        (eva.id, "followup.calendar_rotate", None),
        (eva.id, "api_token.create", None),
        (eva.id, "api_token.revoke", None),
    ]
    assert entries[2].detail == entries[3].detail == {"prefix": made.token.prefix}
    for secret in (calendar, made.value):
        assert secret not in str([e.detail for e in entries])
