"""Follow-up sessions with therapists: availability, booking, history, outcomes, callbacks."""

import threading
from datetime import date, datetime, time

import pytest
from flask import current_app
from sqlalchemy import func, select, update

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.followup import bookings, sessions, therapists
from helpline.followup.errors import (
    NoNumber,
    OutsideAvailability,
    SlotInPast,
    SlotTaken,
    UnknownBookingCode,
)
from helpline.followup.models import Booking
from helpline.inbox.errors import InvalidState, NotAllowed, NotFound
from helpline.inbox.models import ContactMoment, Conversation, Service
from helpline.phone.models import PhoneLine
from tests import factories
from tests.factories import Caller, audit_actions, messages_of

# Mondays around the change to summer time (29 March 2026) and back (25 October 2026).
WINTER_MONDAY = date(2026, 3, 23)
SUMMER_MONDAY = date(2026, 3, 30)
AUTUMN_MONDAY = date(2026, 10, 26)
BEFORE_ALL = datetime(2026, 3, 20, 12, 0)


@pytest.fixture
def therapist(app):
    """Eva, a therapist with Monday mornings 10:00-12:00 in 45-minute sessions."""
    eva = factories.staff_user("Eva", role="therapist")
    eva.phone_endpoint = "+31600000077"
    db.session.commit()
    therapists.add_rule(eva, eva.id, 0, time(10), time(12), 45, valid_from=date(2026, 1, 1))
    return eva


@pytest.fixture
def anna(app):
    return factories.staff_user("Anna")


@pytest.fixture
def conversation(app, visitor, anna):
    """A chat of a worried caller that Anna has."""
    person = visitor()
    person.say("Ik maak me zorgen over mijn gedachten.", service="stopitnow")
    db.session.execute(
        update(Conversation).values(state="active", assignee_id=anna.id, assigned_at=BEFORE_ALL)
    )
    db.session.commit()
    return person.conversation()


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def book(conversation, anna, therapist, starts_at, method="chat", **options):
    options.setdefault("now", BEFORE_ALL)
    return bookings.book(conversation.id, anna, therapist.id, starts_at, method, **options)


# --- availability and daylight saving ----------------------------------------------------------


def test_weekly_availability_keeps_local_time_across_daylight_saving(app, therapist):
    slots = therapists.free_slots(therapist.id, WINTER_MONDAY, 8, now=BEFORE_ALL)
    winter = [s.starts_at for s in slots if s.starts_at.date() == WINTER_MONDAY]
    summer = [s.starts_at for s in slots if s.starts_at.date() == SUMMER_MONDAY]
    # 10:00 and 10:45 in Amsterdam: UTC+1 in winter, UTC+2 in summer; 11:30 would end after 12.
    assert winter == [utc(WINTER_MONDAY, 9), utc(WINTER_MONDAY, 9, 45)]
    assert summer == [utc(SUMMER_MONDAY, 8), utc(SUMMER_MONDAY, 8, 45)]
    autumn = therapists.free_slots(therapist.id, AUTUMN_MONDAY, 1, now=BEFORE_ALL)
    assert [s.starts_at for s in autumn] == [utc(AUTUMN_MONDAY, 9), utc(AUTUMN_MONDAY, 9, 45)]
    assert bookings.describe(utc(SUMMER_MONDAY, 8)) == "Mon 30 Mar 2026 10:00"
    assert bookings.describe(utc(WINTER_MONDAY, 9)) == "Mon 23 Mar 2026 10:00"


def test_days_off_and_extra_blocks_change_the_offer(app, therapist):
    therapists.add_exception(therapist, therapist.id, WINTER_MONDAY, "unavailable")
    therapists.add_exception(
        therapist, therapist.id, SUMMER_MONDAY, "unavailable", time(11), time(12)
    )
    therapists.add_exception(
        therapist, therapist.id, date(2026, 3, 25), "extra", time(14), time(15), 60
    )
    slots = [s.starts_at for s in therapists.free_slots(therapist.id, WINTER_MONDAY, 8, BEFORE_ALL)]
    assert slots == [utc(date(2026, 3, 25), 13), utc(SUMMER_MONDAY, 8)]


