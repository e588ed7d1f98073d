"""An inbox row tells chats apart: the visitor's label, since when they wait, and a preview of
the last message that only the person who has the conversation sees."""

import secrets

from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox.models import Conversation, Message
from helpline.inbox.rows import PALETTE
from helpline.timeutil import iso


def rows_of(staff, **filters) -> dict[int, dict]:
    return {row["id"]: row for row in staff.emit("list", filters)["conversations"]}


def chats(visitor, *openings: str) -> list:
    people = []
    for text in openings:
        person = visitor()
        person.say(text)
        people.append(person)
    return people


def sent_at(conversation_id: int, body: str) -> str:
    db.session.rollback()
    created = db.session.scalar(
        select(Message.created_at).where(
            Message.conversation_id == conversation_id, Message.body == body
        )
    )
    assert created is not None
    return iso(created)


def contrast(colour: str, other: str = "#ffffff") -> float:
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(colour), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_each_row_names_its_visitor_by_number_letter_and_colour(app, visitor, counsellor):
    chats(visitor, "Hallo", "Hoi", "Goedemiddag")
    anna = counsellor()

    rows = rows_of(anna)

    labels = [rows[i]["visitor"] for i in (1, 2, 3)]
    assert [label["name"] for label in labels] == ["Visitor 1", "Visitor 2", "Visitor 3"]
    assert len({label["letter"] for label in labels}) == 3
    assert len({label["colour"] for label in labels}) == 3
    opened = anna.emit("open", {"conversation_id": 2})["conversation"]
    assert opened["visitor"] == rows[2]["visitor"]


def test_a_visitor_label_never_comes_from_what_the_visitor_wrote(app, visitor, counsellor):
    person = visitor()
    person.say("Ik ben Sanne, 14 jaar")
    anna = counsellor()
    before = rows_of(anna)[1]["visitor"]

    person.say("Mijn naam is eigenlijk Zoë")

    after = rows_of(anna)[1]["visitor"]
    assert after == before
    assert "Sanne" not in str(after) and "14" not in after["name"]


def test_every_visitor_colour_passes_wcag_aa_behind_its_white_letter():
    assert all(contrast(colour) >= 4.5 for colour in PALETTE)
    # The coloured circle stands out from the list's light backgrounds as well (3:1).
    assert all(contrast(colour, "#e3eef5") >= 3 for colour in PALETTE)


def test_a_form_row_shows_the_age_band_its_sender_chose(app, client, counsellor):
    answers = {
        "submission_key": secrets.token_urlsafe(24),
        "about": "myself",
        "age_band": "16_17",
        "what_happened": "Iemand dreigt mijn foto's te delen.",
    }
    client.post("/form/helpwanted", data=answers)
    client.post("/form/helpwanted", data=answers | {"submission_key": secrets.token_urlsafe(24)})
    del answers["age_band"]
    client.post("/form/helpwanted", data=answers | {"submission_key": secrets.token_urlsafe(24)})
    anna = counsellor()

    rows = rows_of(anna, channel="form")

    assert rows[1]["visitor"]["name"] == "Visitor 1 \u00b7 16\u201317"
    assert rows[3]["visitor"]["name"] == "Visitor 3"
    assert "age_band" not in rows[1]


def test_only_the_counsellor_who_has_the_chat_sees_its_last_message_on_the_row(
    app, visitor, counsellor
):
    first, _second = chats(visitor, "Iemand dreigt mijn foto te delen", "Hallo?")
    anna, ben = counsellor("Anna"), counsellor("Ben")
    lead = counsellor("Sam", role="supervisor")
    anna.claim(1)
    first.say("Ben je er nog?")

    assert rows_of(anna)[1]["preview"] == {"sender": "visitor", "text": "Ben je er nog?"}
    for other in (ben, lead):
        assert "preview" not in rows_of(other)[1]
        assert "preview" not in other.emit("open", {"conversation_id": 1})["conversation"]
    # A waiting chat is nobody's yet: its words stay off every row until someone claims it.
    for staff in (anna, ben, lead):
        assert "preview" not in rows_of(staff)[2]


def test_rows_sent_to_the_whole_queue_never_carry_words(app, visitor, counsellor):
    person = chats(visitor, "Mijn foto staat online")[0]
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)
    person.say("Wat moet ik doen?")
    anna.say(1, "Ik help je")
    anna.emit("end", {"conversation_id": 1})

    broadcast = anna.received("conversation") + ben.received("conversation")
    assert broadcast
    assert all("preview" not in row for row in broadcast)
    assert ben.received("activity") == []


def test_the_assignee_gets_the_new_last_message_live(app, visitor, counsellor):
    person = chats(visitor, "Hallo")[0]
    anna = counsellor()
    anna.claim(1)
    anna.received("activity")

    person.say("Iemand   dreigt\nmijn foto te delen")
    anna.say(1, "Wat naar. Weet je wie het is?")
    anna.say(1, "Alleen voor collega's", note=True)

    updates = anna.received("activity")
    assert [u.get("preview") for u in updates] == [
        {"sender": "visitor", "text": "Iemand dreigt mijn foto te delen"},
        {"sender": "counsellor", "text": "Wat naar. Weet je wie het is?"},
    ]
    assert [u.get("unread") for u in updates] == [2, None]
    assert rows_of(anna)[1]["preview"]["text"] == "Wat naar. Weet je wie het is?"


def test_a_long_last_message_is_cut_to_a_short_line(app, visitor, counsellor):
    chats(visitor, "Het begon allemaal " + "heel erg " * 30 + "lang geleden.")
    anna = counsellor()
    anna.claim(1)

    text = rows_of(anna)[1]["preview"]["text"]

    assert len(text) == 80
    assert text.startswith("Het begon allemaal heel erg") and text.endswith("\u2026")


def test_a_transferred_chat_shows_its_words_to_the_new_counsellor_only(app, visitor, counsellor):
    chats(visitor, "Hallo, ik heb hulp nodig")
    anna, ben = counsellor("Anna"), counsellor("Ben")
    anna.claim(1)

    ack = anna.emit("transfer", {"conversation_id": 1, "to": ben.user_id})

    assert "preview" not in ack["conversation"]
    assert "preview" not in rows_of(anna)[1]
    assert rows_of(ben)[1]["preview"]["text"] == "Hallo, ik heb hulp nodig"


def test_a_visitor_waits_from_their_first_unanswered_message_until_a_reply(
    app, visitor, counsellor
):
    person = chats(visitor, "Hallo")[0]
    anna = counsellor()
    queued = rows_of(anna)[1]
    assert queued["visitor_waiting_since"] == queued["waiting_since"]

    anna.claim(1)
    claimed = rows_of(anna)[1]
    assert claimed["visitor_waiting_since"] == sent_at(1, "Hallo")

    anna.say(1, "Hoi, ik ben Anna")
    assert rows_of(anna)[1]["visitor_waiting_since"] is None
    assert anna.received("activity")[-1]["visitor_waiting_since"] is None

    person.say("Iemand dreigt mijn foto te delen")
    person.say("Wat moet ik doen?")
    anna.say(1, "Even overleggen", note=True)  # a note is no answer
    since = rows_of(anna)[1]["visitor_waiting_since"]
    assert since == sent_at(1, "Iemand dreigt mijn foto te delen")
    assert anna.received("activity")[-1]["visitor_waiting_since"] == since

    anna.emit("end", {"conversation_id": 1})
    assert rows_of(anna)[1]["visitor_waiting_since"] is None
    assert db.session.get(Conversation, 1).state == "wrap_up"
