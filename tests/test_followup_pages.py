"""Follow-up pages: booking, agenda, transcript, outcomes, availability, ICS feed, booked chat."""

import re
from datetime import UTC, date, datetime, time, timedelta

import icalendar
import pytest
from sqlalchemy import func, select, update

from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.followup import bookings, sessions, therapists
from helpline.followup.models import AvailabilityException, AvailabilityRule, Booking
from helpline.inbox import conversations
from helpline.inbox.models import Conversation
from helpline.timeutil import utcnow
from tests import factories

WORDS = "Ik maak me zorgen over mijn gedachten."
SUMMARY = "Wil hulp bij zijn gevoelens"
LONG_AGO = date(2020, 1, 1)
# A `now` before every slot of the tests: free_slots then lists past slots too.
LONG_DAY = datetime(2000, 1, 1)


@pytest.fixture
def signed_in(app):
    """A function giving a signed-in HTTP client for a staff user."""
    made = []

    def sign_in(user):
        staff = factories.Staff(app, user)
        made.append(staff)
        return staff.http

    yield sign_in
    for staff in made:
        staff.close()


@pytest.fixture
def therapist(app):
    """Eva, a therapist with every day 10:00-12:00 in sessions of 45 minutes."""
    eva = factories.staff_user("Eva", role="therapist")
    eva.phone_endpoint = "+31600000077"
    db.session.commit()
    for weekday in range(7):
        therapists.add_rule(eva, eva.id, weekday, time(10), time(12), 45, valid_from=LONG_AGO)
    return eva


@pytest.fixture
def anna(app):
    return factories.staff_user("Anna")


@pytest.fixture
def conversation(app, visitor, anna):
    """A Stop it Now! chat that Anna has."""
    person = visitor()
    person.say(WORDS, service="stopitnow")
    db.session.execute(update(Conversation).values(state="active", assignee_id=anna.id))
    db.session.commit()
    return person.conversation()


def slot_value(slot) -> str:
    return f"{slot.therapist_id}:{slot.starts_at.isoformat()}"


def first_free(therapist) -> therapists.Slot:
    return therapists.free_slots(therapist.id)[0]


def booking_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Booking))


def close_with_summary(conversation, anna):
    db.session.execute(update(Conversation).values(state="wrap_up"))
    db.session.commit()
    conversations.close(conversation.id, anna, SUMMARY, [factories.category_id("concern_self")])


def booked_at(conversation, anna, therapist, starts_at, method="chat", **options):
    """A booking made as if an hour before the session (the page itself uses the real clock)."""
    options.setdefault("now", starts_at - timedelta(hours=1))
    return bookings.book(conversation.id, anna, therapist.id, starts_at, method, **options)


# --- booking --------------------------------------------------------------------------------------


def test_counsellor_books_a_chat_and_sees_the_code_once(
    app, signed_in, conversation, anna, therapist
):
    http = signed_in(anna)
    page = http.get(f"/followup/book/{conversation.id}")
    assert page.status_code == 200
    slot = first_free(therapist)
    assert slot_value(slot) in page.text and "Eva" in page.text
    answer = http.post(
        f"/followup/book/{conversation.id}",
        data={"slot": slot_value(slot), "method": "chat", "share_transcript": "true"},
    )
    assert answer.status_code == 200
    code = re.search(r'id="booking-code">([0-9A-Z]{4}-[0-9A-Z]{4})<', answer.text).group(1)
    assert "Ga op " in answer.text and "/afspraak</strong> en vul deze code in" in answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    db.session.rollback()
    booking = db.session.scalar(select(Booking))
    assert (booking.starts_at, booking.method, booking.transcript_shared) == (
        slot.starts_at,
        "chat",
        True,
    )
    # Shown once: the conversation's page lists the session but never the code again.
    again = http.get(f"/followup/book/{conversation.id}")
    assert code not in again.text and code.replace("-", "") not in again.text
    assert f'id="booking-{booking.id}"' in again.text


