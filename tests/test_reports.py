"""The supervisors' report: exact figures from known rows, on SQLite and PostgreSQL alike."""

import csv
import io
import secrets
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from helpline.extensions import db
from helpline.followup.models import Booking
from helpline.inbox.models import (
    Client,
    ContactMoment,
    Conversation,
    ConversationCategory,
    Service,
)
from helpline.reports import figures
from helpline.reports.figures import Period
from helpline.survey.models import SurveyAnswer
from helpline.timeutil import to_utc
from tests import factories


def utc(local: str) -> datetime:
    """'2025-07-07 00:30' in Amsterdam as the naive UTC the database stores."""
    moment = datetime.fromisoformat(local)
    return to_utc(moment.date(), moment.time())


def service_id(slug: str) -> int:
    return db.session.scalar(select(Service.id).where(Service.slug == slug))


def person() -> Client:
    client = Client(browser_hash=secrets.token_hex(16))
    db.session.add(client)
    db.session.flush()
    return client


def contact(
    service: str,
    channel: str,
    opened: str,
    client: Client | None = None,
    *,
    categories: tuple[str, ...] = (),
    callbacks: tuple[str, ...] = (),
    waited: int | None = None,
    answered: int | None = None,
    abandoned: bool = False,
    moments: bool = True,
) -> Conversation:
    """A closed conversation opened at local time `opened`; waited/answered in seconds."""
    created = utc(opened)
    conversation = Conversation(
        service_id=service_id(service),
        channel=channel,
        state="closed",
        client_id=client.id if client else None,
        created_at=created,
        waiting_since=created,
        assigned_at=created + timedelta(seconds=waited) if waited is not None else None,
        first_response_at=created + timedelta(seconds=answered) if answered is not None else None,
        abandoned=abandoned,
    )
    db.session.add(conversation)
    db.session.flush()
    if moments:
        db.session.add(ContactMoment(conversation_id=conversation.id, started_at=created))
        for moment in callbacks:
            db.session.add(
                ContactMoment(
                    conversation_id=conversation.id, kind="callback", started_at=utc(moment)
                )
            )
    for slug in categories:
        db.session.add(
            ConversationCategory(
                conversation_id=conversation.id, category_id=factories.category_id(slug)
            )
        )
    db.session.commit()
    return conversation


@pytest.fixture
def stopitnow_2025(app):
    """Stop it Now! in 2025: four people, six contact moments, and 2024 for comparison."""
    a, b, c = person(), person(), person()
    contact(
        "stopitnow",
        "phone",
        "2025-03-10 10:00",
        a,
        categories=("concern_self", "concern_other"),
        callbacks=("2025-03-11 14:00",),
        waited=60,
    )
    contact(
        "stopitnow",
        "chat",
        "2025-05-05 09:00",
        a,
        categories=("concern_self",),
        waited=120,
        answered=180,
    )
    contact("stopitnow", "form", "2025-06-02 12:00", b, categories=("professional",), answered=3600)
    # Monday 00:30 in summer: Sunday 22:30 UTC.
    contact("stopitnow", "chat", "2025-07-07 00:30", None, abandoned=True)
    contact("stopitnow", "phone", "2025-08-01 11:00", c, abandoned=True)
    contact("stopitnow", "phone", "2024-04-01 10:00", person(), categories=("concern_self",))
    contact("stopitnow", "chat", "2024-12-31 23:30", person())
    # Another service, and the next year: in neither figure of Stop it Now! 2025.
    contact(
        "helpwanted", "chat", "2025-04-01 15:00", person(), categories=("sextortion",), waited=5
    )
    contact("stopitnow", "chat", "2026-01-01 00:10", a, categories=("concern_self",))


def test_contact_moments_per_channel_include_callbacks(stopitnow_2025):
    result = figures.report(Period.year(2025), "stopitnow")
    assert result.moments["channels"] == {
        "chat": {"inbound": 2, "callback": 0, "total": 2},
        "form": {"inbound": 1, "callback": 0, "total": 1},
        "phone": {"inbound": 2, "callback": 1, "total": 3},
    }
    assert (result.moments["inbound"], result.moments["callbacks"], result.moments["total"]) == (
        5,
        1,
        6,
    )


