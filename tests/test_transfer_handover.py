"""Transfers go only to colleagues who take chats and are not away; a hand-over note goes
with the conversation and the receiver's unread count rises."""

from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox.models import AuditEntry, Conversation
from tests import factories
from tests.factories import messages_of
from tests.test_api import staff_with_token
from tests.test_inbox import open_chats


def colleagues_of(staff, conversation_id: int = 1) -> dict[str, dict]:
    ack = staff.emit("colleagues", {"conversation_id": conversation_id})
    return {c["name"]: c for c in ack["colleagues"]}


def test_the_transfer_list_shows_who_takes_chats_with_their_status_and_load(
    app, visitor, counsellor
):
    open_chats(visitor, 2)
    anna = counsellor("Anna")
    ben = counsellor("Ben", max_chats=1)
    cas = counsellor("Cas")
    counsellor("Tess", role="therapist")
    factories.staff_user("Dirk")  # not signed in
    anna.claim(1)
    ben.claim(2)
    cas.emit("set_status", {"status": "on_break"})

    rows = colleagues_of(anna)

    assert "Tess" not in rows  # a therapist takes no chats
    assert (rows["Ben"]["status"], rows["Ben"]["active_chats"], rows["Ben"]["max_chats"]) == (
        "busy",
        1,
        1,
    )
    assert rows["Cas"]["status"] == "on_break"
    assert rows["Dirk"]["status"] == "offline"
    assert rows["Anna"]["status"] == "available"


def test_a_colleague_who_is_away_cannot_be_chosen(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)
    ben.emit("set_status", {"status": "away"})

    refused = anna.emit("transfer", {"conversation_id": 1, "to": ben.user_id})

    assert refused["error"]["code"] == "unavailable"
    assert refused["error"]["message"] == "Ben is away and takes no chats now."
    assert db.session.get(Conversation, 1).assignee_id == anna.user_id


def test_a_therapist_cannot_be_handed_a_chat(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna, tess = counsellor("Anna"), counsellor("Tess", role="therapist")
    anna.claim(1)

    refused = anna.emit("transfer", {"conversation_id": 1, "to": tess.user_id})

    assert refused["error"] == {"code": "unavailable", "message": "Tess does not take chats."}


def test_the_hand_over_note_is_a_private_note_and_raises_the_receivers_unread_count(
    app, visitor, counsellor
):
    person = open_chats(visitor, 1)[0]
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)
    anna.emit("open", {"conversation_id": 1})
    anna.emit("read", {"conversation_id": 1, "seq": 1})
    ben.drain()
    person.drain()

    ack = anna.emit(
        "transfer",
        {"conversation_id": 1, "to": ben.user_id, "note": "  Ze is 15, wil aangifte doen. "},
    )

    assert ack["ok"] is True
    note = [m for m in messages_of(1) if m.kind == "note"][-1]
    assert (note.body, note.event, note.author_id) == (
        "Ze is 15, wil aangifte doen.",
        "handover",
        anna.user_id,
    )
    said_to_visitor = person.received("message")
    assert [m["event"] for m in said_to_visitor] == ["transferred"]  # never the note
    assert all("aangifte" not in m["body"] for m in said_to_visitor)
    assert ben.received("conversation")[-1]["unread"] == 1
    assert ben.emit("list", {"mine": True})["conversations"][0]["unread"] == 1
    opened = ben.emit("open", {"conversation_id": 1})
    handover = [m for m in opened["messages"] if m["event"] == "handover"]
    assert [(m["kind"], m["author"]) for m in handover] == [("note", "Anna")]
    transferred = next(m for m in opened["messages"] if m["event"] == "transferred")
    ben.emit("read", {"conversation_id": 1, "seq": transferred["seq"]})
    assert ben.emit("list", {"mine": True})["conversations"][0]["unread"] == 0


def test_a_transfer_without_a_note_stores_no_note(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)

    anna.emit("transfer", {"conversation_id": 1, "to": ben.user_id, "note": "   "})

    assert [m for m in messages_of(1) if m.kind == "note"] == []
    audit = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "conversation.transfer")
    ).one()
    assert audit.detail == {"from": anna.user_id, "to": ben.user_id, "note": False}


def test_a_hand_over_note_too_long_is_refused(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)

    refused = anna.emit("transfer", {"conversation_id": 1, "to": ben.user_id, "note": "x" * 2001})

    assert refused["error"]["code"] == "invalid"
    assert db.session.get(Conversation, 1).assignee_id == anna.user_id


def test_the_api_transfer_takes_a_note_and_refuses_a_colleague_on_break(
    app, client, visitor, counsellor
):
    open_chats(visitor, 1)
    _anna, headers = staff_with_token("Anna")
    ben = counsellor("Ben")
    url = "/api/v1/conversations/1/assign"
    client.post(url, json={"to": None}, headers=headers)
    ben.emit("set_status", {"status": "on_break"})

    refused = client.post(url, json={"to": ben.user_id, "note": "Graag"}, headers=headers)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "unavailable"

    ben.emit("set_status", {"status": "available"})
    moved = client.post(url, json={"to": ben.user_id, "note": "Graag"}, headers=headers)
    assert moved.status_code == 200
    assert [m.body for m in messages_of(1) if m.event == "handover"] == ["Graag"]
