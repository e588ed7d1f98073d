"""Therapists and when they can be booked: weekly blocks, exceptions, and the free slots.

Availability is written in local wall-clock time and cut into slots per day, so a weekly
"Monday 10:00" is 09:00 UTC in winter and 08:00 UTC in summer.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.followup.errors import OutsideAvailability, SlotInPast, SlotTaken
from helpline.followup.models import HOLDING, AvailabilityException, AvailabilityRule, Booking
from helpline.inbox import audit
from helpline.inbox.errors import InvalidState, NotFound
from helpline.inbox.permissions import require
from helpline.timeutil import local_today, to_local, to_utc, utcnow

# How far ahead counsellors can book.
HORIZON_DAYS = 42


@dataclass(frozen=True)
class Slot:
    """A free session time of one therapist, in UTC."""

    therapist_id: int
    starts_at: datetime
    ends_at: datetime


def therapists() -> list[StaffUser]:
    """Active therapists, by name."""
    return list(
        db.session.scalars(
            select(StaffUser)
            .where(StaffUser.role == "therapist", StaffUser.active.is_(True))
            .order_by(StaffUser.display_name)
        )
    )


def add_rule(
    user: StaffUser,
    therapist_id: int,
    weekday: int,
    starts: time,
    ends: time,
    slot_minutes: int = 45,
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> AvailabilityRule:
    """A weekly block of sessions, e.g. Mondays 10:00-12:00 in slots of 45 minutes."""
    therapist = _therapist_managed_by(user, therapist_id)
    if ends <= starts:
        raise InvalidState("The block must end after it starts.")
    if valid_until is not None and valid_from is not None and valid_until < valid_from:
        raise InvalidState("The last day must not be before the first.")
    rule = AvailabilityRule(
        therapist_id=therapist.id,
        weekday=weekday,
        starts=starts,
        ends=ends,
        slot_minutes=slot_minutes,
        valid_from=valid_from or local_today(),
        valid_until=valid_until,
    )
    db.session.add(rule)
    audit.audit_change(user, "availability.add_rule", {"therapist": therapist.id})
    return rule


def remove_rule(user: StaffUser, rule_id: int) -> None:
    """Stop a weekly block; booked sessions in it stay booked."""
    _remove(user, AvailabilityRule, rule_id, "That block does not exist.", "remove_rule")


def _remove(
    user: StaffUser,
    model: type[AvailabilityRule] | type[AvailabilityException],
    row_id: int,
    missing: str,
    action: str,
) -> None:
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(missing)
    _therapist_managed_by(user, row.therapist_id)
    db.session.delete(row)
    audit.audit_change(user, f"availability.{action}", {"therapist": row.therapist_id})


def add_exception(
    user: StaffUser,
    therapist_id: int,
    day: date,
    kind: str,
    starts: time | None = None,
    ends: time | None = None,
    slot_minutes: int = 45,
    note: str | None = None,
) -> AvailabilityException:
    """A day off (whole day or a period), or an extra block on one day."""
    therapist = _therapist_managed_by(user, therapist_id)
    if (starts is None) != (ends is None):
        raise InvalidState("Give both a start and an end, or neither for the whole day.")
    if kind == "extra" and starts is None:
        raise InvalidState("An extra block needs a start and an end.")
    if starts is not None and ends <= starts:
        raise InvalidState("The period must end after it starts.")
    exception = AvailabilityException(
        therapist_id=therapist.id,
        day=day,
        kind=kind,
        starts=starts,
        ends=ends,
        slot_minutes=slot_minutes,
        note=(note or "").strip() or None,
    )
    db.session.add(exception)
    audit.audit_change(user, "availability.add_exception", {"therapist": therapist.id})
    return exception


def remove_exception(user: StaffUser, exception_id: int) -> None:
    """Take back a day off or an extra block."""
    missing = "That exception does not exist."
    _remove(user, AvailabilityException, exception_id, missing, "remove_exception")


def availability(therapist_id: int) -> dict:
    """A therapist's weekly blocks and exceptions (from today on)."""
    rules = db.session.scalars(
        select(AvailabilityRule)
        .where(
            AvailabilityRule.therapist_id == therapist_id,
            or_(
                AvailabilityRule.valid_until.is_(None),
                AvailabilityRule.valid_until >= local_today(),
            ),
        )
        .order_by(AvailabilityRule.weekday, AvailabilityRule.starts)
    )
    exceptions = db.session.scalars(
        select(AvailabilityException)
        .where(
            AvailabilityException.therapist_id == therapist_id,
            AvailabilityException.day >= local_today(),
        )
        .order_by(AvailabilityException.day, AvailabilityException.starts)
    )
    return {"rules": list(rules), "exceptions": list(exceptions)}