def test_the_same_client_twice_is_one_person(stopitnow_2025):
    result = figures.report(Period.year(2025), "stopitnow")
    assert result.people["unique"] == 4
    assert result.people["moments"] == 6
    assert result.people["per_person"] == 1.5
    assert result.people["channels"] == {
        "chat": {"unique": 2, "moments": 2},
        "form": {"unique": 1, "moments": 1},
        "phone": {"unique": 2, "moments": 3},
    }


def test_a_contact_with_two_categories_counts_in_both_and_once_in_the_total(stopitnow_2025):
    rows = {
        r["name"]: (r["contacts"], r["people"])
        for r in figures.report(Period.year(2025), "stopitnow").categories
    }
    assert rows == {
        "Concern about own feelings": (2, 1),
        "Concern about another person": (1, 1),
        "Professional": (1, 1),
        "Unique total": (3, 2),
    }
    everyone = {r["name"]: r["contacts"] for r in figures.report(Period.year(2025)).categories}
    assert everyone["Sextortion"] == 1
    assert everyone["Unique total"] == 4


def test_growth_is_against_the_previous_year(stopitnow_2025):
    growth = figures.report(Period.year(2025), "stopitnow").growth
    assert (growth["previous_first"], growth["previous_last"]) == (
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    assert growth["moments"] == (2, 6)
    assert growth["moments_change"] == 200.0
    assert growth["people"] == (2, 4)
    assert growth["people_change"] == 100.0


def test_growth_of_a_30_day_range_is_against_the_30_days_before(app):
    for opened in (
        "2025-01-29 12:00",  # before both periods
        "2025-02-10 12:00",  # previous period
        "2025-03-05 12:00",
        "2025-03-30 23:30",  # last evening of the range, the day summer time starts
        "2025-03-31 00:10",  # the next day locally, still 30 March in UTC
    ):
        contact("helpwanted", "chat", opened, person())
    period = Period(date(2025, 3, 1), date(2025, 3, 30))
    growth = figures.report(period, "helpwanted").growth
    assert (growth["previous_first"], growth["previous_last"]) == (
        date(2025, 1, 30),
        date(2025, 2, 28),
    )
    assert growth["moments"] == (1, 2)
    assert growth["moments_change"] == 100.0


def test_funnel_counts_a_rescheduled_booking_once(app):
    therapist = factories.staff_user("Eva", role="therapist")
    conversation = contact("stopitnow", "phone", "2025-02-01 10:00", person())
    starts = iter(utc("2025-06-02 09:00") + timedelta(hours=h) for h in range(20))

    def book(status: str, booked: str, before: Booking | None = None) -> Booking:
        start = next(starts)
        booking = Booking(
            therapist_id=therapist.id,
            conversation_id=conversation.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=45),
            method="phone",
            status=status,
            booked_at=utc(booked),
            rescheduled_from_id=before.id if before else None,
        )
        db.session.add(booking)
        db.session.commit()
        return booking

    book("held", "2025-02-01 10:30")
    book("no_show", "2025-03-01 10:30")
    book("referred", "2025-04-01 10:30")
    moved = book("rescheduled", "2025-05-01 10:30")
    book("referred", "2025-05-03 10:30", moved)
    book("cancelled", "2025-06-01 10:30")
    # Booked in 2024 and moved into 2025: a booking of 2024.
    old = book("rescheduled", "2024-12-20 10:00")
    book("held", "2025-01-05 10:00", old)

    result = figures.report(Period.year(2025), "stopitnow").funnel
    assert {
        k: result[k] for k in ("booked", "held", "no_show", "referred", "cancelled", "open")
    } == {
        "booked": 5,
        "held": 3,
        "no_show": 1,
        "referred": 2,
        "cancelled": 1,
        "open": 0,
    }
    assert result["percent"] == {
        "held": 60.0,
        "no_show": 20.0,
        "referred": 40.0,
        "cancelled": 20.0,
        "open": 0.0,
    }


