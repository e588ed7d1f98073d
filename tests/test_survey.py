"""The short anonymous survey after a chat, a form conversation or a call."""

import re
import secrets
import time

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, inspect, select, update

from helpline.extensions import db
from helpline.inbox.models import Conversation, Service
from helpline.survey import service as survey
from helpline.survey.models import SurveyAnswer
from tests import factories
from tests.factories import Caller

SERVICE_NUMBER = "+31800000001"
COUNSELLOR_PHONE = "+31600000009"
ALL_YES = {"satisfied": "yes", "felt_better": "yes", "would_recommend": "yes"}


def answers() -> list[SurveyAnswer]:
    db.session.rollback()
    return list(db.session.scalars(select(SurveyAnswer).order_by(SurveyAnswer.id)))


def ended_chat(visitor, counsellor) -> tuple[dict, object, object]:
    """A chat a counsellor has ended; returns the visitor's last state, the visitor and staff."""
    person = visitor()
    person.say("Iemand dreigt mijn foto's te delen.")
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Betaal niet, we helpen je.")
    person.drain()
    anna.emit("end", {"conversation_id": 1})
    [state] = person.received("state")
    return state, person, anna


def path_of(url: str) -> str:
    assert url.startswith("/enquete/"), url
    return url


# --- chat -----------------------------------------------------------------------------------------


def test_ended_chat_offers_a_survey_in_dutch_and_on_request_in_english(
    app, client, visitor, counsellor
):
    state, _person, _anna = ended_chat(visitor, counsellor)

    assert state["state"] == "wrap_up"
    url = path_of(state["survey_url"])
    dutch = client.get(url)
    english = client.get(url + "?lang=en")

    assert dutch.status_code == 200 and english.status_code == 200
    assert dutch.headers["Cache-Control"] == "no-store"
    page = dutch.get_data(as_text=True)
    assert '<html lang="nl">' in page
    assert "Ben je tevreden over het gesprek?" in page
    assert "Voel je je beter na het gesprek?" in page
    assert "Zou je ons aanraden aan anderen?" in page
    assert "anoniem" in page
    assert "<legend>" in page and page.count('type="radio"') == 9
    assert "<script>" not in page and "style=" not in page
    text = english.get_data(as_text=True)
    assert '<html lang="en">' in text and "Are you satisfied with the conversation?" in text


def test_survey_is_not_offered_or_open_while_the_chat_is_active(app, client, visitor, counsellor):
    person = visitor()
    ack = person.say("Hallo")
    assert ack["conversation"]["survey_url"] is None
    anna = counsellor()
    anna.claim(1)
    [state] = person.received("state")
    assert state["state"] == "active" and state["survey_url"] is None
    ticket = survey.ticket_for(db.session.get(Conversation, 1))

    page = client.get(f"/enquete/{ticket}")
    sent = client.post(f"/enquete/{ticket}", data=ALL_YES)

    assert page.status_code == 409 and "Je gesprek is nog bezig" in page.get_data(as_text=True)
    assert sent.status_code == 409
    assert answers() == []


def test_answering_stores_one_row_linked_to_the_conversation(app, client, visitor, counsellor):
    state, person, _anna = ended_chat(visitor, counsellor)

    page = client.post(
        path_of(state["survey_url"]),
        data={"satisfied": "yes", "felt_better": "no", "would_recommend": "", "comment": " Top "},
    )

    assert page.status_code == 200
    assert "Dank je wel voor je antwoorden" in page.get_data(as_text=True)
    [row] = answers()
    conversation = person.conversation()
    assert (row.conversation_id, row.service_id, row.channel) == (
        conversation.id,
        conversation.service_id,
        "chat",
    )
    assert (row.satisfied, row.felt_better, row.would_recommend) == (True, False, None)
    assert row.comment == "Top"


def test_second_send_is_told_already_answered_and_stores_nothing(app, client, visitor, counsellor):
    state, person, anna = ended_chat(visitor, counsellor)
    url = path_of(state["survey_url"])
    client.post(url, data=ALL_YES)

    again = client.post(url, data={**ALL_YES, "satisfied": "no", "comment": "Toch niet"})

    assert again.status_code == 200
    assert "Je hebt deze vragen al beantwoord" in again.get_data(as_text=True)
    [row] = answers()
    assert row.satisfied is True and row.comment is None
    # Once answered, the chat offers the survey no more.
    anna.close_conversation(1)
    [closed] = person.received("state")
    assert closed["state"] == "closed" and closed["survey_url"] is None


def test_closed_chat_still_offers_the_survey(app, client, visitor, counsellor):
    _state, person, anna = ended_chat(visitor, counsellor)
    anna.close_conversation(1)
    [closed] = person.received("state")
    assert closed["state"] == "closed"
    assert client.get(path_of(closed["survey_url"])).status_code == 200
    assert path_of(person.resume()["conversation"]["survey_url"])


