"""Time in one place: the database stores naive UTC, people see Europe/Amsterdam."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Current time as naive UTC, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with a Z, for JSON payloads."""
    return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"