def test_survey_percentages_leave_out_unanswered_questions(app):
    answers = [(True, True, True), (True, None, True), (False, None, True), (None, None, False)]
    for satisfied, felt_better, recommend in answers:
        conversation = contact("stopitnow", "chat", "2025-03-01 10:00", person(), moments=False)
        db.session.add(
            SurveyAnswer(
                conversation_id=conversation.id,
                service_id=service_id("stopitnow"),
                channel="chat",
                satisfied=satisfied,
                felt_better=felt_better,
                would_recommend=recommend,
                answered_at=utc("2025-03-01 11:00"),
            )
        )
    db.session.commit()
    survey = figures.report(Period.year(2025), "stopitnow").survey
    assert survey["n"] == 4
    assert survey["questions"] == {
        "satisfied": {"answered": 3, "yes": 2, "percent": 66.7},
        "felt_better": {"answered": 1, "yes": 1, "percent": 100.0},
        "would_recommend": {"answered": 4, "yes": 3, "percent": 75.0},
    }
    assert figures.report(Period.year(2025), "helpwanted").survey["n"] == 0


def test_waiting_and_first_response_median_and_p90(app):
    for waited in (10, 20, 30, 40, 100):
        contact(
            "helpwanted", "chat", "2025-05-01 10:00", person(), waited=waited, answered=waited + 5
        )
    for waited in (60, 120):
        contact("helpwanted", "phone", "2025-05-01 10:00", person(), waited=waited)
    # Never taken: no waiting time, but abandoned.
    contact("helpwanted", "chat", "2025-05-01 10:00", person(), abandoned=True)
    times = figures.report(Period.year(2025), "helpwanted").times
    assert times["waiting"]["chat"] == {"n": 5, "median": 30.0, "p90": 76.0}
    assert times["waiting"]["phone"] == {"n": 2, "median": 90.0, "p90": 114.0}
    assert times["first_response"]["chat"] == {"n": 5, "median": 35.0, "p90": 81.0}
    # A call's first response is being taken.
    assert times["first_response"]["phone"] == {"n": 2, "median": 90.0, "p90": 114.0}
    assert times["waiting"]["form"] == {"n": 0, "median": None, "p90": None}


def test_abandoned_chats_and_calls(stopitnow_2025):
    abandoned = figures.report(Period.year(2025), "stopitnow").abandoned
    assert abandoned["channels"] == {"chat": 1, "form": 0, "phone": 1}
    assert abandoned["total"] == 2


def test_weekday_and_hour_are_local_across_daylight_saving(app):
    contact("helpwanted", "chat", "2025-07-07 00:30", person())  # summer: Sunday 22:30 UTC
    contact("helpwanted", "chat", "2025-01-06 00:30", person())  # winter: Sunday 23:30 UTC
    contact("helpwanted", "chat", "2025-10-26 02:30", person())  # Sunday, the hour after the change
    grid = figures.report(Period.year(2025), "helpwanted").week
    assert grid[0][0] == 2
    assert grid[6][22] == grid[6][23] == 0
    assert grid[6][2] == 1
    assert sum(map(sum, grid)) == 3


# --- the pages -----------------------------------------------------------------------------------


def signed_in(app, role: str):
    http = app.test_client()
    user = factories.staff_user(role.title(), role=role)
    with http.session_transaction() as session:
        factories.signed_in_session(session, user)
    return http


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/reports?year=2025")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_counsellor_may_not_see_reports(app):
    http = signed_in(app, "counsellor")
    assert http.get("/reports?year=2025").status_code == 403
    assert http.get("/reports/moments.csv?year=2025").status_code == 403


def test_the_report_page_shows_every_table_and_chart(app, stopitnow_2025):
    response = signed_in(app, "supervisor").get("/reports?year=2025&service=stopitnow")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Report 2025" in page and "Stop it Now!" in page
    for name in (
        "moments",
        "people",
        "categories",
        "growth",
        "funnel",
        "survey",
        "times",
        "abandoned",
        "week",
    ):
        assert f'id="{name}"' in page
        assert f"/reports/{name}.csv?" in page
    assert page.count("<svg") >= 5
    assert "<script" not in page
    assert "+200%" in page