def free_slots(
    therapist_id: int | None = None,
    first_day: date | None = None,
    days: int = 14,
    now: datetime | None = None,
) -> list[Slot]:
    """Bookable session times from `first_day` (local) for `days` days, earliest first."""
    now = now or utcnow()
    first_day = first_day or to_local(now).date()
    last_day = first_day + timedelta(days=days - 1)
    people = [t.id for t in therapists()] if therapist_id is None else [therapist_id]
    if not people:
        return []
    taken = {
        (therapist, start)
        for therapist, start in db.session.execute(
            select(Booking.therapist_id, Booking.starts_at).where(
                Booking.therapist_id.in_(people),
                Booking.status.in_(HOLDING),
                Booking.starts_at >= to_utc(first_day, time(0)),
                Booking.starts_at < to_utc(last_day + timedelta(days=1), time(0)),
            )
        )
    }
    slots = [
        slot
        for slot in _offered(people, first_day, last_day)
        if slot.starts_at > now and (slot.therapist_id, slot.starts_at) not in taken
    ]
    return sorted(slots, key=lambda s: (s.starts_at, s.therapist_id))


def therapist_managed_by(user: StaffUser, therapist_id: int) -> StaffUser:
    """The therapist whose availability `user` may see and change (themself, or as a lead)."""
    return _therapist_managed_by(user, therapist_id)


def check_slot(therapist_id: int, starts_at: datetime, now: datetime) -> Slot:
    """The therapist's free slot starting at `starts_at`, or why it cannot be booked."""
    if _therapist(therapist_id, active=True) is None:
        raise NotFound("That therapist does not exist.")
    if starts_at <= now:
        raise SlotInPast()
    if starts_at > now + timedelta(days=HORIZON_DAYS):
        raise OutsideAvailability(f"Sessions can be booked up to {HORIZON_DAYS} days ahead.")
    day = to_local(starts_at).date()
    offered = [s for s in _offered([therapist_id], day, day) if s.starts_at == starts_at]
    if not offered:
        raise OutsideAvailability()
    taken = db.session.scalar(
        select(Booking.id).where(
            Booking.therapist_id == therapist_id,
            Booking.starts_at == starts_at,
            Booking.status.in_(HOLDING),
        )
    )
    if taken is not None:
        raise SlotTaken()
    return offered[0]


def _offered(people: list[int], first_day: date, last_day: date) -> list[Slot]:
    rules = list(
        db.session.scalars(
            select(AvailabilityRule).where(
                AvailabilityRule.therapist_id.in_(people),
                AvailabilityRule.valid_from <= last_day,
                or_(
                    AvailabilityRule.valid_until.is_(None),
                    AvailabilityRule.valid_until >= first_day,
                ),
            )
        )
    )
    exceptions = list(
        db.session.scalars(
            select(AvailabilityException).where(
                AvailabilityException.therapist_id.in_(people),
                AvailabilityException.day.between(first_day, last_day),
            )
        )
    )
    slots = []
    day = first_day
    while day <= last_day:
        for therapist_id in people:
            blocks = [
                (r.starts, r.ends, r.slot_minutes)
                for r in rules
                if r.therapist_id == therapist_id
                and r.weekday == day.weekday()
                and r.valid_from <= day
                and (r.valid_until is None or day <= r.valid_until)
            ]
            todays = [e for e in exceptions if e.therapist_id == therapist_id and e.day == day]
            blocks += [(e.starts, e.ends, e.slot_minutes) for e in todays if e.kind == "extra"]
            off = [e for e in todays if e.kind == "unavailable"]
            for starts, ends, minutes in blocks:
                for start_local, end_local in _cut(day, starts, ends, minutes):
                    if any(_overlaps(e, start_local, end_local) for e in off):
                        continue
                    slots.append(
                        Slot(
                            therapist_id,
                            to_utc(day, start_local.time()),
                            to_utc(end_local.date(), end_local.time()),
                        )
                    )
        day += timedelta(days=1)
    return list(dict.fromkeys(slots))


def _cut(day: date, starts: time, ends: time, minutes: int):
    start = datetime.combine(day, starts)
    end = datetime.combine(day, ends)
    step = timedelta(minutes=minutes)
    while start + step <= end:
        yield start, start + step
        start += step


def _overlaps(exception: AvailabilityException, start: datetime, end: datetime) -> bool:
    if exception.starts is None:
        return True
    off_start = datetime.combine(exception.day, exception.starts)
    off_end = datetime.combine(exception.day, exception.ends)
    return start < off_end and off_start < end


def _therapist(therapist_id: int, *, active: bool = False) -> StaffUser | None:
    """The staff member with this id if they are a therapist (and active, if asked)."""
    query = select(StaffUser).where(StaffUser.id == therapist_id, StaffUser.role == "therapist")
    if active:
        query = query.where(StaffUser.active.is_(True))
    return db.session.scalar(query)


def _therapist_managed_by(user: StaffUser, therapist_id: int) -> StaffUser:
    therapist = _therapist(therapist_id)
    if therapist is None:
        raise NotFound("That therapist does not exist.")
    require(user, "manage_availability", therapist)
    return therapist
