"""Counsellors say whether they are available, away or on a break; who is away is offered no
transfers and no calls, and every status is kept as a period for the report."""

from datetime import timedelta

from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox import staff_status
from helpline.inbox.models import StaffStatusPeriod
from helpline.phone.inbox import staff_available_for_calls
from tests import factories
from tests.test_inbox import open_chats


def periods_of(user_id: int) -> list[tuple[str, bool]]:
    """(status, still open) of each period of a person, oldest first."""
    db.session.rollback()
    rows = db.session.scalars(
        select(StaffStatusPeriod)
        .where(StaffStatusPeriod.user_id == user_id)
        .order_by(StaffStatusPeriod.id)
    )
    return [(p.status, p.ended_at is None) for p in rows]


def test_opening_the_inbox_makes_a_counsellor_available(app, counsellor):
    anna = counsellor()

    assert anna.emit("my_status", {}) == {"ok": True, "status": "available"}
    assert periods_of(anna.user_id) == [("available", True)]


def test_choosing_away_ends_the_available_period_and_tells_the_other_tabs(app, counsellor):
    desk = counsellor()
    laptop = counsellor(user=desk.user)
    laptop.drain()

    ack = desk.emit("set_status", {"status": "away"})

    assert ack == {"ok": True, "status": "away"}
    assert [s["status"] for s in laptop.received("status")] == ["away"]
    assert periods_of(desk.user_id) == [("available", False), ("away", True)]
    assert laptop.emit("my_status", {})["status"] == "away"


def test_choosing_the_same_status_again_keeps_one_period(app, counsellor):
    anna = counsellor()
    anna.emit("set_status", {"status": "on_break"})
    anna.emit("set_status", {"status": "on_break"})

    assert periods_of(anna.user_id) == [("available", False), ("on_break", True)]


def test_an_unknown_status_is_refused_with_a_readable_message(app, counsellor):
    anna = counsellor()

    refused = anna.emit("set_status", {"status": "sleeping"})

    assert refused["error"]["code"] == "invalid"
    assert refused["error"]["fields"]["status"] == ["Choose available, away or on break."]


def test_a_therapist_has_no_inbox_status(app, counsellor):
    tess = counsellor("Tess", role="therapist")

    assert tess.emit("set_status", {"status": "away"})["error"]["code"] == "forbidden"
    assert periods_of(tess.user_id) == []


def test_closing_the_last_tab_ends_the_period_and_a_quick_return_keeps_the_status(app, counsellor):
    desk = counsellor()
    laptop = counsellor(user=desk.user)
    desk.emit("set_status", {"status": "on_break"})

    desk.close()
    assert periods_of(desk.user_id)[-1] == ("on_break", True)
    laptop.close()
    assert periods_of(desk.user_id)[-1] == ("on_break", False)

    desk.reconnect()
    assert desk.emit("my_status", {})["status"] == "on_break"


def test_after_a_long_absence_the_inbox_opens_as_available(app, counsellor):
    anna = counsellor()
    anna.emit("set_status", {"status": "away"})
    anna.close()
    db.session.rollback()
    period = db.session.scalars(select(StaffStatusPeriod).order_by(StaffStatusPeriod.id)).all()
    for p in period:
        p.started_at -= timedelta(hours=3)
        p.ended_at -= timedelta(hours=3)
    db.session.commit()

    anna.reconnect()

    assert anna.emit("my_status", {})["status"] == "available"


def test_signing_out_ends_the_open_period(app, counsellor):
    anna = counsellor()
    laptop = app.test_client()
    factories.sign_in(laptop, anna.user)

    laptop.post("/logout")

    assert periods_of(anna.user_id) == [("available", False)]


def test_a_counsellor_who_is_away_is_offered_no_calls(line, counsellor):
    anna = counsellor()
    user = db.session.get(factories.StaffUser, anna.user_id)
    user.phone_endpoint, user.takes_calls = "+31612345678", True
    db.session.commit()
    assert staff_available_for_calls(1) is True

    anna.emit("set_status", {"status": "away"})

    db.session.rollback()
    assert staff_available_for_calls(1) is False


def test_a_counsellor_who_is_away_may_still_claim_a_chat_themselves(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna = counsellor()
    anna.emit("set_status", {"status": "away"})

    assert anna.claim(1)["ok"] is True


def test_status_of_someone_offline_is_none(app):
    ben = factories.staff_user("Ben")

    assert staff_status.status_of(ben.id) is None
    assert staff_status.statuses([]) == {}
