"""The report's figures as named tables: one source for the page's tables and the CSV files."""

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox.models import Service
from helpline.reports.figures import WEEKDAYS, Report

CHANNEL_NAMES = {"chat": "Chat", "form": "Form", "phone": "Phone"}
QUESTION_NAMES = {
    "satisfied": "Satisfied",
    "felt_better": "Felt better afterwards",
    "would_recommend": "Would recommend",
}
FUNNEL_STAGES = (
    ("held", "Held (incl. referred)"),
    ("no_show", "No-show"),
    ("referred", "Referred into treatment"),
    ("cancelled", "Cancelled"),
    ("open", "Still open"),
)
TIME_MEASURES = {"waiting": "Waiting time", "first_response": "First response"}
# The channels where a person can give up while waiting.
WAITING_CHANNELS = ("chat", "phone")


@dataclass
class Column:
    title: str
    # text, count, percent, change (signed percent), seconds, ratio, hours
    kind: str = "count"


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[list]
    # Rows from here on are totals (shown in bold, kept in the CSV).
    total_from: int | None = None
    note: str | None = None


def report_tables(result: Report) -> dict[str, Table]:
    """Every table of one report, by the name its CSV is downloaded under."""
    return {
        "moments": moments(result),
        "people": people(result),
        "categories": categories(result),
        "growth": growth(result),
        "funnel": funnel(result),
        "survey": survey(result),
        "times": times(result),
        "abandoned": abandoned(result),
        "week": week(result),
        "hours": hours(result),
    }


TABLE_NAMES = (
    "moments",
    "people",
    "categories",
    "growth",
    "funnel",
    "survey",
    "times",
    "abandoned",
    "week",
    "hours",
    "services",
)


def moments(result: Report) -> Table:
    rows = [
        [CHANNEL_NAMES[c], v["inbound"], v["callback"], v["total"]]
        for c, v in result.moments["channels"].items()
    ]
    m = result.moments
    rows.append(["Total", m["inbound"], m["callbacks"], m["total"]])
    return Table(
        "moments",
        "Contact moments per channel",
        [
            Column("Channel", "text"),
            Column("Inbound"),
            Column("Callbacks"),
            Column("Contact moments"),
        ],
        rows,
        total_from=len(rows) - 1,
    )


def people(result: Report) -> Table:
    rows = []
    for channel, v in result.people["channels"].items():
        per_person = round(v["moments"] / v["unique"], 2) if v["unique"] else None
        rows.append([CHANNEL_NAMES[channel], v["unique"], v["moments"], per_person])
    p = result.people
    rows.append(["All channels", p["unique"], p["moments"], p["per_person"]])
    return Table(
        "people",
        "Unique people and contact moments",
        [
            Column("Channel", "text"),
            Column("Unique people"),
            Column("Contact moments"),
            Column("Moments per person", "ratio"),
        ],
        rows,
        total_from=len(rows) - 1,
        note="A person who used two channels counts once in each channel and once in all channels.",
    )


def categories(result: Report) -> Table:
    rows = []
    for row in result.categories:
        name = row["name"] + (" (retired)" if row["retired"] else "")
        if row["subcategory"]:
            name = "\u2013 " + name
        rows.append([name, row["contacts"], row["people"]])
    return Table(
        "categories",
        "Contacts per category",
        [Column("Category", "text"), Column("Contacts"), Column("People")],
        rows,
        total_from=len(rows) - 1,
        note="A contact with two categories counts in both; the unique total counts it once.",
    )


def growth(result: Report) -> Table:
    g = result.growth
    previous = f"{g['previous_first']:%d %b %Y} \u2013 {g['previous_last']:%d %b %Y}"
    current = f"{result.period.first:%d %b %Y} \u2013 {result.period.last:%d %b %Y}"
    return Table(
        "growth",
        "Growth against the previous period",
        [
            Column("Measure", "text"),
            Column("Previous period"),
            Column("This period"),
            Column("Change", "change"),
        ],
        [
            ["Contact moments", *g["moments"], g["moments_change"]],
            ["Unique people", *g["people"], g["people_change"]],
        ],
        note=f"Previous period: {previous}; this period: {current}.",
    )


