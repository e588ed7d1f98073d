"""Purging what people said from conversations closed longer ago than their service keeps it.

Purged per conversation: the text of every message and private note (events such as "Incoming
call." stay), the summary, the form's answers and e-mail address, the caller's number (sealed
and last two digits) and voicemail (deleted at Twilio), referral notes, the follow-up sessions'
number and free text, survey comments, and the reasons counsellors gave for blocking the
conversation's visitor. Kept: the conversation's times, channel and
categories, its anonymous client, contact moments, follow-up statuses and survey answers, so
every figure of the reports stays the same.
"""

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from helpline.abuse.models import VisitorBlock
from helpline.extensions import db
from helpline.followup.models import Booking
from helpline.forms.models import FormSubmission
from helpline.inbox.models import AuditEntry, Conversation, Message, Referral, Service
from helpline.phone import rest
from helpline.phone.models import PhoneLine
from helpline.survey.models import SurveyAnswer
from helpline.timeutil import utcnow

logger = logging.getLogger(__name__)

# Conversations per transaction: a batch holds SQLite's write lock, or its rows, only briefly.
BATCH_SIZE = 200
# How long a purge holds its service against other servers; renewed with every batch, so only
# a server that died while purging lets another one in, once this has passed.
LEASE = timedelta(minutes=10)
# A block keeps that it had a reason (the table requires one), not what the counsellor wrote.
REMOVED_REASON = "(removed after the retention period)"


@dataclass
class Purged:
    """What one run purged from one service: counts, never content."""

    service: str
    days: int
    conversations: int = 0
    messages: int = 0
    notes: int = 0
    summaries: int = 0
    forms: int = 0
    numbers: int = 0
    voicemails: int = 0
    referrals: int = 0
    followups: int = 0
    surveys: int = 0
    blocks: int = 0
    # Left for a later run: Twilio could not delete their voicemail now.
    postponed: int = 0

    def counts(self) -> dict[str, int]:
        """Every count by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("service", "days")
        }


def purge(now: datetime | None = None, batch_size: int = BATCH_SIZE) -> list[Purged]:
    """Purge every service that no other server is purging at the moment."""
    now = now or utcnow()
    service_ids = list(db.session.scalars(select(Service.id).order_by(Service.id)))
    db.session.rollback()
    done = (purge_service(service_id, now, batch_size) for service_id in service_ids)
    return [purged for purged in done if purged is not None]


def purge_service(service_id: int, now: datetime, batch_size: int = BATCH_SIZE) -> Purged | None:
    """Purge one service's conversations closed for longer than its retention period, in
    batches, audited once. None when another server is purging this service."""
    lease = _take_lease(service_id)
    if lease is None:
        return None
    try:
        service = db.session.get(Service, service_id)
        purged = Purged(service.slug, service.retention_days)
        cutoff = now - timedelta(days=service.retention_days)
        db.session.rollback()
        after = 0
        while lease is not None:
            due = _due(service_id, cutoff, after, batch_size)
            if not due:
                break
            after = due[-1]
            lease = _purge_batch(service_id, due, lease, now, purged)
        if purged.conversations or purged.postponed:
            detail = {"service": purged.service, "days": purged.days, **purged.counts()}
            db.session.add(AuditEntry(action="retention.purge", detail=detail))
            db.session.commit()
    finally:
        _release_lease(service_id, lease)
    return purged


def _due(service_id: int, cutoff: datetime, after: int, limit: int) -> list[int]:
    """The next conversations to purge, by id after `after` (a postponed one waits for the
    next run)."""
    due = list(
        db.session.scalars(
            select(Conversation.id)
            .where(
                Conversation.service_id == service_id,
                Conversation.state == "closed",
                Conversation.closed_at < cutoff,
                Conversation.purged_at.is_(None),
                Conversation.id > after,
            )
            .order_by(Conversation.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return due


def _purge_batch(
    service_id: int, due: list[int], lease: datetime, now: datetime, purged: Purged
) -> datetime | None:
    """Purge a batch in one transaction, after deleting its voicemails at Twilio. Returns the
    renewed lease, or None when another server has taken the service over (nothing written)."""
    deleted, postponed = _delete_voicemails(due)
    renewed = _renew_lease(service_id, lease)
    if renewed is None:
        db.session.rollback()
        return None
    ids = [conversation_id for conversation_id in due if conversation_id not in postponed]
    counts = _blank(ids, deleted, now) if ids else {}
    db.session.commit()
    for name, count in counts.items():
        setattr(purged, name, getattr(purged, name) + count)
    purged.postponed += len(postponed)
    return renewed


def _delete_voicemails(due: list[int]) -> tuple[list[int], set[int]]:
    """Delete the batch's voicemails at Twilio, with no transaction open meanwhile. Returns
    the conversations whose voicemail is gone, and those whose could not be deleted now."""
    recordings = db.session.execute(
        select(PhoneLine.conversation_id, PhoneLine.recording_sid).where(
            PhoneLine.conversation_id.in_(due),
            PhoneLine.recording_sid.is_not(None),
            PhoneLine.recording_deleted_at.is_(None),
        )
    ).all()
    db.session.rollback()
    deleted, postponed = [], set()
    for conversation_id, recording_sid in recordings:
        try:
            rest.delete_recording(recording_sid)
        except rest.PhoneUnavailable:
            logger.warning("retention: Twilio could not delete a voicemail; it is tried again")
            postponed.add(conversation_id)
            continue
        deleted.append(conversation_id)
    return deleted, postponed


def _blank(ids: list[int], voicemails_deleted: list[int], now: datetime) -> dict[str, int]:
    """Empty everything said in these conversations and mark them purged; counts per kind."""
    return {
        **_blank_messages_and_forms(ids),
        **_blank_phone_lines(ids, voicemails_deleted, now),
        **_blank_linked_records(ids),
        "conversations": _set(
            Conversation,
            [Conversation.id.in_(ids), Conversation.purged_at.is_(None)],
            purged_at=now,
        ),
    }


def _blank_messages_and_forms(ids: list[int]) -> dict[str, int]:
    """Empty the messages, private notes, summaries and form answers; counts per kind."""
    return {
        "messages": _set(
            Message, [Message.conversation_id.in_(ids), Message.kind == "text"], body=""
        ),
        "notes": _set(Message, [Message.conversation_id.in_(ids), Message.kind == "note"], body=""),
        "summaries": _set(
            Conversation,
            [Conversation.id.in_(ids), Conversation.summary.is_not(None)],
            summary=None,
        ),
        "forms": _set(
            FormSubmission,
            [FormSubmission.conversation_id.in_(ids)],
            answers={},
            notify_email=None,
        ),
    }


def _blank_phone_lines(
    ids: list[int], voicemails_deleted: list[int], now: datetime
) -> dict[str, int]:
    """Forget the callers' numbers, and the voicemails Twilio has deleted; counts per kind."""
    return {
        "numbers": _set(
            PhoneLine,
            [
                PhoneLine.conversation_id.in_(ids),
                or_(PhoneLine.sealed_number.is_not(None), PhoneLine.masked_number.is_not(None)),
            ],
            sealed_number=None,
            masked_number=None,
        ),
        "voicemails": _set(
            PhoneLine,
            [PhoneLine.conversation_id.in_(voicemails_deleted)],
            recording_url=None,
            recording_deleted_at=now,
        ),
    }