def test_a_taken_slot_gives_409_and_nothing_is_stored(
    app, signed_in, conversation, anna, therapist
):
    slot = first_free(therapist)
    bookings.book(conversation.id, anna, therapist.id, slot.starts_at, "chat")
    answer = signed_in(anna).post(
        f"/followup/book/{conversation.id}", data={"slot": slot_value(slot), "method": "chat"}
    )
    assert answer.status_code == 409
    assert "just been booked" in answer.text
    assert booking_count() == 1


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (lambda: utcnow().replace(microsecond=0) - timedelta(days=1), "has passed"),
        (
            lambda: utcnow().replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=2),
            "not available",
        ),
    ],
    ids=["past", "outside"],
)
def test_a_time_in_the_past_or_outside_availability_gives_422(
    app, signed_in, conversation, anna, therapist, when, message
):
    answer = signed_in(anna).post(
        f"/followup/book/{conversation.id}",
        data={"slot": f"{therapist.id}:{when().isoformat()}", "method": "chat"},
    )
    assert answer.status_code == 422
    assert message in answer.text
    assert booking_count() == 0


def test_a_form_without_a_time_or_with_a_bad_method_gives_422(
    app, signed_in, conversation, anna, therapist
):
    http = signed_in(anna)
    answer = http.post(f"/followup/book/{conversation.id}", data={"method": "chat"})
    assert answer.status_code == 422 and "Choose a time." in answer.text
    answer = http.post(
        f"/followup/book/{conversation.id}",
        data={"slot": slot_value(first_free(therapist)), "method": "pigeon"},
    )
    assert answer.status_code == 422 and "Choose phone or chat." in answer.text
    assert booking_count() == 0


def test_a_phone_session_without_any_number_gives_422(
    app, signed_in, conversation, anna, therapist
):
    answer = signed_in(anna).post(
        f"/followup/book/{conversation.id}",
        data={"slot": slot_value(first_free(therapist)), "method": "phone"},
    )
    assert answer.status_code == 422 and "no number to call" in answer.text
    assert booking_count() == 0


def test_a_closed_conversation_gets_no_session(app, signed_in, conversation, anna, therapist):
    close_with_summary(conversation, anna)
    answer = signed_in(anna).post(
        f"/followup/book/{conversation.id}",
        data={"slot": slot_value(first_free(therapist)), "method": "chat"},
    )
    assert answer.status_code == 409 and "closed" in answer.text
    assert booking_count() == 0


def test_therapists_cannot_open_the_booking_page(app, signed_in, conversation, therapist):
    assert signed_in(therapist).get(f"/followup/book/{conversation.id}").status_code == 403


def test_booking_pages_need_a_login(app, client, conversation):
    answer = client.get(f"/followup/book/{conversation.id}")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_counsellor_reschedules_and_cancels_from_the_conversation(
    app, signed_in, conversation, anna, therapist
):
    first, second = therapists.free_slots(therapist.id)[:2]
    booking = bookings.book(conversation.id, anna, therapist.id, first.starts_at, "chat").booking
    http = signed_in(anna)
    page = http.get(f"/followup/bookings/{booking.id}/reschedule")
    assert page.status_code == 200 and slot_value(second) in page.text
    answer = http.post(
        f"/followup/bookings/{booking.id}/reschedule", data={"slot": slot_value(second)}
    )
    assert answer.status_code == 303
    db.session.rollback()
    moved = db.session.scalar(select(Booking).where(Booking.status == "booked"))
    assert moved.starts_at == second.starts_at and moved.rescheduled_from_id == booking.id
    answer = http.post(f"/followup/bookings/{moved.id}/cancel", data={"reason": "Client belde af"})
    assert answer.status_code == 303
    db.session.rollback()
    history = [(b.status, b.cancel_reason) for b in bookings.bookings_of(conversation.id)]
    assert history == [("rescheduled", None), ("cancelled", "Client belde af")]
    listed = http.get(f"/followup/book/{conversation.id}").text
    assert "Moved" in listed and "Cancelled" in listed and "Client belde af" in listed