def test_only_the_therapist_or_a_supervisor_changes_availability(app, therapist, anna):
    with pytest.raises(NotAllowed):
        therapists.add_rule(anna, therapist.id, 1, time(9), time(10))
    sam = factories.staff_user("Sam", role="supervisor")
    therapists.add_rule(sam, therapist.id, 1, time(9), time(10), 60, valid_from=date(2026, 1, 1))
    with pytest.raises(InvalidState):
        therapists.add_rule(therapist, therapist.id, 2, time(10), time(9))


# --- booking --------------------------------------------------------------------------------------


def test_counsellor_books_a_session_and_the_conversation_says_so(
    app, conversation, anna, therapist
):
    booked = book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8))
    assert len(booked.code) == 8
    booking = db.session.get(Booking, booked.booking.id)
    assert (booking.status, booking.method) == ("booked", "chat")
    assert booking.ends_at == utc(SUMMER_MONDAY, 8, 45)
    assert booking.client_id == conversation.client_id
    assert booking.code_hash != booked.code and booked.code not in repr(booking.__dict__)
    assert messages_of(conversation.id)[-1].body == (
        "Anna booked a follow-up session with Eva on Mon 30 Mar 2026 10:00."
    )
    assert (anna.id, "followup.book") in audit_actions(conversation.id)
    free = therapists.free_slots(therapist.id, SUMMER_MONDAY, 1, now=BEFORE_ALL)
    assert [s.starts_at for s in free] == [utc(SUMMER_MONDAY, 8, 45)]


@pytest.mark.parametrize(
    ("starts_at", "error"),
    [
        (utc(SUMMER_MONDAY, 8, 15), OutsideAvailability),  # not a slot start
        (utc(date(2026, 3, 31), 8), OutsideAvailability),  # a Tuesday
        (datetime(2026, 3, 16, 9, 0), SlotInPast),
    ],
)
def test_a_time_outside_the_offer_is_refused_and_nothing_is_stored(
    app, conversation, anna, therapist, starts_at, error
):
    with pytest.raises(error):
        book(conversation, anna, therapist, starts_at)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_a_taken_slot_is_refused(app, conversation, anna, therapist):
    book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8))
    with pytest.raises(SlotTaken):
        book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8))
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_a_closed_conversation_cannot_get_a_session(app, conversation, anna, therapist):
    db.session.execute(update(Conversation).values(state="closed"))
    db.session.commit()
    with pytest.raises(InvalidState, match="closed"):
        book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8))
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_a_therapist_cannot_book_and_a_counsellor_is_no_therapist(
    app, conversation, anna, therapist
):
    with pytest.raises(NotAllowed):
        book(conversation, therapist, therapist, utc(SUMMER_MONDAY, 8))
    with pytest.raises(NotFound):
        book(conversation, anna, anna, utc(SUMMER_MONDAY, 8))


def test_the_database_refuses_a_second_holder_of_a_slot(app, conversation, anna, therapist):
    book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8))
    db.session.add(
        Booking(
            therapist_id=therapist.id,
            conversation_id=conversation.id,
            starts_at=utc(SUMMER_MONDAY, 8),
            ends_at=utc(SUMMER_MONDAY, 8, 45),
            method="chat",
        )
    )
    with pytest.raises(Exception, match=r"(?i)unique"):
        db.session.commit()
    db.session.rollback()


