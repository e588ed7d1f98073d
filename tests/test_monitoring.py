"""A supervisor watches a counsellor's chat silently and whispers to them; the visitor never
learns of either, the counsellor sees who watches, and both are audited."""

from datetime import timedelta

from sqlalchemy import select

from helpline.auth.signals import sessions_ended
from helpline.extensions import db
from helpline.inbox import monitoring
from helpline.inbox.models import AuditEntry, ConversationWatcher
from helpline.timeutil import utcnow
from tests.factories import audit_actions, messages_of, new_id
from tests.test_inbox import open_chats


def chat_with_anna(visitor, counsellor):
    """A visitor's chat that Anna has claimed and opened; returns (visitor, anna)."""
    person = open_chats(visitor, 1)[0]
    anna = counsellor("Anna")
    anna.claim(1)
    anna.emit("open", {"conversation_id": 1})
    anna.drain()
    person.drain()
    return person, anna


def whisper(staff, body: str, client_msg_id: str | None = None, conversation_id: int = 1):
    return staff.emit(
        "whisper",
        {
            "conversation_id": conversation_id,
            "client_msg_id": client_msg_id or new_id(),
            "body": body,
        },
    )


def event_names(connection) -> list[str]:
    return [packet["name"] for packet in connection.drain()]


def test_a_watching_supervisor_follows_the_chat_live_as_the_counsellor_does(
    app, visitor, counsellor
):
    person, anna = chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")

    opened = sam.emit("watch", {"conversation_id": 1})
    person.say("Ik durf het niet te zeggen")
    person.emit("typing", {"typing": True})
    anna.say(1, "Neem je tijd")
    anna.say(1, "Let op: sextortion", note=True)

    # The test client hands a "message" event's payload over as it is, any other in a list.
    heard = [
        (p["name"], p["args"] if p["name"] == "message" else p["args"][0]) for p in sam.drain()
    ]
    assert opened["ok"] and next(m["body"] for m in opened["messages"]) == "Bericht 0"
    assert [m["body"] for name, m in heard if name == "message"] == [
        "Ik durf het niet te zeggen",
        "Neem je tijd",
        "Let op: sextortion",
    ]
    assert ("typing", {"conversation_id": 1, "typing": True}) in heard


def test_a_watcher_catches_up_from_the_last_message_it_saw(app, visitor, counsellor):
    person, _anna = chat_with_anna(visitor, counsellor)
    person.say("Tweede")
    person.say("Derde")
    sam = counsellor("Sam", role="supervisor")

    caught_up = sam.emit("watch", {"conversation_id": 1, "since_seq": 3})

    assert [m["body"] for m in caught_up["messages"]] == ["Derde"]


def test_the_visitor_never_learns_that_a_supervisor_watches_or_whispers(app, visitor, counsellor):
    person, _anna = chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")

    sam.emit("watch", {"conversation_id": 1})
    whisper(sam, "Vraag naar de leeftijd")
    sam.emit("typing", {"conversation_id": 1, "typing": True})
    sam.emit("read", {"conversation_id": 1, "seq": 1})
    sam.emit("unwatch", {"conversation_id": 1})

    assert event_names(person) == []
    assert [m["body"] for m in person.resume()["messages"]] == [
        "Bericht 0",
        "Anna joined the conversation.",
    ]
    assert person.conversation().staff_read_seq == 0


def test_only_supervisors_and_admins_may_watch_and_whisper(app, visitor, counsellor):
    chat_with_anna(visitor, counsellor)
    ben = counsellor("Ben")
    therapist = counsellor("Tara", role="therapist")
    admin = counsellor("Ada", role="admin")

    for refused in (ben, therapist):
        assert refused.emit("watch", {"conversation_id": 1})["error"]["code"] == "forbidden"
        assert whisper(refused, "Hoi")["error"]["code"] == "forbidden"
    assert admin.emit("watch", {"conversation_id": 1})["ok"]
    assert whisper(admin, "Goed bezig")["ok"]
    assert [m.body for m in messages_of(1) if m.event == "whisper"] == ["Goed bezig"]


def test_only_a_colleagues_active_conversation_can_be_watched(app, visitor, counsellor):
    open_chats(visitor, 2)
    sam = counsellor("Sam", role="supervisor")
    sam.claim(2)

    waiting = sam.emit("watch", {"conversation_id": 1})
    own = sam.emit("watch", {"conversation_id": 2})

    assert waiting["error"]["code"] == own["error"]["code"] == "invalid_state"
    assert whisper(sam, "Aan niemand")["error"]["code"] == "invalid_state"
    assert db.session.scalars(select(ConversationWatcher)).all() == []


def test_the_counsellor_sees_who_watches_come_and_go(app, visitor, counsellor):
    _, anna = chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")
    anna.emit("close_view", {"conversation_id": 1})  # looking at another chat: still told

    sam.emit("watch", {"conversation_id": 1})
    row = anna.emit("open", {"conversation_id": 1})["conversation"]
    sam.emit("unwatch", {"conversation_id": 1})
    after = anna.emit("open", {"conversation_id": 1})["conversation"]

    sam_id = sam.user_id
    assert anna.received("watchers") == [
        {"conversation_id": 1, "watchers": [{"id": sam_id, "name": "Sam"}]},
        {"conversation_id": 1, "watchers": []},
    ]
    assert row["watchers"] == [{"id": sam_id, "name": "Sam"}]
    assert "watchers" not in after


