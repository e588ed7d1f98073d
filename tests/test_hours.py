"""Opening hours are read in Amsterdam time, across daylight-saving changes, and read back in
words."""

from datetime import datetime

import pytest

from helpline.inbox.hours import InvalidHours, in_words, is_open, parse

AMS = "Europe/Amsterdam"
WORKDAYS = "mon-fri 09:00-17:00"


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 1, 12, 7, 59), False),  # Monday 08:59 CET
        (datetime(2026, 1, 12, 8, 0), True),  # Monday 09:00 CET
        (datetime(2026, 1, 12, 15, 59), True),  # Monday 16:59 CET
        (datetime(2026, 1, 12, 16, 0), False),  # Monday 17:00 CET
        (datetime(2026, 7, 13, 7, 0), True),  # Monday 09:00 CEST
        (datetime(2026, 7, 13, 15, 0), False),  # Monday 17:00 CEST
        (datetime(2026, 1, 17, 12, 0), False),  # Saturday
        (datetime(2026, 3, 30, 7, 30), True),  # first Monday after the spring change, 09:30
        (datetime(2026, 10, 26, 8, 30), True),  # first Monday after the autumn change, 09:30
        (datetime(2026, 10, 26, 16, 30), False),  # 17:30 in winter time
    ],
)
def test_workday_hours_follow_amsterdam_time(utc, expected):
    assert is_open(WORKDAYS, utc, AMS) is expected


def test_several_periods_and_ranges_over_the_weekend():
    week = parse("fri-mon 20:00-22:00; wed 10:00-12:00")
    assert [day for day, periods in week.items() if periods] == [0, 2, 4, 5, 6]
    assert is_open("fri-mon 20:00-22:00", datetime(2026, 1, 18, 20, 30), AMS)  # Sunday 21:30


def test_always_and_never():
    assert is_open("always", datetime(2026, 1, 18, 3, 0), AMS)
    assert not is_open("never", datetime(2026, 1, 12, 10, 0), AMS)


@pytest.mark.parametrize(
    "spec", ["monday 9-5", "mon-fri 17:00-09:00", "xyz 09:00-10:00", "mon 25:00-26:00"]
)
def test_unreadable_hours_are_refused_with_a_reason(spec):
    with pytest.raises(InvalidHours):
        parse(spec)


def test_hours_command_sets_and_validates(app, runner):
    bad = runner.invoke(args=["service", "hours", "helpwanted", "mon-fri 17:00-09:00"])
    good = runner.invoke(args=["service", "hours", "helpwanted", "mon-fri 10:00-16:00"])

    assert bad.exit_code != 0 and "closing time" in bad.output
    assert good.exit_code == 0 and "Helpwanted: mon-fri 10:00-16:00" in good.output


@pytest.mark.parametrize(
    ("spec", "dutch", "english"),
    [
        (
            "mon-fri 09:00-17:00",
            "van maandag tot en met vrijdag van 9:00 tot 17:00",
            "from Monday to Friday from 9:00 to 17:00",
        ),
        (
            "mon-thu 09:00-12:00; mon-thu 13:00-17:00; sat 10:30-12:00",
            "van maandag tot en met donderdag van 9:00 tot 12:00 en van 13:00 tot 17:00, "
            "en op zaterdag van 10:30 tot 12:00",
            "from Monday to Thursday from 9:00 to 12:00 and from 13:00 to 17:00, "
            "and on Saturday from 10:30 to 12:00",
        ),
        (
            "mon 19:00-21:00; wed 19:00-21:00",
            "op maandag van 19:00 tot 21:00, en op woensdag van 19:00 tot 21:00",
            "on Monday from 19:00 to 21:00, and on Wednesday from 19:00 to 21:00",
        ),
        ("always", "dag en nacht", "day and night"),
        ("never", "op dit moment niet", "not at the moment"),
    ],
)
def test_the_weeks_hours_read_as_words_in_dutch_and_english(spec, dutch, english):
    assert in_words(spec, "nl") == dutch
    assert in_words(spec, "en") == english
