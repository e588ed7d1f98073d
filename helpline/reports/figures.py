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
percentiles on SQLite (which has none) are computed in Python. Contact moments and conversation
categories carry copies of their conversation's service, channel or opening time, and person, so
their figures are read without joining the conversations; counts over the same rows share one
pass (FILTER clauses). On PostgreSQL, report() reads the conversations' figures on a second
connection, starting from this transaction's snapshot, while it counts the contact moments.
"""

import re
import statistics
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from flask import current_app
from sqlalchemy import and_, case, distinct, exists, func, select, text
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import aliased

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
from helpline.reports.hours import hours_available
from helpline.survey.models import QUESTIONS, SurveyAnswer
from helpline.timeutil import to_utc, zone

T = TypeVar("T")
# Threads for the second connection of report(); gevent makes them greenlets, which is enough:
# the work is PostgreSQL's.
_helpers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="report")

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
    hours_available: list = field(default_factory=list)
    # Per service id, for the organisation's report only: see by_service().
    services: dict = field(default_factory=dict)


def report(period: Period, service_slug: str | None = None) -> Report:
    """All figures of the report for `period`, for one service or (None) the organisation."""
    service_id = _service_id(service_slug)
    _sort_in_memory()
    result = Report(period=period, service=service_slug)
    previous = period.previous()

    def from_conversations():
        return (
            categories(period, service_id),
            funnel(period, service_id),
            survey(period, service_id),
            _times_and_abandoned(period, service_id),
        )

    # The figures over conversations run on a second connection while this one counts the
    # contact moments: both sides are single sorts PostgreSQL cannot split over its workers.
    alongside = _alongside(from_conversations)
    # One pass over both periods (the previous one only for the growth table) and, for the
    # organisation, every service.
    counted = _count_moments(period, service_id, previous, by_service=service_id is None)
    result.services = counted.get("services", {})
    result.moments = _moments_of(counted)
    result.people = _people_of(counted)
    result.week = week(period, service_id)
    result.hours_available = hours_available(period.start, period.end, service_slug)
    result.categories, result.funnel, result.survey, (result.times, result.abandoned) = alongside()
    result.growth = {
        "previous_first": previous.first,
        "previous_last": previous.last,
        "moments": (counted["previous"]["moments"], result.moments["total"]),
        "moments_change": _change(counted["previous"]["moments"], result.moments["total"]),
        "people": (counted["previous"]["people"], result.people["unique"]),
        "people_change": _change(counted["previous"]["people"], result.people["unique"]),
    }
    return result


def contact_moments(period: Period, service_id: int | None) -> dict:
    """Contact moments per channel, split into inbound contacts and callbacks."""
    return _moments_of(_count_moments(period, service_id))


def people(period: Period, service_id: int | None) -> dict:
    """Unique people against contact moments, per channel and in all."""
    return _people_of(_count_moments(period, service_id))


def by_service(period: Period) -> dict[int, dict]:
    """Per service id: inbound contacts, callbacks and unique people."""
    _sort_in_memory()
    return _count_moments(period, None, by_service=True)["services"]


def categories(period: Period, service_id: int | None) -> list[dict]:
    """Contacts (and people) per category; a last row with the unique totals."""
    # The rows carry their conversation's opening time, service and person: no join.
    tagged = ConversationCategory
    conditions = [tagged.opened_at >= period.start, tagged.opened_at < period.end]
    if service_id is not None:
        conditions.append(tagged.service_id == service_id)
    # A conversation has a category at most once (the primary key), so count(*) counts contacts.
    query = (
        select(tagged.category_id, func.count(), func.count(distinct(tagged.person)))
        .where(*conditions)
        .group_by(tagged.category_id)
    )
    totals = select(
        func.count(distinct(tagged.conversation_id)), func.count(distinct(tagged.person))
    ).where(*conditions)
    known = {c.id: c for c in db.session.scalars(select(Category))}
    rows = [
        {
            "id": category_id,
            "name": known[category_id].name,
            "subcategory": known[category_id].parent_id is not None,
            "retired": known[category_id].retired_at is not None,
            "contacts": contacts,
            "people": persons,
        }
        for category_id, contacts, persons in db.session.execute(query)
    ]
    rows.sort(key=lambda r: (known[r["id"]].position, r["id"]))
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
    counts = {
        "booked": sum(latest.values()),
        "held": latest.get("held", 0) + latest.get("referred", 0),
        "no_show": latest.get("no_show", 0),
        "referred": latest.get("referred", 0),
        "cancelled": latest.get("cancelled", 0),
        "open": latest.get("booked", 0),
    }
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
    return _times_and_abandoned(period, service_id)[0]


def abandoned(period: Period, service_id: int | None) -> dict:
    """Chats and calls that ended while still waiting."""
    conditions = _conversations_in(period, service_id)
    query = (
        select(Conversation.channel, func.count())
        .where(*conditions, Conversation.abandoned.is_(True))
        .group_by(Conversation.channel)
    )
    counts = {channel: 0 for channel in CHANNELS}
    counts.update(dict(db.session.execute(query).all()))
    return _abandoned_of(counts)


def week(period: Period, service_id: int | None) -> list[list[int]]:
    """Contact moments by local weekday (rows, Monday first) and hour (columns)."""
    # Group by UTC hour in SQL (at most 8,784 groups a year), then move each hour to local time
    # here: cheaper than converting every row's time zone, and the same on SQLite (which has no
    # time zones) as on PostgreSQL.
    if db.engine.dialect.name == "postgresql":
        # date_bin is integer arithmetic; date_trunc splits every time into its fields.
        utc_hour = func.date_bin(
            timedelta(hours=1), ContactMoment.started_at, datetime(2000, 1, 1)
        ).label("utc_hour")
    else:
        utc_hour = func.strftime("%Y-%m-%d %H", ContactMoment.started_at).label("utc_hour")
    query = (
        select(utc_hour, func.count())
        .select_from(ContactMoment)
        .where(ContactMoment.started_at >= period.start, ContactMoment.started_at < period.end)
        .group_by(utc_hour)
    )
    if service_id is not None:
        query = query.where(ContactMoment.service_id == service_id)
    grid = [[0] * 24 for _ in range(7)]
    local_zone = zone()
    for stamp, count in db.session.execute(query):
        if isinstance(stamp, str):
            stamp = datetime.strptime(stamp, "%Y-%m-%d %H")
        local = stamp.replace(tzinfo=UTC).astimezone(local_zone)
        grid[local.weekday()][local.hour] += count
    return grid


# --- internals ----------------------------------------------------------------------------------


def _service_id(slug: str | None) -> int | None:
    if slug is None:
        return None
    found = db.session.scalar(select(Service.id).where(Service.slug == slug))
    if found is None:
        raise LookupError(slug)
    return found


def _sort_in_memory() -> None:
    # The distinct counts and percentiles each sort up to a year of rows; PostgreSQL's default
    # work_mem (4 MB) spills them to temporary files. For this transaction only.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL work_mem = '32MB'"))


def _conversations_in(period: Period, service_id: int | None) -> list:
    conditions = [Conversation.created_at >= period.start, Conversation.created_at < period.end]
    if service_id is not None:
        conditions.append(Conversation.service_id == service_id)
    return conditions


def _times_and_abandoned(period: Period, service_id: int | None) -> tuple[dict, dict]:
    """The times() and abandoned() figures; on PostgreSQL in one pass over the conversations."""
    conditions = _conversations_in(period, service_id)
    first_response = case(
        (Conversation.channel == "phone", Conversation.assigned_at),
        else_=Conversation.first_response_at,
    )
    measures = {
        "waiting": (Conversation.waiting_since, Conversation.assigned_at),
        "first_response": (Conversation.created_at, first_response),
    }
    if db.engine.dialect.name == "postgresql":
        return _percentiles_in_sql(measures, conditions)
    return _percentiles_in_python(measures, conditions), abandoned(period, service_id)


def _abandoned_of(counts: dict) -> dict:
    return {"channels": counts, "total": sum(counts.values())}


def _alongside(work: Callable[[], T]) -> Callable[[], T]:
    """Start `work` on a second connection that sees what this transaction sees; the returned
    function waits for its result. Runs `work` here, when called, where that cannot be done."""
    # Only a transaction that has written nothing can share its snapshot exactly: another
    # connection would not see its uncommitted rows.
    if (
        db.engine.dialect.name != "postgresql"
        or db.session.scalar(text("SELECT pg_current_xact_id_if_assigned()")) is not None
    ):
        return work
    snapshot = db.session.scalar(text("SELECT pg_export_snapshot()"))
    # The exporting transaction must stay open until the snapshot is taken up: the caller waits
    # for the result before it ends this one.
    future = _helpers.submit(_in_snapshot, current_app._get_current_object(), snapshot, work)
    return future.result


def _in_snapshot(app, snapshot: str, work: Callable[[], T]) -> T:
    with app.app_context():
        try:
            db.session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            # SET takes no parameters; a snapshot id is hexadecimal digits and dashes.
            if not re.fullmatch(r"[0-9A-F-]+", snapshot):
                raise ValueError(snapshot)
            db.session.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            _sort_in_memory()
            return work()
        finally:
            db.session.rollback()


def _change(before: int, now: int) -> float | None:
    return round(100 * (now - before) / before, 1) if before else None


def _count_moments(
    period: Period,
    service_id: int | None,
    previous: Period | None = None,
    *,
    by_service: bool = False,
) -> dict:
    """Moments per channel and kind, and distinct people, of `period` (and `previous`)."""
    # One pass: each FILTER picks its rows, so only the distinct counts need a sort of their own.
    moment = ContactMoment
    now = moment.started_at >= period.start
    columns = []
    for channel in CHANNELS:
        columns += _kinds_and_people(and_(now, moment.channel == channel))
    columns.append(func.count(distinct(moment.person)).filter(now))
    if previous is not None:
        columns += [func.count().filter(~now), func.count(distinct(moment.person)).filter(~now)]
    services = []
    if by_service:
        services = list(db.session.scalars(select(Service.id).order_by(Service.id)))
    for service in services:
        columns += _kinds_and_people(and_(now, moment.service_id == service))
    # The previous period ends where this one starts.
    first = previous.start if previous is not None else period.start
    query = select(*columns).where(moment.started_at >= first, moment.started_at < period.end)
    if service_id is not None:
        query = query.where(moment.service_id == service_id)
    row = iter(db.session.execute(query).one())
    counted: dict = {"channels": {channel: _next_kinds_and_people(row) for channel in CHANNELS}}
    counted["people"] = next(row)
    if previous is not None:
        counted["previous"] = {"moments": next(row), "people": next(row)}
    if by_service:
        counted["services"] = {service: _next_kinds_and_people(row) for service in services}
    return counted


def _kinds_and_people(rows) -> list:
    """Columns counting inbound moments, callbacks and distinct people among `rows`."""
    return [
        func.count().filter(rows, ContactMoment.kind == "inbound"),
        func.count().filter(rows, ContactMoment.kind == "callback"),
        func.count(distinct(ContactMoment.person)).filter(rows),
    ]


def _next_kinds_and_people(row: Iterator) -> dict:
    """The values of the next _kinds_and_people() columns in `row`."""
    return {"inbound": next(row), "callback": next(row), "people": next(row)}


def _moments_of(counted: dict) -> dict:
    rows = {
        channel: {
            "inbound": c["inbound"],
            "callback": c["callback"],
            "total": c["inbound"] + c["callback"],
        }
        for channel, c in counted["channels"].items()
    }
    return {
        "channels": rows,
        "inbound": sum(r["inbound"] for r in rows.values()),
        "callbacks": sum(r["callback"] for r in rows.values()),
        "total": sum(r["total"] for r in rows.values()),
    }


def _people_of(counted: dict) -> dict:
    per_channel = {
        channel: {"unique": c["people"], "moments": c["inbound"] + c["callback"]}
        for channel, c in counted["channels"].items()
    }
    unique = counted["people"]
    moments = sum(c["moments"] for c in per_channel.values())
    return {
        "channels": per_channel,
        "unique": unique,
        "moments": moments,
        "per_person": round(moments / unique, 2) if unique else None,
    }


def _latest_statuses(period: Period, service_id: int | None) -> dict[str, int]:
    """How many of the period's bookings ended in each status, each chain as its latest."""
    # A chain of reschedules starts at a booking without rescheduled_from; follow it to the
    # booking nothing was rescheduled from.
    first = select(Booking.id).where(
        Booking.booked_at >= period.start,
        Booking.booked_at < period.end,
        Booking.rescheduled_from_id.is_(None),
    )
    if service_id is not None:
        first = first.join(Conversation, Conversation.id == Booking.conversation_id).where(
            Conversation.service_id == service_id
        )
    chain = first.cte("chain", recursive=True)
    successor = aliased(Booking)
    chain = chain.union_all(select(successor.id).where(successor.rescheduled_from_id == chain.c.id))
    later = aliased(Booking)
    query = (
        select(Booking.status, func.count())
        .join(chain, chain.c.id == Booking.id)
        .where(~exists().where(later.rescheduled_from_id == Booking.id))
        .group_by(Booking.status)
    )
    return dict(db.session.execute(query).all())


