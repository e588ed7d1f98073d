"""Hours available: the time staff who take a service's chats were online as available, per
service and ISO week, in the report, its CSV and the API."""

from datetime import date, datetime, time

from helpline.extensions import db
from helpline.inbox.models import StaffStatusPeriod
from helpline.reports.hours import hours_available
from helpline.timeutil import to_utc
from tests import factories
from tests.test_api import bearer, token_for


def period(user, status: str, start: datetime, end: datetime | None) -> None:
    db.session.add(
        StaffStatusPeriod(user_id=user.id, status=status, started_at=start, ended_at=end)
    )
    db.session.commit()


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return to_utc(day, time(hour, minute))


def test_only_available_time_counts_split_at_local_monday_midnight(app):
    anna = factories.staff_user("Anna")
    # Sunday 22:00 to Monday 02:00 local: two hours in week 48, two in week 49.
    period(anna, "available", local(date(2026, 11, 29), 22), local(date(2026, 11, 30), 2))
    period(anna, "on_break", local(date(2026, 11, 30), 2), local(date(2026, 11, 30), 3))
    period(anna, "away", local(date(2026, 11, 30), 3), local(date(2026, 11, 30), 9))

    rows = hours_available(
        to_utc(date(2026, 11, 1), datetime.min.time()),
        to_utc(date(2026, 12, 31), datetime.min.time()),
        "helpwanted",
    )

    assert [(r["week"], r["hours"]) for r in rows] == [("2026-W48", 2.0), ("2026-W49", 2.0)]


def test_therapists_hours_do_not_count_for_a_service(app):
    tess = factories.staff_user("Tess", role="therapist")
    ben = factories.staff_user("Ben")
    period(tess, "available", local(date(2026, 12, 1), 9), local(date(2026, 12, 1), 17))
    period(ben, "available", local(date(2026, 12, 1), 9), local(date(2026, 12, 1), 10, 30))

    rows = hours_available(
        to_utc(date(2026, 12, 1), datetime.min.time()),
        to_utc(date(2026, 12, 2), datetime.min.time()),
    )

    assert {r["hours"] for r in rows} == {1.5}
    assert {r["service"] for r in rows} == {"helpwanted", "stopitnow", "report"}


def test_the_period_clips_time_on_either_side(app):
    anna = factories.staff_user("Anna")
    period(anna, "available", local(date(2026, 11, 30), 20), local(date(2026, 12, 1), 4))

    rows = hours_available(
        to_utc(date(2026, 12, 1), datetime.min.time()),
        to_utc(date(2026, 12, 2), datetime.min.time()),
        "helpwanted",
    )

    assert [r["hours"] for r in rows] == [4.0]


def test_an_open_period_counts_until_now(app, counsellor):
    anna = counsellor()

    rows = hours_available(
        to_utc(date(2026, 1, 1), datetime.min.time()),
        to_utc(date(2100, 1, 1), datetime.min.time()),
        "helpwanted",
    )

    assert len(rows) == 1 and rows[0]["hours"] == 0.0
    assert anna.emit("my_status", {})["status"] == "available"


def test_the_report_page_csv_and_api_show_hours_available(app, client):
    anna = factories.staff_user("Anna")
    period(anna, "available", local(date(2026, 3, 2), 9), local(date(2026, 3, 2), 12))
    sam = factories.staff_user("Sam", role="supervisor")
    factories.sign_in(client, sam)

    page = client.get("/reports?year=2026&service=helpwanted")
    assert page.status_code == 200
    assert b"Hours available per service and week" in page.data

    csv = client.get("/reports/hours.csv?year=2026").get_data(as_text=True)
    assert "Service,ISO week,Hours available" in csv
    assert "Helpwanted,2026-W10,3.0" in csv

    api = client.get("/api/v1/reports?year=2026", headers=bearer(token_for(sam)))
    assert {
        "service": "helpwanted",
        "service_name": "Helpwanted",
        "week": "2026-W10",
        "hours": 3.0,
    } in api.get_json()["hours_available"]