@pytest.mark.parametrize(
    "sent",
    [{"satisfied": "maybe"}, {"felt_better": "1"}, {"comment": "x" * 1001}],
)
def test_invalid_answers_are_refused_readably_and_store_nothing(
    app, client, visitor, counsellor, sent
):
    state, _person, _anna = ended_chat(visitor, counsellor)

    page = client.post(path_of(state["survey_url"]), data=sent)

    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert "Je antwoorden zijn nog niet verstuurd." in text
    assert "Kies ja of nee" in text or "Schrijf maximaal 1000 tekens." in text
    assert re.search(r'aria-describedby="[^"]*err-', text)
    assert answers() == []


def test_forged_or_expired_ticket_is_404(app, client, visitor, counsellor, monkeypatch):
    state, _person, _anna = ended_chat(visitor, counsellor)
    ticket = state["survey_url"].rsplit("/", 1)[1]
    forged = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
    other_key = ticket.replace(ticket.split(".")[0], "Mg")  # another conversation id
    with monkeypatch.context() as past:
        past.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 15 * 86400)
        expired = survey.ticket_for(db.session.get(Conversation, 1))

    for bad in (forged, other_key, expired, "nonsense"):
        assert client.get(f"/enquete/{bad}").status_code == 404
        assert client.post(f"/enquete/{bad}", data=ALL_YES).status_code == 404
    assert answers() == []


def test_only_the_listed_fields_are_stored_no_address_or_browser(app, client, visitor, counsellor):
    state, _person, _anna = ended_chat(visitor, counsellor)
    client.post(
        path_of(state["survey_url"]),
        data=ALL_YES,
        headers={"User-Agent": "Mozilla/5.0 Secret-Browser", "X-Forwarded-For": "203.0.113.9"},
    )

    columns = {c["name"] for c in inspect(db.engine).get_columns("survey_answer")}
    assert columns == {
        "id",
        "conversation_id",
        "service_id",
        "channel",
        "satisfied",
        "felt_better",
        "would_recommend",
        "comment",
        "answered_at",
    }
    [row] = answers()
    stored = " ".join(str(getattr(row, name)) for name in columns)
    assert "Secret-Browser" not in stored and "203.0.113" not in stored


def test_the_inbox_never_shows_survey_answers(app, client, visitor, counsellor):
    state, _person, anna = ended_chat(visitor, counsellor)
    client.post(path_of(state["survey_url"]), data={**ALL_YES, "comment": "Geheime-opmerking"})
    anna.close_conversation(1)

    opened = anna.emit("open", {"conversation_id": 1})
    listed = anna.emit("list", {"states": ["queued", "active", "wrap_up", "closed"]})
    page = anna.http.get("/inbox")

    for shown in (str(opened), str(listed), page.get_data(as_text=True)):
        assert "Geheime-opmerking" not in shown
        assert "would_recommend" not in shown and "felt_better" not in shown


# --- form -----------------------------------------------------------------------------------------


def sent_form(client) -> tuple[str, str]:
    page = client.post(
        "/form/helpwanted",
        data={
            "submission_key": secrets.token_urlsafe(24),
            "about": "myself",
            "what_happened": "Iemand dreigt mijn foto's te delen als ik niet betaal.",
        },
    ).get_data(as_text=True)
    found = re.findall(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){1,2}\b", page)
    return next(c for c in found if len(c) == 9), next(c for c in found if len(c) == 14)


def survey_link(page: str) -> str | None:
    found = re.search(r'href="(/enquete/[^"?]+)(\?lang=en)?"', page)
    return found[1] if found else None


def test_form_reply_page_offers_the_survey_once_a_counsellor_answered(app, client, counsellor):
    code, secret = sent_form(client)
    before = client.post("/form/reply", data={"code": code, "secret": secret})
    assert survey_link(before.get_data(as_text=True)) is None

    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Betaal niet. We helpen je.")
    page = client.post("/form/reply", data={"code": code, "secret": secret})
    english = client.post("/form/reply?lang=en", data={"code": code, "secret": secret})

    text = page.get_data(as_text=True)
    assert "Wil je drie korte vragen beantwoorden?" in text
    link = survey_link(text)
    assert re.search(r'href="/enquete/[^"?]+\?lang=en"', english.get_data(as_text=True))
    assert client.post(link, data=ALL_YES).status_code == 200
    [row] = answers()
    assert (row.conversation_id, row.channel) == (1, "form")
    after = client.post("/form/reply", data={"code": code, "secret": secret})
    assert survey_link(after.get_data(as_text=True)) is None


# --- phone ----------------------------------------------------------------------------------------


@pytest.fixture
def on_call(app, counsellor):
    """Stop it Now!'s line, and a counsellor who takes its calls."""
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number=SERVICE_NUMBER)
    )
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    user.takes_calls = True
    db.session.commit()
    return counsellor(user=user)


def phone_survey(on: bool) -> None:
    db.session.execute(update(Service).where(Service.slug == "stopitnow").values(phone_survey=on))
    db.session.commit()


