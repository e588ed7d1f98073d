"""A visitor who closes the page is shown as gone, and after a grace period the chat moves on."""

from datetime import timedelta

from helpline.extensions import db
from helpline.inbox import presence
from helpline.inbox.models import Conversation
from helpline.timeutil import utcnow


def test_counsellor_sees_visitor_gone_and_back(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    anna = counsellor()
    anna.claim(1)
    anna.drain()

    person.sio.disconnect(namespace="/chat")
    assert anna.received("conversation")[-1]["visitor_present"] is False

    person.reconnect()
    person.resume()
    assert anna.received("conversation")[-1]["visitor_present"] is True


def test_active_chat_goes_to_wrap_up_when_visitor_stays_away(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    anna = counsellor()
    anna.claim(1)
    anna.emit("open", {"conversation_id": 1})
    person.sio.disconnect(namespace="/chat")
    anna.drain()
    grace = app.config["VISITOR_GRACE_SECONDS"]

    with app.app_context():
        assert presence.expire_departed_visitors(utcnow() + timedelta(seconds=grace - 5)) == 0
        assert presence.expire_departed_visitors(utcnow() + timedelta(seconds=grace + 1)) == 1

    db.session.rollback()
    assert db.session.get(Conversation, 1).state == "wrap_up"
    assert [m["event"] for m in anna.received("message")] == ["visitor_left"]


def test_visitor_who_leaves_the_queue_is_counted_as_abandoned(app, visitor):
    person = visitor()
    person.say("Is er iemand?")
    person.sio.disconnect(namespace="/chat")

    with app.app_context():
        presence.expire_departed_visitors(utcnow() + timedelta(seconds=3600))

    db.session.rollback()
    conversation = db.session.get(Conversation, 1)
    assert (conversation.state, conversation.abandoned) == ("closed", True)


def test_visitor_returning_within_the_grace_period_keeps_the_chat(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    counsellor().claim(1)
    person.sio.disconnect(namespace="/chat")
    person.reconnect()
    person.resume()

    with app.app_context():
        moved = presence.expire_departed_visitors(utcnow() + timedelta(seconds=30))

    assert moved == 0
    db.session.rollback()
    assert db.session.get(Conversation, 1).state == "active"


def test_chat_of_a_visitor_on_a_crashed_server_moves_on_too(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    counsellor().claim(1)
    # The server holding the connection died: no disconnect was ever reported, and no
    # heartbeat came since.
    with app.app_context():
        moved = presence.expire_departed_visitors(utcnow() + timedelta(minutes=10))

    assert moved == 1
    db.session.rollback()
    assert db.session.get(Conversation, 1).state == "wrap_up"


def test_a_live_connection_keeps_the_chat_open_through_heartbeats(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    counsellor().claim(1)
    later = utcnow() + timedelta(minutes=10)

    with app.app_context():
        presence.visitors_seen([1], later)
        moved = presence.expire_departed_visitors(later + timedelta(seconds=5))

    assert moved == 0


def test_heartbeats_keep_a_quiet_visitor_in_their_chat_until_they_go(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    counsellor().claim(1)
    grace = app.config["VISITOR_GRACE_SECONDS"]
    start = utcnow()

    with app.app_context():
        # Connected but silent for five minutes: a heartbeat every 5 seconds.
        for second in range(5, 300, 5):
            now = start + timedelta(seconds=second)
            presence.visitors_seen([1], now)
            assert presence.expire_departed_visitors(now + timedelta(seconds=1)) == 0
        # The heartbeats stop (the server crashed): the chat waits at least half the grace
        # period for the visitor to come back, and moves on within the whole of it.
        last = start + timedelta(seconds=295)
        assert presence.expire_departed_visitors(last + timedelta(seconds=grace / 2 - 1)) == 0
        assert presence.expire_departed_visitors(last + timedelta(seconds=grace + 1)) == 1
