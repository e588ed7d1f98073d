"""Where a person was referred to (a take-down request, the police, treatment), with its date."""

from datetime import date, timedelta

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import audit, find
from helpline.inbox.errors import InvalidState, NotFound
from helpline.inbox.models import Referral
from helpline.inbox.payloads import referral_payload
from helpline.inbox.permissions import require
from helpline.timeutil import local_today


def add_referral(
    conversation_id: int,
    user: StaffUser,
    kind: str,
    referred_on: date,
    note: str | None,
) -> dict:
    """Record where the person was referred to (e.g. a take-down request), with its date."""
    conversation = find.by_id(conversation_id)
    require(user, "refer", conversation)
    if referred_on > local_today() + timedelta(days=1):
        raise InvalidState("A referral cannot be dated in the future.")
    if referred_on < conversation.created_at.date() - timedelta(days=1):
        raise InvalidState("A referral cannot be dated before the conversation.")
    referral = Referral(
        conversation_id=conversation.id,
        kind=kind,
        referred_on=referred_on,
        note=(note or "").strip() or None,
        created_by_id=user.id,
    )
    db.session.add(referral)
    db.session.flush()
    audit.record(user, "referral.add", conversation, {"referral": referral.id, "kind": kind})
    db.session.commit()
    return referral_payload(referral)


def remove_referral(conversation_id: int, referral_id: int, user: StaffUser) -> None:
    """Take back a referral recorded by mistake (audited)."""
    conversation = find.by_id(conversation_id)
    require(user, "refer", conversation)
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.conversation_id != conversation.id:
        raise NotFound("That referral does not exist.")
    db.session.delete(referral)
    detail = {"referral": referral_id, "kind": referral.kind}
    audit.record(user, "referral.remove", conversation, detail)
    db.session.commit()
