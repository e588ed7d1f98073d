"""Weekly opening hours written as text: "mon-fri 09:00-17:00; sat 10:00-12:00", and read
back in words, in Dutch or English."""

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


# How the week reads in each language the services answer in.
_WORDS = {
    "nl": {
        "days": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
        "one_day": "op {first}",
        "days_range": "van {first} tot en met {last}",
        "period": "van {start} tot {end}",
        "and": " en ",
        "then": ", en ",
        "always": "dag en nacht",
        "never": "op dit moment niet",
    },
    "en": {
        "days": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "one_day": "on {first}",
        "days_range": "from {first} to {last}",
        "period": "from {start} to {end}",
        "and": " and ",
        "then": ", and ",
        "always": "day and night",
        "never": "not at the moment",
    },
}
LANGUAGES = tuple(_WORDS)


def in_words(spec: str, language: str = "nl") -> str:
    """The week's hours as a phrase: 'van maandag tot en met vrijdag van 9:00 tot 17:00'."""
    words = _WORDS[language]
    if spec.strip().lower() == "always":
        return words["always"]
    groups = _days_alike(parse(spec))
    if not groups:
        return words["never"]
    parts = []
    for first, last, periods in groups:
        names = {"first": words["days"][first], "last": words["days"][last]}
        days = words["one_day" if first == last else "days_range"].format(**names)
        times = words["and"].join(
            words["period"].format(start=_clock(start), end=_clock(end)) for start, end in periods
        )
        parts.append(f"{days} {times}")
    return words["then"].join(parts)


def _days_alike(week: dict[int, list[tuple[time, time]]]) -> list[tuple[int, int, list]]:
    """Consecutive days with the same periods, as (first, last, periods); closed days left out."""
    groups: list[tuple[int, int, list]] = []
    for day in range(7):
        periods = week[day]
        if not periods:
            continue
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == periods:
            groups[-1] = (groups[-1][0], day, periods)
        else:
            groups.append((day, day, periods))
    return groups


def _clock(moment: time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"
