"""Time in one place: the database stores naive UTC, people see Europe/Amsterdam."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow() -> datetime:
    """Current time as naive UTC, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with a Z, for JSON payloads."""
    return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"


def zone() -> ZoneInfo:
    """The organisation's time zone (HELPLINE_TIMEZONE, Europe/Amsterdam by default)."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def to_local(moment_utc: datetime) -> datetime:
    """A naive UTC timestamp as an aware local time."""
    return moment_utc.replace(tzinfo=UTC).astimezone(zone())


def to_utc(day: date, at: time) -> datetime:
    """A local wall-clock time on a day as naive UTC (the right offset on either side of DST)."""
    return datetime.combine(day, at, tzinfo=zone()).astimezone(UTC).replace(tzinfo=None)


def local_today() -> date:
    """Today's date where the organisation is."""
    return to_local(utcnow()).date()