def _blank_linked_records(ids: list[int]) -> dict[str, int]:
    """Empty referral notes, follow-up numbers and text, survey comments and block reasons."""
    return {
        "referrals": _set(
            Referral, [Referral.conversation_id.in_(ids), Referral.note.is_not(None)], note=None
        ),
        "followups": _set(
            Booking,
            [
                Booking.conversation_id.in_(ids),
                or_(
                    Booking.sealed_number.is_not(None),
                    Booking.cancel_reason.is_not(None),
                    Booking.outcome_note.is_not(None),
                ),
            ],
            sealed_number=None,
            cancel_reason=None,
            outcome_note=None,
        ),
        "surveys": _set(
            SurveyAnswer,
            [SurveyAnswer.conversation_id.in_(ids), SurveyAnswer.comment.is_not(None)],
            comment=None,
        ),
        "blocks": _set(
            VisitorBlock,
            [VisitorBlock.conversation_id.in_(ids), VisitorBlock.reason != REMOVED_REASON],
            reason=REMOVED_REASON,
        ),
    }


def _set(model: type[db.Model], where: list, **values) -> int:
    """UPDATE model SET values WHERE where; the number of rows."""
    result = db.session.execute(
        update(model).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- one server at a time ---------------------------------------------------------------------


def _take_lease(service_id: int) -> datetime | None:
    """Hold the service's purge unless another server holds it (a conditional UPDATE)."""
    now = utcnow()
    until = now + LEASE
    taken = _set(
        Service,
        [
            Service.id == service_id,
            or_(Service.retention_lease_until.is_(None), Service.retention_lease_until < now),
        ],
        retention_lease_until=until,
    )
    db.session.commit()
    return until if taken else None


def _renew_lease(service_id: int, lease: datetime) -> datetime | None:
    """Hold the service a while longer, in the batch's transaction, if it is still ours."""
    until = max(utcnow() + LEASE, lease)
    renewed = _set(
        Service,
        [Service.id == service_id, Service.retention_lease_until == lease],
        retention_lease_until=until,
    )
    return until if renewed else None


def _release_lease(service_id: int, lease: datetime | None) -> None:
    db.session.rollback()
    if lease is None:
        return
    _set(
        Service,
        [Service.id == service_id, Service.retention_lease_until == lease],
        retention_lease_until=None,
    )
    db.session.commit()
