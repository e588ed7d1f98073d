"""The audit log: every staff read of a contact and every change staff make."""

from sqlalchemy import insert

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.models import AuditEntry, Conversation


def record(
    user: StaffUser, action: str, conversation: Conversation | None, detail: dict | None = None
) -> None:
    """Add an audit entry to the session's transaction; the caller commits it with its change.

    A Core INSERT (every staff message writes one): after a flush, so that a conversation new
    in this transaction has its id."""
    db.session.flush()
    values = {
        "actor_id": user.id,
        "action": action,
        "conversation_id": conversation.id if conversation else None,
        "detail": detail,
    }
    db.session.connection().execute(_insert_entry, values)


# A Core INSERT, built once: no unit of work for a row nothing reads back.
_insert_entry = insert(AuditEntry.__table__)


def audit(user: StaffUser, action: str, conversation: Conversation) -> None:
    """Record a staff member's read of a contact outside the inbox's own reads."""
    record(user, action, conversation)
    db.session.commit()


def audit_reads(user: StaffUser, action: str, conversation_ids: list[int]) -> None:
    """Record that a staff member saw (part of) these conversations, one entry each."""
    for conversation_id in dict.fromkeys(conversation_ids):
        db.session.add(AuditEntry(actor_id=user.id, action=action, conversation_id=conversation_id))
    db.session.commit()


def audit_change(user: StaffUser, action: str, detail: dict) -> None:
    """Commit a change that concerns no single contact (availability, categories), audited."""
    record(user, action, None, detail)
    db.session.commit()