def test_all_services_show_a_breakdown_per_service(app, stopitnow_2025):
    page = signed_in(app, "admin").get("/reports?year=2025").get_data(as_text=True)
    assert "Per service" in page and "Helpwanted" in page
    rows = rows_of(signed_in(app, "supervisor").get("/reports/services.csv?year=2025"))
    assert rows[0] == ["Service", "Inbound", "Callbacks", "Contact moments", "Unique people"]
    assert ["Stop it Now!", "5", "1", "6", "4"] in rows


def test_the_print_view_has_the_period_and_service_and_no_controls(app, stopitnow_2025):
    response = signed_in(app, "supervisor").get("/reports?year=2025&service=stopitnow&print=1")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Report 2025" in page and "Stop it Now!" in page
    assert "report-filter" not in page and "staffbar" not in page and ".csv" not in page
    assert "css/report.css" in page


def test_csv_of_a_table(app, stopitnow_2025):
    response = signed_in(app, "supervisor").get("/reports/moments.csv?year=2025&service=stopitnow")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="report-moments-stopitnow-2025-01-01_2025-12-31.csv"'
    )
    assert rows_of(response) == [
        ["Channel", "Inbound", "Callbacks", "Contact moments"],
        ["Chat", "2", "0", "2"],
        ["Form", "1", "0", "1"],
        ["Phone", "2", "1", "3"],
        ["Total", "5", "1", "6"],
    ]


def test_every_table_has_a_csv_with_a_header_row(app, stopitnow_2025):
    http = signed_in(app, "supervisor")
    for name in (
        "moments",
        "people",
        "categories",
        "growth",
        "funnel",
        "survey",
        "times",
        "abandoned",
        "week",
    ):
        response = http.get(f"/reports/{name}.csv?from=2025-03-01&to=2025-03-30")
        assert response.status_code == 200, name
        rows = rows_of(response)
        assert len(rows) >= 2 and rows[0][0], name
        assert "all-services-2025-03-01_2025-03-30" in response.headers["Content-Disposition"]
    categories = rows_of(http.get("/reports/categories.csv?year=2025&service=stopitnow"))
    assert categories[-1] == ["Unique total", "3", "2"]
    week = rows_of(http.get("/reports/week.csv?year=2025&service=stopitnow"))
    assert week[0][:3] == ["Weekday", "00", "01"] and week[1][1] == "1"
    assert http.get("/reports/nonsense.csv?year=2025").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "year=abc",
        "year=1900",
        "from=2025-02-30&to=2025-03-01",
        "from=2025-03-01&to=2025-02-01",
        "from=2020-01-01&to=2025-01-01",
        "from=2025-01-01",
        "year=2025&from=2025-01-01&to=2025-02-01",
        "year=2025&service=nope",
    ],
)
def test_bad_parameters_get_a_readable_error(app, query):
    http = signed_in(app, "supervisor")
    response = http.get(f"/reports?{query}")
    assert response.status_code == 422
    assert "This report cannot be shown" in response.get_data(as_text=True)
    assert http.get(f"/reports/moments.csv?{query}").status_code == 422


def test_three_years_is_the_longest_range(app):
    http = signed_in(app, "supervisor")
    assert http.get("/reports?from=2022-01-01&to=2024-12-31").status_code == 200
    assert http.get("/reports?from=2022-01-01&to=2025-01-01").status_code == 422


def test_a_report_inside_a_transaction_that_wrote_sees_its_own_rows(stopitnow_2025):
    """On PostgreSQL the report reads on a second connection only when that sees the same rows."""
    before = figures.report(Period.year(2025), "stopitnow")
    conversation = Conversation(
        service_id=service_id("stopitnow"),
        channel="chat",
        state="closed",
        created_at=utc("2025-09-01 10:00"),
        waiting_since=utc("2025-09-01 10:00"),
        abandoned=True,
    )
    db.session.add(conversation)
    db.session.flush()
    db.session.add(
        ContactMoment(conversation_id=conversation.id, started_at=utc("2025-09-01 10:00"))
    )
    db.session.flush()  # written, not committed
    during = figures.report(Period.year(2025), "stopitnow")
    assert during.moments["total"] == before.moments["total"] + 1
    assert during.abandoned["total"] == before.abandoned["total"] + 1
    db.session.rollback()
    assert figures.report(Period.year(2025), "stopitnow").moments == before.moments
