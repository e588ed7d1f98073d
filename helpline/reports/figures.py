"""The annual-report figures, computed from the data for any period.

Definitions (docs/reports.md):
- a contact moment is one inbound contact or one callback (ContactMoment), counted in the
  period in which it started;
- a contact is a conversation opened in the period; its categories are counted once each, so a
  contact with two categories counts in both, and the unique total counts it once;
- unique people are the distinct anonymous clients behind the period's contact moments (a
  conversation without a known client counts as one person);
- waiting time is from joining the queue to a counsellor taking the conversation; first response
  is from opening to the first counsellor message (chats and forms) or to being taken (calls);
- the follow-up funnel counts bookings made in the period; a rescheduled booking counts once,
  as its latest booking.

Every figure is an aggregate in SQL, so a year of 300,000 contact moments stays fast; only the
percentiles on SQLite (which has none) are computed in Python.
"""

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Integer, and_, case, cast, distinct, func, select

from helpline.extensions import db
from helpline.followup.models import Booking
from helpline.inbox.models import (
    CHANNELS,
    Category,
    ContactMoment,
    Conversation,
    ConversationCategory,
    Service,
)
from helpline.survey.models import QUESTIONS, SurveyAnswer
from helpline.timeutil import to_local, to_utc

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Period:
    """Local dates from `first` to `last`, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return to_utc(self.first, time(0))

    @property
    def end(self) -> datetime:
        return to_utc(self.last + timedelta(days=1), time(0))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> "Period":
        """The period of the same length just before this one (a year before a year)."""
        if (
            self.first.month == 1
            and self.first.day == 1
            and self.last == date(self.first.year, 12, 31)
        ):
            return Period(date(self.first.year - 1, 1, 1), date(self.first.year - 1, 12, 31))
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    @classmethod
    def year(cls, year: int) -> "Period":
        return cls(date(year, 1, 1), date(year, 12, 31))


@dataclass
class Report:
    """Every table of the report, for one period and one service (or all)."""

    period: Period
    service: str | None
    moments: dict = field(default_factory=dict)
    people: dict = field(default_factory=dict)
    categories: list = field(default_factory=list)
    growth: dict = field(default_factory=dict)
    funnel: dict = field(default_factory=dict)
    survey: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)
    abandoned: dict = field(default_factory=dict)
    week: list = field(default_factory=list)


def report(period: Period, service_slug: str | None = None) -> Report:
    """All figures of the report for `period`, for one service or (None) the organisation."""
    service_id = _service_id(service_slug)
    result = Report(period=period, service=service_slug)
    result.moments = contact_moments(period, service_id)
    result.people = people(period, service_id)
    result.categories = categories(period, service_id)
    previous = period.previous()
    before_moments = contact_moments(previous, service_id)
    before_people = people(previous, service_id)
    result.growth = {
        "previous_first": previous.first,
        "previous_last": previous.last,
        "moments": (before_moments["total"], result.moments["total"]),
        "moments_change": _change(before_moments["total"], result.moments["total"]),
        "people": (before_people["unique"], result.people["unique"]),
        "people_change": _change(before_people["unique"], result.people["unique"]),
    }
    result.funnel = funnel(period, service_id)
    result.survey = survey(period, service_id)
    result.times = times(period, service_id)
    result.abandoned = abandoned(period, service_id)
    result.week = week(period, service_id)
    return result


def contact_moments(period: Period, service_id: int | None) -> dict:
    """Contact moments per channel, split into inbound contacts and callbacks."""
    query = (
        select(Conversation.channel, ContactMoment.kind, func.count())
        .join(Conversation, Conversation.id == ContactMoment.conversation_id)
        .where(ContactMoment.started_at >= period.start, ContactMoment.started_at < period.end)
        .group_by(Conversation.channel, ContactMoment.kind)
    )
    if service_id is not None:
        query = query.where(Conversation.service_id == service_id)
    rows = {channel: {"inbound": 0, "callback": 0, "total": 0} for channel in CHANNELS}
    for channel, kind, count in db.session.execute(query):
        rows[channel][kind] += count
        rows[channel]["total"] += count
    return {
        "channels": rows,
        "inbound": sum(r["inbound"] for r in rows.values()),
        "callbacks": sum(r["callback"] for r in rows.values()),
        "total": sum(r["total"] for r in rows.values()),
    }


def people(period: Period, service_id: int | None) -> dict:
    """Unique people against contact moments, per channel and in all."""
    person = person_key()
    base = (
        select(Conversation.channel, func.count(distinct(person)), func.count())
        .select_from(ContactMoment)
        .join(Conversation, Conversation.id == ContactMoment.conversation_id)
        .where(ContactMoment.started_at >= period.start, ContactMoment.started_at < period.end)
    )
    if service_id is not None:
        base = base.where(Conversation.service_id == service_id)
    per_channel = {channel: {"unique": 0, "moments": 0} for channel in CHANNELS}
    for channel, unique, moments in db.session.execute(base.group_by(Conversation.channel)):
        per_channel[channel] = {"unique": unique, "moments": moments}
    total_query = (
        select(func.count(distinct(person)), func.count())
        .select_from(ContactMoment)
        .join(Conversation, Conversation.id == ContactMoment.conversation_id)
        .where(ContactMoment.started_at >= period.start, ContactMoment.started_at < period.end)
    )
    if service_id is not None:
        total_query = total_query.where(Conversation.service_id == service_id)
    unique, moments = db.session.execute(total_query).one()
    return {
        "channels": per_channel,
        "unique": unique,
        "moments": moments,
        "per_person": round(moments / unique, 2) if unique else None,
    }


def categories(period: Period, service_id: int | None) -> list[dict]:
    """Contacts (and people) per category; a last row with the unique totals."""
    in_period = and_(Conversation.created_at >= period.start, Conversation.created_at < period.end)
    person = person_key()
    query = (
        select(
            Category.id,
            Category.name,
            Category.parent_id,
            Category.retired_at,
            func.count(distinct(Conversation.id)),
            func.count(distinct(person)),
        )
        .join(ConversationCategory, ConversationCategory.category_id == Category.id)
        .join(Conversation, Conversation.id == ConversationCategory.conversation_id)
        .where(in_period)
        .group_by(Category.id, Category.name, Category.parent_id, Category.retired_at)
    )
    totals = (
        select(func.count(distinct(Conversation.id)), func.count(distinct(person)))
        .select_from(ConversationCategory)
        .join(Conversation, Conversation.id == ConversationCategory.conversation_id)
        .where(in_period)
    )
    if service_id is not None:
        query = query.where(Conversation.service_id == service_id)
        totals = totals.where(Conversation.service_id == service_id)
    order = {c.id: (c.position, c.id) for c in db.session.scalars(select(Category))}
    rows = [
        {
            "id": category_id,
            "name": name,
            "subcategory": parent_id is not None,
            "retired": retired_at is not None,
            "contacts": contacts,
            "people": persons,
        }
        for category_id, name, parent_id, retired_at, contacts, persons in db.session.execute(query)
    ]
    rows.sort(key=lambda r: order.get(r["id"], (0, 0)))
    contacts, persons = db.session.execute(totals).one()
    rows.append(
        {
            "id": None,
            "name": "Unique total",
            "subcategory": False,
            "retired": False,
            "contacts": contacts,
            "people": persons,
        }
    )
    return rows


def funnel(period: Period, service_id: int | None) -> dict:
    """Follow-up sessions booked in the period, and what became of them."""
    # A moved session counts once, as what became of its latest booking.
    latest = _latest_statuses(period, service_id)
    counts = {"booked": 0, "held": 0, "no_show": 0, "referred": 0, "cancelled": 0, "open": 0}
    for status in latest:
        counts["booked"] += 1
        if status in ("held", "referred"):
            counts["held"] += 1
        if status == "referred":
            counts["referred"] += 1
        if status == "no_show":
            counts["no_show"] += 1
        if status == "cancelled":
            counts["cancelled"] += 1
        if status == "booked":
            counts["open"] += 1
    booked = counts["booked"]
    return {
        **counts,
        "percent": {
            key: round(100 * counts[key] / booked, 1) if booked else None
            for key in ("held", "no_show", "referred", "cancelled", "open")
        },
    }


def survey(period: Period, service_id: int | None) -> dict:
    """Number of answers, and per question the share of yes among those who answered it."""
    columns = []
    for question in QUESTIONS:
        column = getattr(SurveyAnswer, question)
        columns += [
            func.count(column),
            func.coalesce(func.sum(case((column.is_(True), 1), else_=0)), 0),
        ]
    query = select(func.count(), *columns).where(
        SurveyAnswer.answered_at >= period.start, SurveyAnswer.answered_at < period.end
    )
    if service_id is not None:
        query = query.where(SurveyAnswer.service_id == service_id)
    row = db.session.execute(query).one()
    result = {"n": row[0], "questions": {}}
    for index, question in enumerate(QUESTIONS):
        answered, yes = row[1 + 2 * index], row[2 + 2 * index]
        result["questions"][question] = {
            "answered": answered,
            "yes": yes,
            "percent": round(100 * yes / answered, 1) if answered else None,
        }
    return result


def times(period: Period, service_id: int | None) -> dict:
    """Waiting time and first-response time per channel: median and 90th percentile, seconds."""
    in_period = and_(Conversation.created_at >= period.start, Conversation.created_at < period.end)
    first_response = case(
        (Conversation.channel == "phone", Conversation.assigned_at),
        else_=Conversation.first_response_at,
    )
    measures = {
        "waiting": (Conversation.waiting_since, Conversation.assigned_at),
        "first_response": (Conversation.created_at, first_response),
    }
    result: dict = {}
    for name, (start, end) in measures.items():
        seconds = _seconds_between(start, end)
        # Both ends must be known: a NULL start would count in n and break the SQLite median.
        measured = and_(in_period, start.is_not(None), end.is_not(None))
        query = select(Conversation.channel, seconds).where(measured)
        if service_id is not None:
            query = query.where(Conversation.service_id == service_id)
        result[name] = _percentiles(query, seconds, measured, service_id)
    return result


def abandoned(period: Period, service_id: int | None) -> dict:
    """Chats and calls that ended while still waiting."""
    query = (
        select(Conversation.channel, func.count())
        .where(
            Conversation.created_at >= period.start,
            Conversation.created_at < period.end,
            Conversation.abandoned.is_(True),
        )
        .group_by(Conversation.channel)
    )
    if service_id is not None:
        query = query.where(Conversation.service_id == service_id)
    counts = {channel: 0 for channel in CHANNELS}
    counts.update(dict(db.session.execute(query).all()))
    return {"channels": counts, "total": sum(counts.values())}


def week(period: Period, service_id: int | None) -> list[list[int]]:
    """Contact moments by local weekday (rows, Monday first) and hour (columns)."""
    # Group by UTC hour in SQL (at most 8,784 groups a year), then move each hour to local time
    # here: cheaper than converting every row's time zone, and the same on SQLite (which has no
    # time zones) as on PostgreSQL.
    if db.engine.dialect.name == "postgresql":
        utc_hour = func.date_trunc("hour", ContactMoment.started_at).label("utc_hour")
    else:
        utc_hour = func.strftime("%Y-%m-%d %H", ContactMoment.started_at).label("utc_hour")
    query = (
        select(utc_hour, func.count())
        .select_from(ContactMoment)
        .where(ContactMoment.started_at >= period.start, ContactMoment.started_at < period.end)
        .group_by(utc_hour)
    )
    if service_id is not None:
        query = query.join(Conversation, Conversation.id == ContactMoment.conversation_id).where(
            Conversation.service_id == service_id
        )
    grid = [[0] * 24 for _ in range(7)]
    for stamp, count in db.session.execute(query):
        if isinstance(stamp, str):
            stamp = datetime.strptime(stamp, "%Y-%m-%d %H")
        local = to_local(stamp)
        grid[local.weekday()][local.hour] += count
    return grid


def person_key():
    """One value per person: the client, or the conversation itself when no client is known."""
    return func.coalesce(
        cast(Conversation.client_id, Integer) * 2, cast(Conversation.id, Integer) * 2 + 1
    )


# --- internals ----------------------------------------------------------------------------------


def _service_id(slug: str | None) -> int | None:
    if slug is None:
        return None
    found = db.session.scalar(select(Service.id).where(Service.slug == slug))
    if found is None:
        raise LookupError(slug)
    return found


def _change(before: int, now: int) -> float | None:
    return round(100 * (now - before) / before, 1) if before else None


def _latest_statuses(period: Period, service_id: int | None) -> list[str]:
    # Chains of reschedules: follow each first booking of the period to its latest successor.
    query = select(Booking.id, Booking.status, Booking.rescheduled_from_id).join(
        Conversation, Conversation.id == Booking.conversation_id
    )
    if service_id is not None:
        query = query.where(Conversation.service_id == service_id)
    first = select(Booking.id).where(
        Booking.booked_at >= period.start,
        Booking.booked_at < period.end,
        Booking.rescheduled_from_id.is_(None),
    )
    if service_id is not None:
        first = first.join(Conversation, Conversation.id == Booking.conversation_id).where(
            Conversation.service_id == service_id
        )
    roots = set(db.session.scalars(first))
    if not roots:
        return []
    rows = db.session.execute(
        query.where((Booking.id.in_(roots)) | (Booking.rescheduled_from_id.is_not(None)))
    ).all()
    next_of = {previous: booking_id for booking_id, _, previous in rows if previous is not None}
    status_of = {booking_id: status for booking_id, status, _ in rows}
    latest = []
    for root in roots:
        current = root
        while current in next_of:
            current = next_of[current]
        latest.append(status_of.get(current, "booked"))
    return latest


def _seconds_between(start, end):
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _percentiles(query, seconds, measured, service_id) -> dict:
    result = {channel: {"n": 0, "median": None, "p90": None} for channel in CHANNELS}
    if db.engine.dialect.name == "postgresql":
        aggregate = select(
            Conversation.channel,
            func.count(),
            func.percentile_cont(0.5).within_group(seconds),
            func.percentile_cont(0.9).within_group(seconds),
        ).where(measured)
        if service_id is not None:
            aggregate = aggregate.where(Conversation.service_id == service_id)
        for channel, count, median, p90 in db.session.execute(
            aggregate.group_by(Conversation.channel)
        ):
            result[channel] = {"n": count, "median": _round(median), "p90": _round(p90)}
        return result
    values: dict[str, list[float]] = {}
    for channel, value in db.session.execute(query):
        values.setdefault(channel, []).append(float(value))
    for channel, found in values.items():
        result[channel] = {
            "n": len(found),
            "median": _round(statistics.median(found)),
            "p90": _round(_quantile(found, 0.9)),
        }
    return result


def _quantile(values: list[float], q: float) -> float:
    # The same interpolation as PostgreSQL's percentile_cont.
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)
