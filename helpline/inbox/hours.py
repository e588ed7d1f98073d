"""Weekly opening hours written as text: "mon-fri 09:00-17:00; sat 10:00-12:00"."""

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$"
)


class InvalidHours(ValueError):
    """The opening-hours text cannot be read."""


def parse(spec: str) -> dict[int, list[tuple[time, time]]]:
    """Weekday (0 = Monday) to a list of (start, end) periods."""
    spec = spec.strip().lower()
    week: dict[int, list[tuple[time, time]]] = {day: [] for day in range(7)}
    if spec in ("", "never", "always"):
        return week
    for part in (p.strip() for p in spec.split(";") if p.strip()):
        match = _PART.match(part)
        if not match or match["first"] not in DAYS or (match["last"] or "mon") not in DAYS:
            raise InvalidHours(f"cannot read {part!r}; write e.g. 'mon-fri 09:00-17:00'")
        first = DAYS.index(match["first"])
        last = DAYS.index(match["last"]) if match["last"] else first
        try:
            start = time.fromisoformat(match["start"])
            end = time.fromisoformat(match["end"])
        except ValueError as error:
            raise InvalidHours(f"invalid time in {part!r}") from error
        if end <= start:
            raise InvalidHours(f"closing time must be after opening time in {part!r}")
        span = (last - first) % 7  # "fri-mon" runs over the weekend
        for offset in range(span + 1):
            week[(first + offset) % 7].append((start, end))
    return week


def is_open(spec: str, moment_utc: datetime, timezone: str) -> bool:
    """True when `moment_utc` (naive UTC) falls inside the opening hours, in local time."""
    if spec.strip().lower() == "always":
        return True
    local = moment_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(timezone))
    now = local.time()
    return any(start <= now < end for start, end in parse(spec)[local.weekday()])
