"""Booking a follow-up from the inbox's panel: the booking form and its outcome as fragments for
the panel, through the same booking service and rules; and the public address in its link."""

import re

import pytest
from sqlalchemy import select

from helpline.config import from_environment, public_url
from helpline.extensions import db
from helpline.followup.models import Booking
from tests import test_followup_pages as pages
from tests.test_followup_pages import booking_count, first_free, slot_value

# The booking pages' own fixtures: a counsellor with a chat, a therapist with free times.
anna, conversation, signed_in, therapist = (
    pages.anna,
    pages.conversation,
    pages.signed_in,
    pages.therapist,
)


def test_the_panel_gets_the_booking_form_without_a_page_around_it(
    app, signed_in, conversation, anna, therapist
):
    panel = signed_in(anna).get(f"/followup/book/{conversation.id}?panel=1")

    assert panel.status_code == 200
    assert "<html" not in panel.text and "staff-nav" not in panel.text
    assert f'action="/followup/book/{conversation.id}?panel=1"' in panel.text
    assert 'name="csrf_token"' in panel.text
    assert slot_value(first_free(therapist)) in panel.text and "Eva" in panel.text


def test_booking_in_the_panel_gives_the_code_and_the_words_for_the_client(
    app, signed_in, conversation, anna, therapist
):
    slot = first_free(therapist)

    answer = signed_in(anna).post(
        f"/followup/book/{conversation.id}?panel=1",
        data={"slot": slot_value(slot), "method": "chat"},
    )

    assert answer.status_code == 200
    assert "<html" not in answer.text and "Session booked" in answer.text
    code = re.search(r'id="booking-code">([0-9A-Z]{4}-[0-9A-Z]{4})<', answer.text).group(1)
    words = re.search(r'id="client-message">(.*?)</blockquote>', answer.text, re.S).group(1)
    link = app.config["PUBLIC_URL"] + "/afspraak"
    assert f"Ga dan naar {link} en vul deze code in: {code}." in words
    assert ">Send to client</button>" in answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    db.session.rollback()
    assert db.session.scalar(select(Booking.starts_at)) == slot.starts_at


def test_a_phone_session_booked_in_the_panel_tells_the_client_to_expect_a_call(
    app, signed_in, conversation, anna, therapist
):
    answer = signed_in(anna).post(
        f"/followup/book/{conversation.id}?panel=1",
        data={
            "slot": slot_value(first_free(therapist)),
            "method": "phone",
            "number": "+31612345678",
        },
    )

    assert answer.status_code == 200
    assert "belt een therapeut je op" in answer.text and 'id="booking-code"' not in answer.text


def test_a_panel_form_without_a_time_comes_back_with_what_to_correct(
    app, signed_in, conversation, anna, therapist
):
    answer = signed_in(anna).post(
        f"/followup/book/{conversation.id}?panel=1", data={"method": "chat"}
    )

    assert answer.status_code == 422
    assert "<html" not in answer.text and 'class="field-error"' in answer.text
    assert booking_count() == 0


def test_whoever_may_not_book_gets_no_panel(app, signed_in, conversation, therapist):
    answer = signed_in(therapist).get(f"/followup/book/{conversation.id}?panel=1")

    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "http://127.0.0.1:5000"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"HOST": "0.0.0.0", "PORT": "8000"}, "http://127.0.0.1:8000"),  # noqa: S104
        ({"HOST": "helpline.local", "PORT": "8000"}, "http://helpline.local:8000"),
        ({"PUBLIC_URL": "https://hulp.example.org/", "PORT": "8000"}, "https://hulp.example.org"),
    ],
)
def test_the_public_address_follows_host_and_port_unless_it_is_set(environment, expected):
    assert public_url(environment) == expected


def test_the_app_takes_its_public_address_from_the_port_it_serves_on(monkeypatch, tmp_path):
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.setenv("PORT", "5123")

    assert from_environment(str(tmp_path))["PUBLIC_URL"] == "http://127.0.0.1:5123"