# --- the agenda, transcript and outcomes ----------------------------------------------------------


def test_agenda_shows_categories_and_summary_but_not_the_words(
    app, signed_in, conversation, anna, therapist
):
    booking = bookings.book(
        conversation.id, anna, therapist.id, first_free(therapist).starts_at, "chat"
    ).booking
    close_with_summary(conversation, anna)
    http = signed_in(therapist)
    page = http.get("/followup/agenda")
    assert page.status_code == 200
    assert "Concern about own feelings" in page.text and SUMMARY in page.text
    assert WORDS not in page.text
    assert f"/followup/bookings/{booking.id}/transcript" not in page.text
    assert http.get(f"/followup/bookings/{booking.id}/transcript").status_code == 403


def test_the_transcript_page_shows_a_shared_conversation_without_notes(
    app, signed_in, conversation, anna, therapist
):
    other = factories.staff_user("Finn", role="therapist")
    inbox_staff = factories.Staff(app, anna)
    inbox_staff.say(conversation.id, "Interne notitie", note=True)
    inbox_staff.close()
    booking = bookings.book(
        conversation.id,
        anna,
        therapist.id,
        first_free(therapist).starts_at,
        "chat",
        share_transcript=True,
    ).booking
    http = signed_in(therapist)
    assert f"/followup/bookings/{booking.id}/transcript" in http.get("/followup/agenda").text
    page = http.get(f"/followup/bookings/{booking.id}/transcript")
    assert page.status_code == 200
    assert WORDS in page.text and "Interne notitie" not in page.text
    assert signed_in(other).get(f"/followup/bookings/{booking.id}/transcript").status_code == 403


def test_counsellors_have_no_agenda(app, signed_in, anna):
    assert signed_in(anna).get("/followup/agenda").status_code == 403


def test_therapist_records_an_outcome_with_a_note(app, signed_in, conversation, anna, therapist):
    yesterday = therapists.free_slots(therapist.id, date.today() - timedelta(days=1), 1, LONG_DAY)[
        0
    ]
    booking = booked_at(conversation, anna, therapist, yesterday.starts_at).booking
    http = signed_in(therapist)
    answer = http.post(
        f"/followup/bookings/{booking.id}/outcome",
        data={"outcome": "referred", "note": "Aangemeld bij de poli"},
    )
    assert answer.status_code == 303
    db.session.rollback()
    booking = db.session.get(Booking, booking.id)
    assert (booking.status, booking.outcome_note) == ("referred", "Aangemeld bij de poli")
    assert "Referred into treatment" in http.get("/followup/agenda").text


def test_an_outcome_before_the_session_is_refused(app, signed_in, conversation, anna, therapist):
    booking = bookings.book(
        conversation.id, anna, therapist.id, first_free(therapist).starts_at, "chat"
    ).booking
    http = signed_in(therapist)
    answer = http.post(f"/followup/bookings/{booking.id}/outcome", data={"outcome": "held"})
    assert answer.status_code == 409 and "has not started yet" in answer.text
    answer = http.post(f"/followup/bookings/{booking.id}/outcome", data={"outcome": "maybe"})
    assert answer.status_code == 422 and "Choose an outcome." in answer.text
    db.session.rollback()
    assert db.session.get(Booking, booking.id).status == "booked"


def test_calling_the_client_too_early_says_when_it_can(
    app, signed_in, conversation, anna, therapist
):
    slot = therapists.free_slots(therapist.id, date.today() + timedelta(days=2), 1)[0]
    booking = bookings.book(
        conversation.id, anna, therapist.id, slot.starts_at, "phone", number="+31611112222"
    ).booking
    http = signed_in(therapist)
    assert "Call client" in http.get("/followup/agenda").text
    answer = http.post(f"/followup/bookings/{booking.id}/call")
    assert answer.status_code == 409 and "30 minutes before" in answer.text


# --- availability ---------------------------------------------------------------------------------