def test_a_supervisor_watching_in_two_tabs_is_listed_once(app, visitor, counsellor):
    _, anna = chat_with_anna(visitor, counsellor)
    desk = counsellor("Sam", role="supervisor")
    laptop = counsellor(user=desk.user)

    desk.emit("watch", {"conversation_id": 1})
    laptop.emit("watch", {"conversation_id": 1})
    desk.close()

    last = anna.received("watchers")[-1]
    assert last["watchers"] == [{"id": desk.user_id, "name": "Sam"}]


def test_a_whisper_is_stored_as_the_supervisors_note_before_its_ack_and_reaches_the_counsellor(
    app, visitor, counsellor
):
    _person, anna = chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")
    sam.emit("watch", {"conversation_id": 1})
    anna.emit("close_view", {"conversation_id": 1})
    anna.drain()

    ack = whisper(sam, "Vraag of ze al aangifte deed")

    stored = messages_of(1)[-1]
    assert (stored.seq, stored.kind, stored.event, stored.author_id) == (
        ack["seq"],
        "note",
        "whisper",
        sam.user_id,
    )
    told = anna.received("whisper")
    assert [(w["body"], w["author"], w["event"]) for w in told] == [
        ("Vraag of ze al aangifte deed", "Sam", "whisper")
    ]
    opened = anna.emit("open", {"conversation_id": 1})
    assert opened["messages"][-1]["event"] == "whisper"


def test_a_retried_whisper_is_stored_once(app, visitor, counsellor):
    chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")
    sam.emit("watch", {"conversation_id": 1})
    client_msg_id = new_id()

    first = whisper(sam, "Rustig aan", client_msg_id)
    again = whisper(sam, "Rustig aan", client_msg_id)

    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert first["seq"] == again["seq"]
    assert [m.body for m in messages_of(1)].count("Rustig aan") == 1


def test_a_whisper_still_reaches_the_counsellor_during_wrap_up(app, visitor, counsellor):
    _, anna = chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")
    sam.emit("watch", {"conversation_id": 1})
    anna.emit("end", {"conversation_id": 1})

    assert whisper(sam, "Kies sextortion als categorie")["ok"]


def test_watching_and_whispering_are_audited(app, visitor, counsellor):
    chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")

    sam.emit("watch", {"conversation_id": 1})
    whisper(sam, "Goed zo")
    sam.emit("unwatch", {"conversation_id": 1})

    sams = [action for actor, action in audit_actions(1) if actor == sam.user_id]
    assert sams == ["watch.start", "conversation.view", "whisper.send", "watch.end"]


def test_disconnecting_ends_the_watch(app, visitor, counsellor):
    _, anna = chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")
    sam.emit("watch", {"conversation_id": 1})

    sam.close()

    assert anna.received("watchers")[-1] == {"conversation_id": 1, "watchers": []}
    db.session.rollback()
    assert db.session.scalars(select(ConversationWatcher)).all() == []
    ended = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "watch.end")).one()
    assert ended.detail == {"reason": "disconnected"}


def test_signing_out_ends_the_watch(app, visitor, counsellor):
    _, anna = chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")
    sam.emit("watch", {"conversation_id": 1})

    sessions_ended.send(app, user_id=sam.user_id)

    assert anna.received("watchers")[-1]["watchers"] == []


def test_a_watch_whose_server_died_is_no_longer_listed_and_expires(app, visitor, counsellor):
    _, anna = chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")
    sam.emit("watch", {"conversation_id": 1})
    # Another server held this watch and died: nobody renews it any more.
    row = db.session.scalars(select(ConversationWatcher)).one()
    row.sid, row.renewed_at = "gone-with-its-server", utcnow() - timedelta(minutes=10)
    db.session.commit()

    listed = anna.emit("open", {"conversation_id": 1})["conversation"]
    anna.drain()
    with app.app_context():
        monitoring.expire()

    assert "watchers" not in listed
    assert anna.received("watchers") == [{"conversation_id": 1, "watchers": []}]
    db.session.rollback()
    assert db.session.scalars(select(ConversationWatcher)).all() == []
    assert audit_actions(1)[-1] == (sam.user_id, "watch.end")


def test_a_renewed_watch_does_not_expire(app, visitor, counsellor):
    chat_with_anna(visitor, counsellor)
    sam = counsellor("Sam", role="supervisor")
    sam.emit("watch", {"conversation_id": 1})
    sid = db.session.scalars(select(ConversationWatcher.sid)).one()
    later = utcnow() + timedelta(minutes=10)

    with app.app_context():
        monitoring.renew([sid], now=later)
        monitoring.expire(now=later)

    db.session.rollback()
    assert db.session.scalars(select(ConversationWatcher.sid)).all() == [sid]
