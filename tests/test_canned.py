"""Canned responses: managed per service by supervisors and admins, filled in for the inbox."""

import pytest
from sqlalchemy import select, update

from helpline.canned.demo import DEMO_RESPONSES
from helpline.canned.models import CannedResponse
from helpline.canned.service import unknown_variables
from helpline.extensions import db
from helpline.inbox.models import AuditEntry, Service
from tests.test_forms import helpwanted_answers

PAGE = "/admin/canned-responses"


def form(**values) -> dict:
    """A complete form for Helpwanted's Dutch `welkom`, changed by `values`."""
    return {
        "service": "helpwanted",
        "shortcut": "welkom",
        "title": "Welkom",
        "language": "nl",
        "text": "Hoi, je chat met {counsellor} van {service}.",
        **values,
    }


def responses() -> list[tuple[str, str, str, str]]:
    """(service, shortcut, language, text) of every stored response."""
    db.session.rollback()
    rows = db.session.execute(
        select(Service.slug, CannedResponse.shortcut, CannedResponse.language, CannedResponse.text)
        .join(Service, Service.id == CannedResponse.service_id)
        .order_by(CannedResponse.id)
    )
    return [tuple(row) for row in rows]


def canned_audit() -> list[tuple[int, str, dict]]:
    db.session.rollback()
    return [
        (entry.actor_id, entry.action, entry.detail)
        for entry in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("canned.%")).order_by(AuditEntry.id)
        )
    ]


def added(http, **values) -> None:
    answer = http.post(PAGE, data=form(**values))
    assert answer.status_code == 302, answer.get_data(as_text=True)


def claimed_chat(visitor, counsellor, service: str = "helpwanted", name: str = "Anna"):
    """A chat of `service` that `name` has claimed: conversation 1."""
    visitor().say("Hallo", service=service)
    anna = counsellor(name)
    assert anna.claim(1)["ok"]
    return anna


# --- the staff page ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["counsellor", "therapist"])
def test_only_supervisors_and_admins_reach_the_canned_responses_page(app, counsellor, role):
    someone = counsellor("Kim", role=role)

    assert someone.http.get(PAGE).status_code == 403
    assert someone.http.post(PAGE, data=form()).status_code == 403
    assert responses() == []


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_see_the_page_of_each_service(app, counsellor, role):
    lead = counsellor("Sam", role=role)

    page = lead.http.get(PAGE + "?service=stopitnow").get_data(as_text=True)

    assert "Add a response to Stop it Now!" in page
    assert "dag en nacht" in page and "day and night" in page


def test_signed_out_visitor_is_sent_to_the_login_page(app, client):
    answer = client.get(PAGE)

    assert answer.status_code == 302
    assert "/login" in answer.headers["Location"]


def test_an_unknown_service_is_not_found(app, counsellor):
    assert counsellor("Sam", role="supervisor").http.get(PAGE + "?service=nope").status_code == 404


def test_supervisor_adds_edits_and_deletes_a_response_with_audit_entries(app, counsellor):
    sam = counsellor("Sam", role="supervisor")

    added(sam.http, text="  Hoi, ik ben {counsellor}.  ")
    response_id = db.session.scalar(select(CannedResponse.id))
    listed = sam.http.get(PAGE + "?service=helpwanted").get_data(as_text=True)
    assert "/welkom" in listed and "Hoi, ik ben {counsellor}." in listed

    edited = sam.http.post(f"{PAGE}/{response_id}", data=form(title="Begroeting", text="Hallo!"))
    assert edited.status_code == 302
    assert responses() == [("helpwanted", "welkom", "nl", "Hallo!")]

    assert sam.http.post(f"{PAGE}/{response_id}/delete").status_code == 302
    assert responses() == []
    detail = {"canned_response": response_id, "shortcut": "welkom", "language": "nl"}
    assert [(actor, action) for actor, action, _ in canned_audit()] == [
        (sam.user_id, "canned.create"),
        (sam.user_id, "canned.update"),
        (sam.user_id, "canned.delete"),
    ]
    assert all(entry.items() >= detail.items() for _, _, entry in canned_audit())