def _percentiles_in_sql(measures: dict, conditions: list) -> tuple[dict, dict]:
    # One pass over the period's conversations, the abandoned ones counted too; each
    # percentile_cont sorts only its channel's values, once for both quantiles. date_part gives
    # floats, cheaper to sort than extract's numerics.
    columns = []
    for start, end in measures.values():
        seconds = func.date_part("epoch", end - start)
        for channel in CHANNELS:
            measured = and_(Conversation.channel == channel, start.is_not(None), end.is_not(None))
            columns += [
                func.count().filter(measured),
                func.percentile_cont(array([0.5, 0.9])).within_group(seconds).filter(measured),
            ]
    columns += [
        func.count().filter(Conversation.abandoned.is_(True), Conversation.channel == channel)
        for channel in CHANNELS
    ]
    row = iter(db.session.execute(select(*columns).where(*conditions)).one())
    result: dict = {}
    for name in measures:
        result[name] = {}
        for channel in CHANNELS:
            count, quantiles = next(row), next(row)
            median, p90 = quantiles or (None, None)
            result[name][channel] = {"n": count, "median": _round(median), "p90": _round(p90)}
    return result, _abandoned_of({channel: next(row) for channel in CHANNELS})


def _percentiles_in_python(measures: dict, conditions: list) -> dict:
    # SQLite has no percentile_cont.
    result: dict = {}
    for name, (start, end) in measures.items():
        seconds = (func.julianday(end) - func.julianday(start)) * 86400.0
        # Both ends must be known: a NULL start would count in n and break the median.
        query = select(Conversation.channel, seconds).where(
            *conditions, start.is_not(None), end.is_not(None)
        )
        values: dict[str, list[float]] = {}
        for channel, value in db.session.execute(query):
            values.setdefault(channel, []).append(float(value))
        result[name] = {channel: {"n": 0, "median": None, "p90": None} for channel in CHANNELS}
        for channel, found in values.items():
            result[name][channel] = {
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