def test_simultaneous_bookings_of_one_slot_give_exactly_one_session(
    app, database_url_for_tests, visitor, anna, therapist
):
    people = []
    for index in range(6):
        person = visitor()
        person.say(f"Vraag {index}", service="stopitnow")
        people.append(person.conversation().id)
    db.session.execute(update(Conversation).values(state="active", assignee_id=anna.id))
    db.session.commit()
    # Plain ids: the fixtures' objects belong to this thread's session.
    anna_id, therapist_id = anna.id, therapist.id
    barrier = threading.Barrier(len(people), timeout=20)
    outcomes = []

    def attempt(conversation_id):
        with app.app_context():
            user = db.session.get(StaffUser, anna_id)
            db.session.rollback()  # hold no lock while waiting for the others
            barrier.wait()
            try:
                bookings.book(
                    conversation_id,
                    user,
                    therapist_id,
                    utc(SUMMER_MONDAY, 8),
                    "chat",
                    now=BEFORE_ALL,
                )
                outcomes.append("booked")
            except SlotTaken:
                outcomes.append("taken")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(c,)) for c in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["booked"] + ["taken"] * 5
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_reschedule_and_cancel_keep_the_history(app, conversation, anna, therapist):
    first = book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8)).booking
    moved = bookings.reschedule(first.id, anna, utc(SUMMER_MONDAY, 8, 45), now=BEFORE_ALL)
    assert moved.rescheduled_from_id == first.id
    assert db.session.get(Booking, first.id).status == "rescheduled"
    # The first time is free again; the new one is not.
    free = [s.starts_at for s in therapists.free_slots(therapist.id, SUMMER_MONDAY, 1, BEFORE_ALL)]
    assert free == [utc(SUMMER_MONDAY, 8)]
    bookings.cancel(moved.id, anna, "Client asked to cancel", now=BEFORE_ALL)
    history = [(b.status, b.starts_at) for b in bookings.bookings_of(conversation.id)]
    assert history == [
        ("rescheduled", utc(SUMMER_MONDAY, 8)),
        ("cancelled", utc(SUMMER_MONDAY, 8, 45)),
    ]
    assert [e for _, e in audit_actions(conversation.id) if e.startswith("followup")] == [
        "followup.book",
        "followup.reschedule",
        "followup.cancel",
    ]
    # Both times can be booked again.
    assert len(therapists.free_slots(therapist.id, SUMMER_MONDAY, 1, BEFORE_ALL)) == 2


def test_the_code_of_a_moved_chat_session_still_opens_it(app, conversation, anna, therapist):
    booked = book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8))
    moved = bookings.reschedule(booked.booking.id, anna, utc(SUMMER_MONDAY, 8, 45), now=BEFORE_ALL)
    chat, _token = sessions.open_booked_chat(booked.code.lower(), now=utc(SUMMER_MONDAY, 8, 40))
    assert (chat.state, chat.assignee_id) == ("active", therapist.id)
    assert db.session.get(Booking, moved.id).chat_conversation_id == chat.id
    assert chat.client_id == conversation.client_id


def test_a_booked_chat_opens_only_around_its_time(app, conversation, anna, therapist):
    booked = book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8))
    for moment in (utc(SUMMER_MONDAY, 7, 30), utc(SUMMER_MONDAY, 9)):
        with pytest.raises(UnknownBookingCode):
            sessions.open_booked_chat(booked.code, now=moment)
    with pytest.raises(UnknownBookingCode):
        sessions.open_booked_chat("WRONGCODE", now=utc(SUMMER_MONDAY, 8))
    opened, token = sessions.open_booked_chat(booked.code, now=utc(SUMMER_MONDAY, 7, 50))
    again, same_token = sessions.open_booked_chat(booked.code, now=utc(SUMMER_MONDAY, 8, 5))
    assert (opened.id, token) == (again.id, same_token)
    assert messages_of(opened.id)[0].body == "The client opened the booked chat session with Eva."


# --- outcomes and callbacks ----------------------------------------------------------------------


def test_the_therapist_records_the_outcome_once_the_session_started(
    app, conversation, anna, therapist
):
    booking = book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8)).booking
    with pytest.raises(InvalidState, match="not started"):
        sessions.record_outcome(booking.id, therapist, "held", now=BEFORE_ALL)
    with pytest.raises(NotAllowed):
        sessions.record_outcome(booking.id, anna, "held", now=utc(SUMMER_MONDAY, 9))
    sessions.record_outcome(
        booking.id, therapist, "referred", "Aangemeld bij behandelcentrum", utc(SUMMER_MONDAY, 9)
    )
    booking = db.session.get(Booking, booking.id)
    assert (booking.status, booking.outcome_by_id) == ("referred", therapist.id)
    assert (therapist.id, "followup.outcome") in audit_actions(conversation.id)
    assert messages_of(conversation.id)[-1].body == (
        "Follow-up session of Mon 30 Mar 2026 10:00: held, and referred into treatment."
    )


