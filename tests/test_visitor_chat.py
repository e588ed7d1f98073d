"""A young person chats anonymously: opening, resuming, queue, live answers, refusals."""

from sqlalchemy import func, select, update

from helpline.extensions import db
from helpline.inbox.models import Client, Conversation, Message, Service
from tests.factories import messages_of, new_id


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_first_message_opens_a_waiting_conversation_with_an_unguessable_token(app, visitor):
    ack = visitor().say("Hoi, er staat een foto van mij online")

    assert ack["ok"] is True
    assert ack["seq"] == 1
    assert ack["conversation"]["state"] == "queued"
    assert ack["conversation"]["queue_position"] == 1
    assert len(ack["token"]) >= 43  # 32 random bytes, base64url
    other = visitor().say("Ik ook")
    assert other["token"] != ack["token"]
    conversation = db.session.scalar(select(Conversation))
    assert conversation.channel == "chat"
    assert conversation.service.slug == "helpwanted"


def test_a_message_reaches_the_visitors_other_tab_live_and_the_sending_tab_in_its_ack(app, visitor):
    sending = visitor()
    sending.say("Hallo")
    other_tab = visitor(sending.browser)
    other_tab.token = sending.token
    assert other_tab.resume()["ok"]
    sending.drain()

    ack = sending.say("Zijn jullie er?")

    assert ack["message"]["body"] == "Zijn jullie er?"
    assert [m["body"] for m in other_tab.received("message")] == ["Zijn jullie er?"]
    assert sending.received("message") == []


def test_reload_resumes_the_same_conversation_with_its_history(app, visitor, counsellor):
    person = visitor()
    person.say("Iemand chanteert me")
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Wat naar. Heb je al iets betaald?")

    person.reconnect()  # a page reload: a new connection, the token from browser storage
    ack = person.resume(last_seq=0)

    assert ack["ok"] is True
    assert ack["conversation"]["state"] == "active"
    assert ack["conversation"]["counsellor"] == "Anna"
    bodies = [(m["sender"], m["body"]) for m in ack["messages"] if m["kind"] == "text"]
    assert bodies == [
        ("visitor", "Iemand chanteert me"),
        ("counsellor", "Wat naar. Heb je al iets betaald?"),
    ]


def test_retried_message_is_stored_once(app, visitor):
    person = visitor()
    person.say("Eerste bericht")
    message_id = new_id()

    first = person.say("Nog iets", client_msg_id=message_id)
    retry = person.say("Nog iets", client_msg_id=message_id)

    assert first["seq"] == retry["seq"] == 2
    assert retry["duplicate"] is True
    assert [m.body for m in messages_of(1)] == ["Eerste bericht", "Nog iets"]


def test_retried_first_message_opens_one_conversation(app, visitor):
    person = visitor()
    message_id = new_id()
    first = person.say("Help", client_msg_id=message_id)
    person.token = None  # the ack was lost: the browser does not know its token yet

    retry = person.say("Help", client_msg_id=message_id)

    assert retry["token"] == first["token"]
    assert retry["duplicate"] is True
    assert count(Conversation) == 1
    assert count(Message) == 1


def test_waiting_visitors_see_their_place_in_the_queue_move_up(app, visitor, counsellor):
    first, second = visitor(), visitor()
    first.say("Ik ben de eerste")
    assert second.say("Ik ben de tweede")["conversation"]["queue_position"] == 2
    second.drain()

    counsellor().claim(1)

    assert second.received("queue")[-1]["queue_position"] == 1
    assert first.received("state")[-1]["state"] == "active"


def test_visitor_sees_counsellor_join_type_and_answer_live(app, visitor, counsellor):
    person = visitor()
    person.say("Is daar iemand?")
    anna = counsellor("Anna")
    anna.claim(1)
    anna.emit("typing", {"conversation_id": 1, "typing": True})
    anna.say(1, "Ja, ik ben er. Vertel maar.")

    messages = person.received("message")
    assert [(m["kind"], m["event"]) for m in messages] == [("event", "joined"), ("text", None)]
    assert messages[0]["author"] == "Anna"
    assert messages[1]["body"] == "Ja, ik ben er. Vertel maar."
    assert person.received("typing") == []  # drained by the previous call
    person.say("Fijn")


def test_visitor_is_told_when_counsellor_types(app, visitor, counsellor):
    person = visitor()
    person.say("Hallo")
    anna = counsellor()
    anna.claim(1)
    person.drain()

    anna.emit("typing", {"conversation_id": 1, "typing": True})

    assert person.received("typing") == [{"typing": True}]


def test_visitor_sees_when_the_counsellor_ends_the_chat(app, visitor, counsellor):
    person = visitor()
    person.say("Dank je")
    anna = counsellor()
    anna.claim(1)
    person.drain()

    anna.emit("end", {"conversation_id": 1})

    packets = person.drain()
    assert any(p["name"] == "message" and p["args"]["event"] == "ended" for p in packets)
    assert [p["args"][0]["state"] for p in packets if p["name"] == "state"] == ["wrap_up"]
    refused = person.say("Nog een vraag")
    assert refused["error"]["code"] == "conversation_ended"


def test_visitor_can_end_the_chat_and_counsellor_sees_it(app, visitor, counsellor):
    person = visitor()
    person.say("Ik moet weg")
    anna = counsellor()
    anna.claim(1)
    anna.emit("open", {"conversation_id": 1})
    anna.drain()

    ack = person.emit("leave", {"token": person.token})

    assert ack["conversation"]["state"] == "wrap_up"
    events = [m["event"] for m in anna.received("message")]
    assert events == ["visitor_ended"]