def talked(anna) -> Caller:
    """A caller put through to the counsellor, whose talk has just ended."""
    caller = Caller(anna.app)
    caller.call()
    anna.claim(1)
    caller.leave_queue("redirected")
    return caller


def gather_action(twiml: str) -> str:
    return re.search(r'<Gather action="([^"]+)"', twiml)[1].replace("&amp;", "&")


def test_with_the_phone_survey_on_callers_answer_by_keypad(on_call):
    phone_survey(True)
    caller = talked(on_call)

    asked = caller.dial_ended("completed", 120).get_data(as_text=True)

    assert "Ben je tevreden over het gesprek?" in asked and "Druk 1 voor ja, 2 voor nee." in asked
    assert '<Gather action="/phone/survey?q=satisfied"' in asked and 'numDigits="1"' in asked
    second = caller.post(gather_action(asked), Digits="1").get_data(as_text=True)
    assert "Voel je je beter na het gesprek?" in second
    third = caller.post(gather_action(second), Digits="2").get_data(as_text=True)
    assert "Zou je ons aanraden aan anderen?" in third
    thanks = caller.post(gather_action(third), Digits="1").get_data(as_text=True)
    assert "Dank je wel voor je antwoorden" in thanks and "<Hangup" in thanks
    assert "<Gather" not in thanks
    [row] = answers()
    assert (row.conversation_id, row.channel) == (1, "phone")
    assert (row.satisfied, row.felt_better, row.would_recommend) == (True, False, True)
    assert row.comment is None


def test_a_wrong_key_repeats_the_question_once(on_call):
    phone_survey(True)
    caller = talked(on_call)
    asked = caller.dial_ended("completed", 60).get_data(as_text=True)

    repeated = caller.post(gather_action(asked), Digits="7").get_data(as_text=True)

    assert "Die toets kennen we niet." in repeated
    assert "Ben je tevreden over het gesprek?" in repeated
    assert "again=1" in gather_action(repeated)
    answered = caller.post(gather_action(repeated), Digits="2").get_data(as_text=True)
    assert "Voel je je beter na het gesprek?" in answered
    assert answers()[0].satisfied is False
    # A second wrong key moves on, leaving the question unanswered.
    again = caller.post(gather_action(answered), Digits="9").get_data(as_text=True)
    moved_on = caller.post(gather_action(again), Digits="#").get_data(as_text=True)
    assert "Zou je ons aanraden aan anderen?" in moved_on
    assert answers()[0].felt_better is None


def test_the_same_key_reported_twice_gives_the_same_result(on_call):
    phone_survey(True)
    caller = talked(on_call)
    asked = caller.dial_ended("completed", 60).get_data(as_text=True)

    first = caller.post(gather_action(asked), Digits="1").get_data(as_text=True)
    second = caller.post(gather_action(asked), Digits="1").get_data(as_text=True)

    assert first == second
    [row] = answers()
    assert row.satisfied is True


def test_a_caller_hanging_up_midway_keeps_the_answers_given(on_call):
    phone_survey(True)
    caller = talked(on_call)
    asked = caller.dial_ended("completed", 60).get_data(as_text=True)
    caller.post(gather_action(asked), Digits="2")

    caller.status("completed", 90)

    [row] = answers()
    assert (row.satisfied, row.felt_better, row.would_recommend) == (False, None, None)


def test_with_the_phone_survey_off_the_caller_hears_goodbye_as_before(on_call):
    caller = talked(on_call)

    goodbye = caller.dial_ended("completed", 60).get_data(as_text=True)
    refused = caller.post("/phone/survey?q=satisfied", Digits="1").get_data(as_text=True)

    assert "Dank je wel voor het bellen. Tot ziens." in goodbye and "<Gather" not in goodbye
    assert "<Hangup" in refused
    assert answers() == []


def test_survey_webhook_is_signed_and_knows_its_questions(on_call):
    phone_survey(True)
    caller = talked(on_call)
    caller.dial_ended("completed", 60)

    unsigned = on_call.app.test_client().post(
        "/phone/survey?q=satisfied",
        data={"CallSid": caller.sid, "AccountSid": factories.ACCOUNT_SID, "Digits": "1"},
    )
    unknown = caller.post("/phone/survey?q=favourite_colour", Digits="1")

    assert unsigned.status_code == 403
    assert unknown.status_code == 400
    assert answers() == []


def test_phone_survey_command_switches_it_per_service(app, runner):
    on = runner.invoke(args=["service", "phone-survey", "stopitnow", "on"])
    assert on.exit_code == 0, on.output
    db.session.rollback()
    assert db.session.scalar(select(Service.phone_survey).where(Service.slug == "stopitnow"))
    off = runner.invoke(args=["service", "phone-survey", "stopitnow", "off"])
    assert off.exit_code == 0, off.output
    db.session.rollback()
    assert not db.session.scalar(select(Service.phone_survey).where(Service.slug == "stopitnow"))
    assert runner.invoke(args=["service", "phone-survey", "nope", "on"]).exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(SurveyAnswer)) == 0
