"""Hours available: how long staff who take a service's chats were online in status
available, per service and ISO week (local time). Definitions: docs/reports.md."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.models import Service, StaffStatusPeriod
from helpline.inbox.permissions import can
from helpline.timeutil import utcnow, zone


def hours_available(
    start: datetime, end: datetime, service_slug: str | None = None, now: datetime | None = None
) -> list[dict]:
    """Rows of service, ISO week ("2026-W49") and hours between `start` and `end` (naive
    UTC), for weeks in which anyone was available; a period still open counts until `now`."""
    now = now or utcnow()
    end = min(end, now)
    rows = db.session.execute(
        select(
            StaffStatusPeriod.user_id,
            StaffStatusPeriod.started_at,
            func.coalesce(StaffStatusPeriod.ended_at, now),
        ).where(
            StaffStatusPeriod.status == "available",
            StaffStatusPeriod.started_at < end,
            or_(StaffStatusPeriod.ended_at.is_(None), StaffStatusPeriod.ended_at > start),
        )
    ).all()
    per_person: dict[tuple[int, str], float] = defaultdict(float)
    for user_id, started, ended in rows:
        for week, seconds in _split_by_week(max(started, start), min(ended, end)):
            per_person[(user_id, week)] += seconds
    staff = {s.id: s for s in db.session.scalars(select(StaffUser))}
    services = select(Service).order_by(Service.id)
    if service_slug is not None:
        services = services.where(Service.slug == service_slug)
    weeks = sorted({week for _user, week in per_person})
    result = []
    for service in db.session.scalars(services):
        takers = {i for i, s in staff.items() if can(s, "receive_transfer", service)}
        for week in weeks:
            seconds = sum(
                v for (user_id, w), v in per_person.items() if w == week and user_id in takers
            )
            result.append(
                {
                    "service": service.slug,
                    "service_name": service.name,
                    "week": week,
                    "hours": round(seconds / 3600, 1),
                }
            )
    return result


def _split_by_week(start: datetime, end: datetime) -> list[tuple[str, float]]:
    """(ISO week, seconds) of a stretch of naive UTC time, cut at local Monday midnights."""
    pieces = []
    local_zone = zone()
    cursor = start
    while cursor < end:
        local = cursor.replace(tzinfo=UTC).astimezone(local_zone)
        monday = (local - timedelta(days=local.weekday())).date()
        next_monday = datetime.combine(monday + timedelta(days=7), datetime.min.time(), local_zone)
        boundary = next_monday.astimezone(UTC).replace(tzinfo=None)
        piece_end = min(end, boundary)
        year, week, _day = local.isocalendar()
        pieces.append((f"{year}-W{week:02d}", (piece_end - cursor).total_seconds()))
        cursor = piece_end
    return pieces