def test_outside_opening_hours_the_chat_refuses_and_creates_nothing(app, visitor, client):
    db.session.execute(update(Service).values(opening_hours="never"))
    db.session.commit()

    ack = visitor().say("Hallo?")

    assert ack["ok"] is False
    assert ack["error"]["code"] == "service_closed"
    assert count(Conversation) == 0
    assert count(Message) == 0
    assert count(Client) <= 1
    page = client.get("/chat/helpwanted").get_data(as_text=True)
    assert "/form/helpwanted" in page


def test_a_running_chat_continues_after_closing_time(app, visitor, counsellor):
    person = visitor()
    person.say("Net op tijd")
    db.session.execute(update(Service).values(opening_hours="never"))
    db.session.commit()

    assert person.say("Ben je er nog?")["ok"] is True
    person.reconnect()
    assert person.resume()["ok"] is True


def test_html_in_a_message_is_kept_as_text(app, visitor, counsellor):
    person = visitor()
    person.say('<script>alert("x")</script> <b>vet</b>')
    anna = counsellor()

    opened = anna.emit("open", {"conversation_id": 1})

    assert opened["messages"][0]["body"] == '<script>alert("x")</script> <b>vet</b>'


def test_empty_and_oversized_messages_are_refused_and_not_stored(app, visitor):
    person = visitor()
    person.say("Eerste")

    empty = person.say("   \n ")
    too_long = person.say("x" * 4001)
    just_right = person.say("x" * 4000)

    assert empty["error"]["code"] == "invalid"
    assert "empty" in empty["error"]["fields"]["body"][0]
    assert too_long["error"]["code"] == "invalid"
    assert "4000" in too_long["error"]["fields"]["body"][0]
    assert just_right["ok"] is True
    assert [len(m.body) for m in messages_of(1)] == [6, 4000]


def test_malformed_payloads_get_an_error_ack_and_store_nothing(app, visitor):
    person = visitor()
    for payload in (
        None,
        "just a string",
        ["a", "list"],
        42,
        {"body": "no id"},
        {"client_msg_id": new_id(), "body": "no service or token"},
        {"client_msg_id": new_id(), "body": 5, "service": "helpwanted", "visitor": "x" * 30},
        {"client_msg_id": "short", "body": "hi", "service": "helpwanted", "visitor": "x" * 30},
        {"client_msg_id": new_id(), "body": "hi", "service": "helpwanted", "visitor": "tiny"},
        {"client_msg_id": new_id(), "body": "hi", "token": "x" * 43, "extra": 1},
    ):
        ack = person.emit("message", payload)
        assert ack["ok"] is False, payload
        assert ack["error"]["code"] == "invalid", payload
    assert count(Conversation) == 0
    assert count(Message) == 0


def test_unknown_conversation_tokens_are_refused(app, visitor):
    person = visitor()
    person.token = "A" * 43

    assert person.say("Hallo")["error"]["code"] == "not_found"
    assert person.resume()["error"]["code"] == "not_found"
    assert person.emit("leave", {"token": "A" * 43})["error"]["code"] == "not_found"
    assert count(Message) == 0


def test_unknown_service_is_refused(app, visitor, client):
    ack = visitor().say("Hallo", service="nope")

    assert ack["error"]["code"] == "not_found"
    assert client.get("/chat/nope").status_code == 404


def test_closed_conversation_refuses_new_messages(app, visitor, counsellor):
    person = visitor()
    person.say("Hoi")
    anna = counsellor()
    anna.claim(1)
    anna.emit("end", {"conversation_id": 1})
    anna.close_conversation(1, "Advies gegeven")

    ack = person.say("Nog iets")

    assert ack["error"]["code"] == "conversation_ended"
    assert len(messages_of(1)) == 4  # hoi, joined, ended, closed


def test_visitor_flooding_messages_is_slowed_down(app, visitor):
    app.config["VISITOR_MESSAGES_PER_MINUTE"] = 5
    person = visitor()
    acks = [person.say(f"bericht {i}") for i in range(7)]

    assert [a["ok"] for a in acks] == [True] * 5 + [False] * 2
    assert acks[-1]["error"]["code"] == "rate_limited"
    assert len(messages_of(1)) == 5


def test_read_receipt_of_visitor_reaches_the_counsellor(app, visitor, counsellor):
    person = visitor()
    person.say("Hoi")
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Hallo!")
    anna.emit("open", {"conversation_id": 1})
    anna.drain()

    person.emit("read", {"seq": 3})

    assert anna.received("read") == [{"conversation_id": 1, "seq": 3}]
    assert db.session.get(Conversation, 1).visitor_read_seq == 3


def test_same_browser_returning_later_is_the_same_anonymous_client(app, visitor, counsellor):
    first = visitor()
    first.say("Vorige week")
    anna = counsellor()
    anna.claim(1)
    anna.emit("end", {"conversation_id": 1})
    anna.close_conversation(1, "Sextortion, advies: niet betalen", ("sextortion",))

    again = visitor(browser_token=first.browser)
    again.say("Ik ben het weer")
    stranger = visitor()
    stranger.say("Ik ben nieuw")

    conversations = db.session.scalars(select(Conversation).order_by(Conversation.id)).all()
    assert conversations[0].client_id == conversations[1].client_id
    assert conversations[2].client_id != conversations[0].client_id
    history = anna.emit("history", {"conversation_id": 2})["conversations"]
    assert [(c["id"], c["summary"]) for c in history] == [(1, "Sextortion, advies: niet betalen")]
    assert anna.emit("history", {"conversation_id": 3})["conversations"] == []