def phone_conversation(app, number="+31612345678") -> Conversation:
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number="+31800000001")
    )
    db.session.commit()
    caller = Caller(app, number=number)
    caller.call()
    caller.press("2")
    caller.status("completed", 20)
    db.session.rollback()
    return db.session.scalar(select(Conversation).where(Conversation.channel == "phone"))


def test_therapist_calls_back_at_the_session_and_it_counts_as_a_contact(app, anna, therapist):
    conversation = phone_conversation(app)
    db.session.execute(update(Conversation).values(state="active", assignee_id=anna.id))
    db.session.commit()
    booking = book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8), "phone").booking
    # Closing the conversation erases its number; the booking keeps its own sealed copy.
    db.session.execute(update(Conversation).values(state="wrap_up"))
    db.session.commit()
    from helpline.inbox import conversations

    conversations.close(
        conversation.id,
        anna,
        "Zorgen over eigen gevoelens",
        [factories.category_id("concern_self")],
    )
    line = db.session.scalar(select(PhoneLine))
    assert line.sealed_number is None
    with pytest.raises(InvalidState, match="30 minutes"):
        sessions.call_client(booking.id, therapist, now=utc(SUMMER_MONDAY, 6))
    with current_app.test_request_context():
        call = sessions.call_client(booking.id, therapist, now=utc(SUMMER_MONDAY, 7, 55))
    twilio = app.config["TWILIO_HTTP_CLIENT"]
    [created] = [r for r in twilio.requests if r["path"].endswith("/Calls.json")]
    assert created["data"]["To"] == "+31600000077"
    assert ">+31612345678</Number>" in created["data"]["Twiml"]
    caller = Caller(app)
    child = factories.call_sid()
    caller.status("in-progress", sid=child, parent=call.call_sid)
    caller.status("completed", 1500, sid=child, parent=call.call_sid)
    kinds = db.session.scalars(
        select(ContactMoment.kind).where(ContactMoment.conversation_id == conversation.id)
    ).all()
    assert sorted(kinds) == ["callback", "inbound"]
    sessions.record_outcome(booking.id, therapist, "held", now=utc(SUMMER_MONDAY, 9))
    assert db.session.get(Booking, booking.id).sealed_number is None


def test_a_phone_session_needs_a_number(app, conversation, anna, therapist):
    with pytest.raises(NoNumber):
        book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8), "phone")
    with pytest.raises(NoNumber):
        book(conversation, anna, therapist, utc(SUMMER_MONDAY, 8), "phone", number="06-1234")
    booked = book(
        conversation, anna, therapist, utc(SUMMER_MONDAY, 8), "phone", number="+31611112222"
    )
    assert "31611112222" not in (booked.booking.sealed_number or "")
    assert booked.code is None


# --- what the therapist sees ---------------------------------------------------------------------


def test_agenda_shows_categories_and_summary_and_the_transcript_only_when_shared(
    app, conversation, anna, therapist
):
    shared = book(
        conversation, anna, therapist, utc(SUMMER_MONDAY, 8), share_transcript=True
    ).booking
    db.session.execute(update(Conversation).values(state="wrap_up"))
    db.session.commit()
    from helpline.inbox import conversations

    conversations.close(conversation.id, anna, "Wil hulp", [factories.category_id("concern_self")])
    other = factories.staff_user("Finn", role="therapist")
    [row] = sessions.agenda(therapist, now=BEFORE_ALL)
    assert row["categories"] == ["Concern about own feelings"]
    assert row["summary"] == "Wil hulp"
    assert row["when"].hour == 10
    assert sessions.agenda(other, now=BEFORE_ALL) == []
    words = [m.body for m in sessions.transcript(shared.id, therapist)]
    assert "Ik maak me zorgen over mijn gedachten." in words
    with pytest.raises(NotAllowed):
        sessions.transcript(shared.id, other)
    assert (therapist.id, "followup.transcript") in audit_actions(conversation.id)
    assert (therapist.id, "followup.agenda") in audit_actions(conversation.id)