def funnel(result: Report) -> Table:
    f = result.funnel
    rows = [["Booked", f["booked"], 100.0 if f["booked"] else None]]
    rows += [[label, f[key], f["percent"][key]] for key, label in FUNNEL_STAGES]
    return Table(
        "funnel",
        "Follow-up with a therapist",
        [Column("Stage", "text"), Column("Sessions"), Column("% of booked", "percent")],
        rows,
        note="Sessions booked in the period; a rescheduled session counts once, "
        "as its latest booking.",
    )


def survey(result: Report) -> Table:
    s = result.survey
    rows = [
        [QUESTION_NAMES.get(q, q), v["answered"], v["yes"], v["percent"]]
        for q, v in s["questions"].items()
    ]
    return Table(
        "survey",
        f"Satisfaction survey (n = {s['n']})",
        [Column("Question", "text"), Column("Answered"), Column("Yes"), Column("% yes", "percent")],
        rows,
        note=f"{s['n']} surveys returned; each percentage is of those who answered that question.",
    )


def times(result: Report) -> Table:
    rows = []
    for measure, label in TIME_MEASURES.items():
        for channel, v in result.times[measure].items():
            rows.append([label, CHANNEL_NAMES[channel], v["n"], v["median"], v["p90"]])
    return Table(
        "times",
        "Waiting and first-response times",
        [
            Column("Measure", "text"),
            Column("Channel", "text"),
            Column("Contacts measured"),
            Column("Median (s)", "seconds"),
            Column("90th percentile (s)", "seconds"),
        ],
        rows,
        note="Waiting: from joining the queue to a counsellor taking it. First response: from "
        "opening to the first counsellor message (chat, form) or to being taken (phone).",
    )


def abandoned(result: Report) -> Table:
    counts = result.abandoned["channels"]
    rows = [[CHANNEL_NAMES[c], counts.get(c, 0)] for c in WAITING_CHANNELS]
    rows.append(["Total", result.abandoned["total"]])
    return Table(
        "abandoned",
        "Abandoned while waiting",
        [Column("Channel", "text"), Column("Abandoned")],
        rows,
        total_from=len(rows) - 1,
    )


def week(result: Report) -> Table:
    rows = [[day, *hours, sum(hours)] for day, hours in zip(WEEKDAYS, result.week, strict=True)]
    totals = [sum(day[h] for day in result.week) for h in range(24)]
    rows.append(["Total", *totals, sum(totals)])
    return Table(
        "week",
        "Contact moments by weekday and hour (local time)",
        [Column("Weekday", "text"), *(Column(f"{h:02d}") for h in range(24)), Column("Total")],
        rows,
        total_from=len(rows) - 1,
    )


def hours(result: Report) -> Table:
    rows = [[r["service_name"], r["week"], r["hours"]] for r in result.hours_available]
    return Table(
        "hours",
        "Hours available per service and week",
        [Column("Service", "text"), Column("ISO week", "text"), Column("Hours available", "hours")],
        rows,
        note="Time staff who take the service's chats were online in status available, "
        "in local ISO weeks; away and on break do not count.",
    )


def services(by_service: dict[int, dict]) -> Table:
    """Contact moments and unique people of each service (figures.by_service)."""
    rows = []
    for service_id, name in db.session.execute(
        select(Service.id, Service.name).order_by(Service.id)
    ):
        counts = by_service.get(service_id, {"inbound": 0, "callback": 0, "people": 0})
        moments = counts["inbound"] + counts["callback"]
        rows.append([name, counts["inbound"], counts["callback"], moments, counts["people"]])
    return Table(
        "services",
        "Per service",
        [
            Column("Service", "text"),
            Column("Inbound"),
            Column("Callbacks"),
            Column("Contact moments"),
            Column("Unique people"),
        ],
        rows,
    )


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_csv(table: Table) -> str:
    """The table as CSV text: a header row, then raw numbers (seconds, percentages as 12.5)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(column.title) for column in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()


def csv_cell(value) -> str | int | float:
    """A value for a CSV cell: text that a spreadsheet would run as a formula gets a ' first.

    Numbers stay numbers (a negative change is no formula); only text can carry one.
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def display(value, kind: str) -> str:
    """A value as a person reads it in the report."""
    if value is None:
        return "\u2013"
    if kind == "text":
        return str(value)
    if kind == "percent":
        return f"{value:g}%"
    if kind == "change":
        return f"{value:+g}%"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "seconds":
        return duration(value)
    return f"{value:,}"


def duration(seconds: float) -> str:
    """Seconds as '45 s', '3 min 05 s', '2 h 10 min' or '3 d 4 h'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