def test_an_unknown_variable_is_refused_with_a_message_naming_it(app, counsellor):
    sam = counsellor("Sam", role="supervisor")

    answer = sam.http.post(PAGE, data=form(text="Hoi {naam}, je chat met {counsellor} {tijden}"))

    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Unknown variable {naam}, {tijden}: use only {counsellor}, {service}, {hours}." in page
    assert "Hoi {naam}, je chat met {counsellor} {tijden}</textarea>" in page  # kept to correct
    assert responses() == []
    assert canned_audit() == []


def test_an_edit_with_an_unknown_variable_leaves_the_response_as_it_was(app, counsellor):
    sam = counsellor("Sam", role="supervisor")
    added(sam.http)
    response_id = db.session.scalar(select(CannedResponse.id))

    answer = sam.http.post(f"{PAGE}/{response_id}", data=form(text="Tot {morgen}"))

    assert answer.status_code == 422
    assert "Unknown variable {morgen}" in answer.get_data(as_text=True)
    assert responses() == [("helpwanted", "welkom", "nl", form()["text"])]


def test_a_blank_form_gets_a_readable_message_for_each_field(app, counsellor):
    sam = counsellor("Sam", role="supervisor")

    answer = sam.http.post(
        PAGE, data={"service": "helpwanted", "shortcut": "Welkom!", "title": " ", "text": " "}
    )

    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "A shortcut is 1 to 40 lower-case letters, digits, - or _, e.g. welcome." in page
    assert "A title is 1 to 120 characters." in page
    assert "Choose Dutch or English." in page
    assert "Write the text of the response." in page
    assert responses() == []


def test_a_shortcut_has_one_version_per_language_and_service(app, counsellor):
    sam = counsellor("Sam", role="supervisor")
    added(sam.http)
    added(sam.http, language="en", title="Welcome", text="Hi, this is {counsellor}.")
    added(sam.http, service="stopitnow")

    again = sam.http.post(PAGE, data=form(title="Nog een welkom"))

    assert again.status_code == 422
    assert "already has a response with that shortcut in that language" in again.get_data(
        as_text=True
    )
    assert [(s, shortcut, language) for s, shortcut, language, _ in responses()] == [
        ("helpwanted", "welkom", "nl"),
        ("helpwanted", "welkom", "en"),
        ("stopitnow", "welkom", "nl"),
    ]


def test_the_page_needs_its_csrf_token(app, counsellor):
    app.config["WTF_CSRF_ENABLED"] = True
    sam = counsellor("Sam", role="supervisor")

    assert sam.http.post(PAGE, data=form()).status_code == 400
    assert responses() == []


def test_the_inbox_links_to_the_page_for_supervisors_and_admins_only(app, counsellor):
    sam, anna = counsellor("Sam", role="supervisor"), counsellor("Anna")

    assert PAGE in sam.http.get("/inbox").get_data(as_text=True)
    inbox = anna.http.get("/inbox").get_data(as_text=True)
    assert PAGE not in inbox
    assert 'id="canned-open"' in inbox  # the composer's button is for every counsellor


# --- the inbox --------------------------------------------------------------------------------


def test_variables_are_found_by_name():
    assert unknown_variables("{counsellor} {service} {hours}") == []
    assert unknown_variables("{naam} {} {naam} {Hours}") == ["naam", "", "Hours"]


def test_counsellor_gets_the_services_responses_filled_in_for_them(app, visitor, counsellor):
    sam = counsellor("Sam", role="supervisor")
    added(sam.http, text="Hoi, je chat met {counsellor} van {service}, open {hours}.")
    added(sam.http, service="stopitnow", shortcut="vervolg", text="Een vervolggesprek?")
    anna = claimed_chat(visitor, counsellor)
    db.session.execute(
        update(Service)
        .where(Service.slug == "helpwanted")
        .values(opening_hours="mon-fri 09:00-17:00")
    )
    db.session.commit()

    ack = anna.emit("canned_responses", {"conversation_id": 1})

    assert ack["ok"], ack
    assert ack["service"] == "helpwanted"
    assert [(r["shortcut"], r["title"], r["language"], r["text"]) for r in ack["responses"]] == [
        (
            "welkom",
            "Welkom",
            "nl",
            "Hoi, je chat met Anna van Helpwanted, open van maandag tot en met vrijdag "
            "van 9:00 tot 17:00.",
        )
    ]


