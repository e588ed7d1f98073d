"""The therapist's calendar feed: a secret address per therapist, and the sessions it lists."""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from helpline.auth.models import StaffUser
from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.followup.models import Booking
from helpline.inbox import audit
from helpline.inbox.permissions import require
from helpline.timeutil import utcnow


def rotate_calendar_token(user: StaffUser) -> str:
    """A new secret address for the therapist's calendar feed; the old one stops working."""
    require(user, "keep_calendar")
    token = secrets.token_urlsafe(32)
    user.calendar_token_hash = _calendar_hash(token)
    audit.audit_change(user, "followup.calendar_rotate", {"therapist": user.id})
    return token


def calendar_owner(token: str) -> StaffUser | None:
    """The active therapist whose feed this secret opens, or None."""
    return db.session.scalar(
        select(StaffUser).where(
            StaffUser.calendar_token_hash == _calendar_hash(token),
            StaffUser.role == "therapist",
            StaffUser.active.is_(True),
        )
    )


def calendar_sessions(
    therapist: StaffUser, past_days: int = 30, now: datetime | None = None
) -> list[Booking]:
    """A therapist's sessions for the feed: times, method and status, nothing of the client."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.therapist_id == therapist.id,
                Booking.starts_at >= now - timedelta(days=past_days),
            )
            .order_by(Booking.starts_at, Booking.id)
        )
    )


def _calendar_hash(token: str) -> str:
    return keyed_hash("calendar", token)
