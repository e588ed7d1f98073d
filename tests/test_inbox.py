"""Counsellors work the shared inbox: list, claim, reply, notes, transfer, end, close."""

from sqlalchemy import select

from helpline.auth.models import StaffUser
from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.inbox.models import Conversation
from tests.factories import audit_actions, messages_of


def open_chats(visitor, n: int, service: str = "helpwanted") -> list:
    people = []
    for i in range(n):
        person = visitor()
        person.say(f"Bericht {i}", service=service)
        people.append(person)
    return people


def test_new_chat_appears_live_in_every_counsellors_inbox(app, visitor, counsellor):
    anna, ben = counsellor("Anna"), counsellor("Ben")

    visitor().say("Hallo")

    for staff in (anna, ben):
        assert [c["id"] for c in staff.received("new_conversation")] == [1]
    row = ben.emit("list", {})["conversations"][0]
    assert (row["state"], row["channel"], row["service"], row["unread"]) == (
        "queued",
        "chat",
        "helpwanted",
        1,
    )
    assert "body" not in row  # the list shows no content; opening a conversation is audited


def test_inbox_list_filters_by_service_channel_state_and_mine(app, visitor, counsellor):
    open_chats(visitor, 2, "helpwanted")
    open_chats(visitor, 1, "stopitnow")
    anna = counsellor("Anna")
    anna.claim(1)

    def ids(**filters):
        return sorted(c["id"] for c in anna.emit("list", filters)["conversations"])

    assert ids() == [1, 2, 3]
    assert ids(service="stopitnow") == [3]
    assert ids(channel="chat") == [1, 2, 3]
    assert ids(channel="phone") == []
    assert ids(states=["queued"]) == [2, 3]
    assert ids(mine=True) == [1]
    assert anna.emit("list", {"states": ["nonsense"]})["error"]["code"] == "invalid"


def test_waiting_chats_are_listed_oldest_first(app, visitor, counsellor):
    open_chats(visitor, 3)
    anna = counsellor()
    anna.claim(2)

    rows = anna.emit("list", {})["conversations"]

    assert [(r["id"], r["state"]) for r in rows] == [(1, "queued"), (3, "queued"), (2, "active")]


def test_unread_count_rises_with_visitor_messages_and_clears_when_read(app, visitor, counsellor):
    person = open_chats(visitor, 1)[0]
    anna = counsellor()
    anna.claim(1)
    person.say("Nog iets")
    person.say("En nog iets")

    updates = anna.received("activity")
    assert [(u["conversation_id"], u["unread"]) for u in updates] == [(1, 2), (1, 3)]

    anna.emit("read", {"conversation_id": 1, "seq": 4})

    assert anna.received("activity")[-1]["unread"] == 0
    assert person.received("read") == [{"seq": 4}]


