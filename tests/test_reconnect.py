"""Connections drop mid-conversation; whoever comes back gets exactly what they missed."""

from tests.factories import new_id


def texts(messages: list[dict]) -> list[str]:
    return [m["body"] for m in messages if m["kind"] == "text"]


def test_visitor_who_reconnects_gets_exactly_the_missed_messages_in_order(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Hoi, waar gaat het over?")
    seen = [m["seq"] for m in person.received("message")]
    last_seen = max(seen)

    person.sio.disconnect(namespace="/chat")  # the connection drops
    anna.say(1, "Ben je er nog?")
    anna.say(1, "Je kunt ook later terugkomen.")
    anna.say(1, "Notitie: verbinding weg", note=True)
    person.reconnect()
    ack = person.resume(last_seq=last_seen)

    assert texts(ack["messages"]) == ["Ben je er nog?", "Je kunt ook later terugkomen."]
    seqs = [m["seq"] for m in ack["messages"]]
    assert seqs == sorted(seqs) and min(seqs) > last_seen
    again = person.resume(last_seq=max(seqs))
    assert again["messages"] == []


def test_visitor_message_sent_while_the_ack_was_lost_is_not_duplicated(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    message_id = new_id()
    person.say("Ik werd afgeperst", client_msg_id=message_id)  # stored; the ack never arrived

    person.reconnect()
    person.resume(last_seq=1)
    retry = person.say("Ik werd afgeperst", client_msg_id=message_id)

    assert retry["duplicate"] is True
    anna = counsellor()
    bodies = texts(anna.emit("open", {"conversation_id": 1})["messages"])
    assert bodies == ["Hallo", "Ik werd afgeperst"]


def test_counsellor_who_reconnects_gets_exactly_the_missed_messages_in_order(
    app, visitor, counsellor
):
    person = visitor()
    person.say("Hallo")
    anna = counsellor()
    anna.claim(1)
    opened = anna.emit("open", {"conversation_id": 1})
    last_seen = max(m["seq"] for m in opened["messages"])

    anna.sio.disconnect(namespace="/inbox")
    person.say("Zijn jullie er nog?")
    person.say("Het is dringend")
    anna.reconnect()
    ack = anna.emit("open", {"conversation_id": 1, "since_seq": last_seen})

    assert texts(ack["messages"]) == ["Zijn jullie er nog?", "Het is dringend"]
    assert (
        anna.emit("open", {"conversation_id": 1, "since_seq": ack["messages"][-1]["seq"]})[
            "messages"
        ]
        == []
    )


def test_after_reconnecting_live_messages_flow_again(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    anna = counsellor()
    anna.claim(1)
    anna.emit("open", {"conversation_id": 1})
    person.reconnect()
    person.resume(last_seq=2)
    anna.reconnect()
    anna.emit("open", {"conversation_id": 1, "since_seq": 2})
    anna.drain()

    anna.say(1, "Nog steeds hier")
    person.say("Ik ook")

    from_others = [m for m in person.received("message") if m["sender"] != "visitor"]
    assert texts(from_others) == ["Nog steeds hier"]
    assert texts([m for m in anna.received("message") if m["sender"] == "visitor"]) == ["Ik ook"]


def test_resuming_another_conversation_leaves_the_first_ones_room(app, visitor, counsellor):
    first, second = visitor(), visitor()
    first.say("Een")
    second.say("Twee")
    anna = counsellor(max_chats=5)
    anna.claim(1)
    anna.claim(2)
    first.drain()

    first.token = second.token
    first.resume()
    anna.say(1, "Voor gesprek een")

    assert texts(first.received("message")) == []