def test_therapist_adds_and_removes_a_weekly_block_and_a_day_off(app, signed_in, therapist):
    http = signed_in(therapist)
    page = http.get("/followup/availability")
    assert page.status_code == 200 and "Free times in the next 14 days" in page.text
    answer = http.post(
        "/followup/availability/rules",
        data={"weekday": "2", "starts": "14:00", "ends": "16:00", "slot_minutes": "60"},
    )
    assert answer.status_code == 303
    rule = db.session.scalar(select(AvailabilityRule).where(AvailabilityRule.starts == time(14)))
    rule_id = rule.id
    assert (rule.weekday, rule.slot_minutes, rule.therapist_id) == (2, 60, therapist.id)
    day = date.today() + timedelta(days=3)
    answer = http.post(
        "/followup/availability/exceptions", data={"day": day.isoformat(), "kind": "unavailable"}
    )
    assert answer.status_code == 303
    db.session.rollback()
    assert all(s.starts_at.date() != day for s in therapists.free_slots(therapist.id))
    exception = db.session.scalar(select(AvailabilityException))
    assert http.post(f"/followup/availability/exceptions/{exception.id}/delete").status_code == 303
    assert http.post(f"/followup/availability/rules/{rule_id}/delete").status_code == 303
    db.session.rollback()
    assert db.session.get(AvailabilityRule, rule_id) is None
    assert db.session.scalar(select(func.count()).select_from(AvailabilityException)) == 0


def test_a_block_that_ends_before_it_starts_gives_422(app, signed_in, therapist):
    answer = signed_in(therapist).post(
        "/followup/availability/rules", data={"weekday": "2", "starts": "16:00", "ends": "14:00"}
    )
    assert answer.status_code == 422 and "must end after it starts" in answer.text
    answer = signed_in(therapist).post(
        "/followup/availability/exceptions",
        data={"day": date.today().isoformat(), "kind": "extra"},
    )
    assert answer.status_code == 422 and "needs a start and an end" in answer.text
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AvailabilityRule)) == 7
    assert db.session.scalar(select(func.count()).select_from(AvailabilityException)) == 0


def test_a_supervisor_manages_a_therapists_availability_and_a_counsellor_cannot(
    app, signed_in, therapist, anna
):
    sam = factories.staff_user("Sam", role="supervisor")
    page = signed_in(sam).get(f"/followup/availability?therapist={therapist.id}")
    assert page.status_code == 200 and "Availability of Eva" in page.text
    assert signed_in(anna).get("/followup/availability").status_code == 403
    answer = signed_in(anna).post(
        "/followup/availability/rules",
        data={"therapist": therapist.id, "weekday": "2", "starts": "14:00", "ends": "16:00"},
    )
    assert answer.status_code == 403


# --- the calendar feed ----------------------------------------------------------------------------


def feed_token(http) -> str:
    page = http.post("/followup/calendar/rotate")
    assert page.status_code == 200
    return re.search(r"/followup/calendar/([A-Za-z0-9_-]{43})\.ics", page.text).group(1)


def test_the_calendar_feed_has_times_in_utc_and_nothing_about_the_client(
    app, client, signed_in, conversation, anna, therapist
):
    winter = datetime(2030, 1, 7, 9, 0)  # Monday 10:00 in Amsterdam, UTC+1
    summer = datetime(2030, 7, 1, 8, 0)  # Monday 10:00 in Amsterdam, UTC+2
    booked_at(conversation, anna, therapist, winter)
    phone = booked_at(conversation, anna, therapist, summer, "phone", number="+31611112222").booking
    close_with_summary(conversation, anna)
    bookings.cancel(phone.id, anna, "Geheime reden", now=summer - timedelta(days=1))
    token = feed_token(signed_in(therapist))
    answer = client.get(f"/followup/calendar/{token}.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    feed = icalendar.Calendar.from_ical(answer.data)
    events = sorted(feed.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))
    assert [(e.decoded("dtstart"), e.decoded("dtend")) for e in events] == [
        (winter.replace(tzinfo=UTC), datetime(2030, 1, 7, 9, 45, tzinfo=UTC)),
        (summer.replace(tzinfo=UTC), datetime(2030, 7, 1, 8, 45, tzinfo=UTC)),
    ]
    assert [str(e["summary"]) for e in events] == [
        "Follow-up session (chat)",
        "Follow-up session (phone)",
    ]
    assert [str(e["status"]) for e in events] == ["CONFIRMED", "CANCELLED"]
    assert str(events[0]["uid"]).startswith("booking-")
    text = answer.data.decode()
    for private in (SUMMARY, "Concern about own feelings", "Geheime reden", "3161111", "Stop"):
        assert private not in text
    assert "CATEGORIES" not in text and "DESCRIPTION" not in text