def test_both_versions_are_offered_with_dutch_chosen_for_a_conversation_of_unknown_language(
    app, visitor, counsellor
):
    sam = counsellor("Sam", role="supervisor")
    added(sam.http, shortcut="tijden", text="We zijn open {hours}.")
    added(sam.http, shortcut="tijden", language="en", title="Hours", text="We are open {hours}.")
    anna = claimed_chat(visitor, counsellor)

    ack = anna.emit("canned_responses", {"conversation_id": 1})

    assert ack["language"] == "nl"
    assert {r["language"]: r["text"] for r in ack["responses"]} == {
        "nl": "We zijn open dag en nacht.",
        "en": "We are open day and night.",
    }


def test_any_counsellor_may_prepare_a_reply_from_the_queue(app, visitor, counsellor):
    counsellor("Sam", role="supervisor").http.post(PAGE, data=form())
    visitor().say("Hallo")
    kim = counsellor("Kim")

    ack = kim.emit("canned_responses", {"conversation_id": 1})

    assert ack["ok"]
    assert ack["responses"][0]["text"] == "Hoi, je chat met Kim van Helpwanted."


def test_a_therapist_gets_no_responses_for_a_conversation_that_is_not_theirs(
    app, visitor, counsellor
):
    claimed_chat(visitor, counsellor)
    eva = counsellor("Eva", role="therapist")

    ack = eva.emit("canned_responses", {"conversation_id": 1})

    assert ack["ok"] is False
    assert ack["error"]["code"] == "forbidden"
    assert ack["error"]["message"] == "Canned responses are for the conversations you have."


def test_asking_for_an_unknown_conversation_or_without_one_is_refused(app, counsellor):
    anna = counsellor("Anna")

    assert anna.emit("canned_responses", {"conversation_id": 99})["error"]["code"] == "not_found"
    assert anna.emit("canned_responses", {})["error"]["code"] == "invalid"


def test_demo_seed_adds_responses_for_helpwanted_and_stop_it_now_once(app, runner):
    assert runner.invoke(args=["seed", "--demo"]).exit_code == 0
    assert runner.invoke(args=["seed", "--demo"]).exit_code == 0

    stored = responses()
    assert len(stored) == len(DEMO_RESPONSES)
    assert {service for service, *_ in stored} == {"helpwanted", "stopitnow"}
    assert {language for _, _, language, _ in stored} == {"nl", "en"}
    assert all(unknown_variables(text) == [] for *_, text in stored)


@pytest.mark.parametrize(("lang", "offered"), [("en", "en"), ("nl", "nl"), (None, "nl")])
def test_the_version_in_the_language_of_the_visitors_page_is_offered_first(
    app, visitor, counsellor, lang, offered
):
    payload = {"service": "helpwanted", "client_msg_id": "first-message", "body": "Hello"}
    someone = visitor()
    payload["visitor"] = someone.browser
    if lang:
        payload["lang"] = lang
    assert someone.emit("message", payload)["ok"]

    ack = counsellor("Anna").emit("canned_responses", {"conversation_id": 1})

    assert ack["language"] == offered


def test_a_first_message_from_a_page_in_another_language_is_refused(app, visitor):
    someone = visitor()
    payload = {"service": "helpwanted", "visitor": someone.browser, "body": "Hallo"}

    refused = someone.emit("message", {**payload, "client_msg_id": "message-1", "lang": "de"})

    assert refused["error"]["code"] == "invalid"
    assert "lang" in refused["error"]["fields"]
    assert someone.emit("message", {**payload, "client_msg_id": "message-2"})["ok"]


@pytest.mark.parametrize(
    ("page", "offered"), [("/form/helpwanted?lang=en", "en"), ("/form/helpwanted", "nl")]
)
def test_a_form_sent_from_the_english_page_is_offered_english_first(
    app, client, counsellor, page, offered
):
    assert client.post(page, data=helpwanted_answers()).status_code == 200

    ack = counsellor("Anna").emit("canned_responses", {"conversation_id": 1})

    assert ack["language"] == offered
