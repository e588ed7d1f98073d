"""Whether a staff member is available, away or on break: the status they choose in the inbox
header, kept as periods (start, end) for the board and the report of hours available.

Being online opens a period, in the status chosen last when the connection dropped only a
moment ago (a flaky network does not make someone available), else as available. Signing out,
or the last inbox socket going, ends it. Who is away or on break is offered no transfers and no
calls; someone without a period (offline, or using the API only) is not held back by it.
"""

from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox import board, broadcast
from helpline.inbox.errors import InboxError, InvalidInput
from helpline.inbox.models import STAFF_STATUSES, StaffStatusPeriod
from helpline.inbox.permissions import can, require
from helpline.timeutil import iso, utcnow

# A connection that comes back within this long resumes the status chosen before it dropped.
RESUME_WITHIN = timedelta(minutes=10)


class Unavailable(InboxError):
    code = "unavailable"
    default_message = "That colleague is away and takes no chats now."


def status_of(user_id: int) -> str | None:
    """The staff member's status now; None when they are offline."""
    return statuses([user_id]).get(user_id)


def statuses(user_ids: list[int] | None = None) -> dict[int, str]:
    """The status now of these staff members (of everyone online when None); offline left out."""
    query = select(StaffStatusPeriod.user_id, StaffStatusPeriod.status).where(
        StaffStatusPeriod.ended_at.is_(None)
    )
    if user_ids is not None:
        if not user_ids:
            return {}
        query = query.where(StaffStatusPeriod.user_id.in_(user_ids))
    return dict(db.session.execute(query).all())


def away(user_id_column):
    """SQL: the staff member in `user_id_column` is away or on break now."""
    return exists().where(
        StaffStatusPeriod.user_id == user_id_column,
        StaffStatusPeriod.ended_at.is_(None),
        StaffStatusPeriod.status != "available",
    )


def refuse_if_away(user: StaffUser) -> None:
    """Raise Unavailable when this staff member is away or on break."""
    status = status_of(user.id)
    if status not in (None, "available"):
        db.session.rollback()
        what = "on a break" if status == "on_break" else "away"
        raise Unavailable(f"{user.display_name} is {what} and takes no chats now.")


def set_status(user: StaffUser, status: str, now: datetime | None = None) -> str:
    """Change a staff member's status: the open period ends, one in the new status starts."""
    require(user, "set_status")
    if status not in STAFF_STATUSES:
        raise InvalidInput("Choose available, away or on break.")
    now = now or utcnow()
    if status_of(user.id) != status:
        _end_open(user.id, now)
        db.session.add(StaffStatusPeriod(user_id=user.id, status=status, started_at=now))
        db.session.commit()
        _announce(user.id, status, now)
    return status


def came_online(user: StaffUser, now: datetime | None = None) -> None:
    """A staff member's inbox connected: open their period unless one is open already."""
    if not can(user, "set_status") or status_of(user.id) is not None:
        db.session.rollback()
        return
    now = now or utcnow()
    last = db.session.execute(
        select(StaffStatusPeriod.status, StaffStatusPeriod.ended_at)
        .where(StaffStatusPeriod.user_id == user.id)
        .order_by(StaffStatusPeriod.started_at.desc(), StaffStatusPeriod.id.desc())
        .limit(1)
    ).first()
    resume = last is not None and last.ended_at is not None and now - last.ended_at < RESUME_WITHIN
    status = last.status if resume else "available"
    db.session.add(StaffStatusPeriod(user_id=user.id, status=status, started_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        # Another socket of theirs opened the period at the same moment.
        db.session.rollback()
        return
    _announce(user.id, status, now)


def went_offline(user_id: int, now: datetime | None = None) -> None:
    """The staff member signed out, or their last inbox connection went: end their period."""
    now = now or utcnow()
    if _end_open(user_id, now):
        db.session.commit()
    else:
        db.session.rollback()
    board.changed()


def _end_open(user_id: int, now: datetime) -> bool:
    """End the open period, in this transaction; False when there was none."""
    result = db.session.execute(
        update(StaffStatusPeriod)
        .where(StaffStatusPeriod.user_id == user_id, StaffStatusPeriod.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount > 0


def _announce(user_id: int, status: str, now: datetime) -> None:
    """Tell the person's other tabs, and the board."""
    broadcast.to_staff("status", {"status": status, "since": iso(now)}, user_id)
    board.changed()