def test_a_new_calendar_address_ends_the_old_one(app, client, signed_in, therapist):
    http = signed_in(therapist)
    old = feed_token(http)
    assert client.get(f"/followup/calendar/{old}.ics").status_code == 200
    new = feed_token(http)
    assert client.get(f"/followup/calendar/{old}.ics").status_code == 404
    assert client.get(f"/followup/calendar/{new}.ics").status_code == 200
    assert client.get("/followup/calendar/made-up.ics").status_code == 404
    db.session.rollback()
    assert new not in (db.session.get(type(therapist), therapist.id).calendar_token_hash or "")


def test_only_therapists_have_a_calendar_address(app, signed_in, anna):
    assert signed_in(anna).post("/followup/calendar/rotate").status_code == 403


# --- the client's booked chat ---------------------------------------------------------------------


def slot_open_now(therapist) -> therapists.Slot:
    """Today's (or tomorrow's) slot whose chat can be opened right now."""
    now = utcnow()
    for slot in therapists.free_slots(therapist.id, date.today() - timedelta(days=1), 3, LONG_DAY):
        if slot.starts_at - sessions.CHAT_OPENS_BEFORE <= now <= slot.ends_at:
            return slot
    raise AssertionError("no slot open now")


@pytest.fixture
def all_day(app, therapist):
    """Eva is available around the clock (in 10-minute sessions) today and tomorrow."""
    for offset in (-1, 0, 1):
        therapists.add_exception(
            therapist,
            therapist.id,
            date.today() + timedelta(days=offset),
            "extra",
            time(0),
            time(23, 50),
            10,
        )


def test_the_client_opens_the_booked_chat_with_the_code(
    app, client, conversation, anna, therapist, all_day
):
    slot = slot_open_now(therapist)
    code = booked_at(conversation, anna, therapist, slot.starts_at).code
    page = client.get("/afspraak")
    assert page.status_code == 200 and "Je afspraak" in page.text
    answer = client.post("/afspraak", data={"code": followup_code(code)})
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith("/chat/stopitnow#resume=")
    db.session.rollback()
    chat = db.session.scalar(
        select(Conversation).where(
            Conversation.token_hash == keyed_hash("conversation", location.split("#resume=")[1])
        )
    )
    assert (chat.state, chat.assignee_id, chat.channel) == ("active", therapist.id, "chat")
    assert chat.client_id == conversation.client_id


def followup_code(code: str) -> str:
    """As a client might type it: lower case, with a dash."""
    return f"{code[:4].lower()}-{code[4:]}"


def test_a_wrong_code_or_a_code_at_the_wrong_time_gives_a_dutch_422(
    app, client, conversation, anna, therapist
):
    later = therapists.free_slots(therapist.id, date.today() + timedelta(days=2), 1)[0]
    code = bookings.book(conversation.id, anna, therapist.id, later.starts_at, "chat").code
    for typed in ("WRONG-CODE", code, ""):
        answer = client.post("/afspraak", data={"code": typed})
        assert answer.status_code == 422
        assert "We kennen deze code niet" in answer.text
    assert db.session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_guessing_codes_is_rate_limited(app, client):
    app.config["BOOKING_CODE_RATE_LIMIT"] = "3 per hour"
    statuses = [client.post("/afspraak", data={"code": "ABCD1234"}).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