def test_second_counsellor_cannot_claim_assigned_chat(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna, ben = counsellor("Anna"), counsellor("Ben")

    assert anna.claim(1)["ok"] is True
    refused = ben.claim(1)

    assert refused["ok"] is False
    assert refused["error"]["code"] == "already_assigned"
    assert db.session.get(Conversation, 1).assignee.display_name == "Anna"


def test_claiming_twice_is_harmless(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna = counsellor()
    anna.claim(1)

    again = anna.claim(1)

    assert again["ok"] is True
    assert [m.event for m in messages_of(1) if m.kind == "event"] == ["joined"]


def test_counsellor_cannot_take_more_chats_than_their_limit(app, visitor, counsellor):
    open_chats(visitor, 3)
    anna = counsellor(max_chats=2)

    assert anna.claim(1)["ok"] and anna.claim(2)["ok"]
    refused = anna.claim(3)

    assert refused["error"]["code"] == "chat_limit"
    assert db.session.get(Conversation, 3).state == "queued"
    anna.emit("end", {"conversation_id": 1})
    assert anna.claim(3)["ok"] is True


def test_reply_reaches_visitor_but_private_note_never_does(app, visitor, counsellor):
    person = open_chats(visitor, 1)[0]
    anna = counsellor()
    anna.claim(1)
    person.drain()

    reply = anna.say(1, "Betaal niet, blokkeer het account.")
    note = anna.say(1, "Klassieke sextortion, 16 jaar", note=True)

    assert reply["ok"] and note["ok"]
    seen = [m["body"] for m in person.received("message")]
    assert seen == ["Betaal niet, blokkeer het account."]
    person.reconnect()
    resumed = [m["body"] for m in person.resume()["messages"]]
    assert "Klassieke sextortion, 16 jaar" not in resumed
    staff_view = anna.emit("open", {"conversation_id": 1})["messages"]
    assert [m["kind"] for m in staff_view] == ["text", "event", "text", "note"]


def test_only_the_assigned_counsellor_replies_but_colleagues_may_add_notes(
    app, visitor, counsellor
):
    open_chats(visitor, 2)
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)

    assert ben.say(1, "Hoi")["error"]["code"] == "forbidden"
    assert ben.say(2, "Hoi")["error"]["code"] == "forbidden"  # not claimed yet
    assert ben.say(1, "Let op: herhaalde melder", note=True)["ok"] is True
    assert [m.body for m in messages_of(1) if m.kind != "event"] == [
        "Bericht 0",
        "Let op: herhaalde melder",
    ]


def test_retried_staff_message_is_stored_once(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna = counsellor()
    anna.claim(1)

    first = anna.say(1, "Hoi", client_msg_id="retry-me-123")
    second = anna.say(1, "Hoi", client_msg_id="retry-me-123")

    assert first["seq"] == second["seq"]
    assert second["duplicate"] is True
    assert [m.body for m in messages_of(1)].count("Hoi") == 1


def test_a_deactivated_counsellors_open_inbox_can_no_longer_reply(app, visitor, counsellor):
    person = open_chats(visitor, 1)[0]
    anna = counsellor()
    anna.claim(1)
    person.drain()
    db.session.get(StaffUser, anna.user_id).active = False
    db.session.commit()

    ack = anna.say(1, "Hoi")

    assert ack["error"]["code"] == "unauthorized"
    assert person.received("message") == []
    assert [m.body for m in messages_of(1) if m.kind == "text"] == ["Bericht 0"]
    assert "message.send" not in [action for _, action in audit_actions(1)]


def test_first_response_time_is_the_first_reply_not_a_later_one(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Notitie eerst", note=True)

    first = anna.say(1, "Hoi, ik ben Anna")
    anna.say(1, "Vertel eens")

    replies = [m for m in messages_of(1) if m.sender == "counsellor" and m.kind == "text"]
    assert [m.seq for m in replies] == [first["seq"], first["seq"] + 1]
    assert db.session.get(Conversation, 1).first_response_at == replies[0].created_at


def test_transfer_to_a_colleague_moves_the_chat_and_tells_everyone(app, visitor, counsellor):
    person = open_chats(visitor, 1)[0]
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)
    person.drain()
    ben.drain()

    ack = anna.emit("transfer", {"conversation_id": 1, "to": ben.user_id})

    assert ack["conversation"]["assignee"]["name"] == "Ben"
    assert ben.received("assigned") == [{"conversation_id": 1, "by": "Anna"}]
    assert person.received("state")[-1]["counsellor"] == "Ben"
    assert ben.say(1, "Hoi, ik neem het over")["ok"] is True
    assert anna.say(1, "Ik ook nog")["error"]["code"] == "forbidden"
    assert audit_actions(1)[-2:] == [
        (anna.user_id, "conversation.transfer"),
        (ben.user_id, "message.send"),
    ]


def test_transfer_back_to_the_queue_puts_the_chat_in_front(app, visitor, counsellor):
    first, _second = open_chats(visitor, 2)
    anna = counsellor()
    anna.claim(1)
    first.drain()

    anna.emit("transfer", {"conversation_id": 1, "to": None})

    conversation = db.session.get(Conversation, 1)
    assert (conversation.state, conversation.assignee_id) == ("queued", None)
    assert first.received("queue")[-1]["queue_position"] == 1
    assert anna.emit("list", {"states": ["queued"]})["conversations"][0]["id"] == 1


def test_transfer_to_a_colleague_at_their_limit_is_refused(app, visitor, counsellor):
    open_chats(visitor, 2)
    anna, ben = counsellor("Anna"), counsellor("Ben", max_chats=1)
    anna.claim(1)
    ben.claim(2)

    refused = anna.emit("transfer", {"conversation_id": 1, "to": ben.user_id})

    assert refused["error"]["code"] == "chat_limit"
    assert "Ben" in refused["error"]["message"]
    assert db.session.get(Conversation, 1).assignee_id == anna.user_id


def test_colleague_cannot_transfer_someone_elses_chat_but_a_supervisor_can(
    app, visitor, counsellor
):
    open_chats(visitor, 1)
    anna, ben = counsellor("Anna"), counsellor("Ben")
    sam = counsellor("Sam", role="supervisor")
    anna.claim(1)

    assert ben.emit("transfer", {"conversation_id": 1, "to": ben.user_id})["error"]["code"] == (
        "forbidden"
    )
    assert sam.emit("transfer", {"conversation_id": 1, "to": ben.user_id})["ok"] is True


def test_ending_moves_the_chat_to_wrap_up_and_closing_takes_it_out_of_the_list(
    app, visitor, counsellor
):
    open_chats(visitor, 1)
    anna = counsellor()
    anna.claim(1)

    assert anna.close_conversation(1)["error"]["code"] == "invalid_state"
    assert anna.emit("end", {"conversation_id": 1})["conversation"]["state"] == "wrap_up"
    closed = anna.close_conversation(1, "Doorverwezen naar politie")

    assert closed["conversation"]["state"] == "closed"
    conversation = db.session.get(Conversation, 1)
    assert conversation.summary == "Doorverwezen naar politie"
    assert conversation.closed_at is not None and conversation.ended_at is not None
    assert anna.emit("list", {})["conversations"] == []
    assert [c["id"] for c in anna.emit("list", {"states": ["closed"]})["conversations"]] == [1]
    assert anna.emit("end", {"conversation_id": 1})["error"]["code"] == "invalid_state"


def test_colleague_cannot_end_someone_elses_chat(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)

    assert ben.emit("end", {"conversation_id": 1})["error"]["code"] == "forbidden"
    assert db.session.get(Conversation, 1).state == "active"


def test_every_staff_read_and_change_is_in_the_audit_log(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna, sam = counsellor("Anna"), counsellor("Sam", role="supervisor")

    sam.emit("open", {"conversation_id": 1})
    anna.claim(1)
    anna.say(1, "Hoi")
    anna.say(1, "notitie", note=True)
    anna.emit("history", {"conversation_id": 1})
    anna.emit("end", {"conversation_id": 1})
    anna.close_conversation(1)

    assert audit_actions(1) == [
        (sam.user_id, "conversation.view"),
        (anna.user_id, "conversation.claim"),
        (anna.user_id, "message.send"),
        (anna.user_id, "note.add"),
        (anna.user_id, "conversation.history"),
        (anna.user_id, "conversation.end"),
        (anna.user_id, "conversation.close"),
    ]


def test_staff_events_without_sign_in_are_refused(app, visitor):
    from helpline.extensions import socketio

    open_chats(visitor, 1)
    anonymous = socketio.test_client(app, namespace="/inbox")

    assert anonymous.is_connected("/inbox") is False
    # A visitor connection cannot reach staff events either: they live on another namespace.
    person = visitor()
    assert person.emit("claim", {"conversation_id": 1}) is None
    assert db.session.get(Conversation, 1).state == "queued"


def test_signed_out_counsellor_socket_stops_working(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna = counsellor()
    anna.http.post("/logout")

    assert not anna.sio.is_connected(anna.NS)
    assert db.session.get(Conversation, 1).state == "queued"


def test_malformed_staff_payloads_get_error_acks(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna = counsellor()

    for event, payload in [
        ("claim", None),
        ("claim", {"conversation_id": "1"}),
        ("claim", {"conversation_id": -1}),
        ("claim", "1"),
        ("message", {"conversation_id": 1, "client_msg_id": "abcdefgh", "body": ""}),
        ("transfer", {"conversation_id": 1}),
        ("close", {"conversation_id": 1, "summary": "x" * 2001, "categories": [1]}),
        ("close", {"conversation_id": 1, "summary": "ok", "categories": []}),
        ("close", {"conversation_id": 1, "summary": "   ", "categories": [1]}),
        ("close", {"conversation_id": 1, "summary": "ok", "categories": ["1"]}),
        ("open", {"conversation_id": 1, "since_seq": -5}),
    ]:
        ack = anna.emit(event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", (event, payload)
    assert anna.claim(999)["error"]["code"] == "not_found"
    assert anna.emit("open", {"conversation_id": 999})["error"]["code"] == "not_found"


def test_colleagues_list_shows_who_has_room_for_a_chat(app, visitor, counsellor):
    open_chats(visitor, 1)
    anna, ben = counsellor("Anna", max_chats=2), counsellor("Ben")
    anna.claim(1)

    rows = {c["name"]: c for c in ben.emit("colleagues", {})["colleagues"]}

    assert (rows["Anna"]["active_chats"], rows["Anna"]["max_chats"]) == (1, 2)
    assert rows["Ben"]["active_chats"] == 0


def test_a_message_is_not_broadcast_to_staff_who_are_not_involved(app, visitor, counsellor):
    person = open_chats(visitor, 1)[0]
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)
    ben.drain()

    person.say("Alleen voor Anna")

    assert ben.received("message") == []
    assert ben.received("conversation") == [] and ben.received("activity") == []
    assert anna.received("activity")[-1]["unread"] == 2


def test_earlier_conversations_count_is_shown_in_the_list(app, visitor, counsellor):
    first = open_chats(visitor, 1)[0]
    anna = counsellor()
    anna.claim(1)
    anna.emit("end", {"conversation_id": 1})
    anna.close_conversation(1)
    again = visitor(browser_token=first.browser)
    again.say("Ik weer")

    row = anna.emit("list", {})["conversations"][0]

    assert (row["id"], row["earlier_conversations"]) == (2, 1)


def test_conversation_ids_in_the_inbox_never_reach_visitors(app, visitor, counsellor):
    person = open_chats(visitor, 1)[0]
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Hoi")

    packets = person.drain()

    assert packets
    for packet in packets:
        payload = packet["args"] if packet["name"] == "message" else packet["args"][0]
        assert "conversation_id" not in payload and "id" not in payload
    assert db.session.scalar(select(Conversation.token_hash)) == keyed_hash(
        "conversation", person.token
    )
