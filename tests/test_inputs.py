"""Text nobody can store or read: refused with a clear answer, never a server error."""

import csv
import io
import secrets

import pytest
from sqlalchemy import func, select

from helpline.extensions import db
from helpline.forms.models import FormSubmission
from helpline.inbox.models import Category, Conversation, Message
from tests import factories

LONE_SURROGATE = "Hallo \ud800 daar"


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def error_code(ack: dict) -> str:
    return ack["error"]["code"]


# --- socket payloads --------------------------------------------------------------------------


def test_visitor_message_with_a_lone_surrogate_is_invalid_and_stores_nothing(app, visitor):
    person = visitor()

    ack = person.say(LONE_SURROGATE)

    assert error_code(ack) == "invalid"
    assert ack["error"]["fields"] == {"body": ["This contains a character that cannot be stored."]}
    assert count(Message) == 0


@pytest.mark.parametrize("body", [LONE_SURROGATE, "Hallo \x07 daar", "bel \x1b[2J mij"])
def test_staff_message_with_a_lone_surrogate_or_control_character_is_invalid(
    app, visitor, counsellor, body
):
    visitor().say("Hallo")
    anna = counsellor()
    anna.claim(1)

    ack = anna.say(1, body)

    assert error_code(ack) == "invalid"
    assert [m.body for m in factories.messages_of(1) if m.kind == "text"] == ["Hallo"]


def test_newlines_and_tabs_in_a_message_are_kept(app, visitor):
    person = visitor()

    ack = person.say("regel een\r\n\tregel twee")

    assert ack["ok"]
    assert factories.messages_of(1)[0].body == "regel een\n\tregel twee"


def test_summary_with_a_lone_surrogate_is_invalid_and_the_chat_stays_open(app, visitor, counsellor):
    visitor().say("Hallo")
    anna = counsellor()
    anna.claim(1)
    anna.emit("end", {"conversation_id": 1})

    ack = anna.close_conversation(1, summary=LONE_SURROGATE)

    assert error_code(ack) == "invalid"
    db.session.rollback()
    assert db.session.get(Conversation, 1).state == "wrap_up"


# --- admin forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Groom\x00ing", "Groom\ting", "Groom\ning"])
def test_category_name_with_a_nul_or_control_character_is_refused_with_its_message(
    app, counsellor, name
):
    admin = counsellor("Ada", role="admin")
    before = count(Category)

    response = admin.http.post("/admin/categories", data={"name": name})

    assert response.status_code == 422
    assert "cannot be stored" in response.get_data(as_text=True)
    assert count(Category) == before


# --- the API's JSON ---------------------------------------------------------------------------


def api_headers(role: str = "counsellor") -> dict:
    from helpline.api import service as api

    user = factories.staff_user("Anna", role=role)
    return {"Authorization": f"Bearer {api.create_token(user, 'test').value}"}


def test_deeply_nested_json_to_the_api_is_a_readable_400(app, client, visitor):
    visitor().say("Hallo")
    depth = 50_000
    body = "[" * depth + "]" * depth

    response = client.post(
        "/api/v1/conversations/1/messages",
        data=body,
        content_type="application/json",
        headers=api_headers(),
    )

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert "nested too deeply" in error["message"]


def test_api_reply_with_a_control_character_is_422_and_stores_nothing(app, client, visitor):
    visitor().say("Hallo")
    headers = api_headers()
    client.post("/api/v1/conversations/1/assign", json={"to": None}, headers=headers)

    response = client.post(
        "/api/v1/conversations/1/messages",
        json={"client_msg_id": "abcdefgh1", "body": "Hallo \x1b[2J"},
        headers=headers,
    )

    assert response.status_code == 422
    assert "body" in response.get_json()["error"]["fields"]
    assert [m.body for m in factories.messages_of(1) if m.kind == "text"] == ["Hallo"]


# --- invalid UTF-8 in forms and query strings -------------------------------------------------


def form_body(what_happened: bytes) -> bytes:
    return (
        b"submission_key=" + secrets.token_urlsafe(24).encode() + b"&about=myself"
        b"&platform=Instagram&what_happened=" + what_happened
    )


@pytest.mark.parametrize("what_happened", [b"Iemand dreigt \xff\xfe", b"Iemand dreigt %FF%FE"])
def test_form_with_invalid_utf8_is_refused_readably_and_stores_nothing(app, client, what_happened):
    response = client.post(
        "/form/helpwanted",
        data=form_body(what_happened),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "tekens die we niet kunnen lezen" in page
    assert 'name="what_happened"' in page  # the form again, to send once more
    assert count(Conversation) == 0 and count(FormSubmission) == 0


# A WSGI environ holds the raw query bytes as a latin-1 string.
@pytest.mark.parametrize("path", ["/chat/helpwanted", "/form/helpwanted"])
@pytest.mark.parametrize("query", ["lang=en%FF", "lang=\xc3\x28"])
def test_visitor_page_with_invalid_utf8_in_its_query_string_is_a_readable_400(
    app, client, path, query
):
    response = client.get(path, environ_overrides={"QUERY_STRING": query})

    assert response.status_code == 400
    assert "tekens die we niet kunnen lezen" in response.get_data(as_text=True)


def test_form_answer_with_a_control_character_shows_the_form_again_in_dutch_and_stores_nothing(
    app, client
):
    response = client.post(
        "/form/helpwanted",
        data=form_body(b"Iemand%1B%5B2J dreigt"),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 422
    assert "teken in dat we niet kunnen bewaren" in response.get_data(as_text=True)
    assert count(Conversation) == 0 and count(FormSubmission) == 0


# --- CSV exports ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example","Klik")', "+1+1", "@SUM(A1)"])
def test_category_name_that_looks_like_a_formula_is_exported_as_text(
    app, visitor, counsellor, name
):
    admin = counsellor("Ada", role="admin")
    admin.http.post("/admin/categories", data={"name": name})
    db.session.rollback()
    category = db.session.scalar(select(Category).where(Category.name == name))
    admin.http.post(f"/admin/categories/{category.id}/services", data={"services": ["helpwanted"]})
    visitor().say("Hallo")
    anna = counsellor()
    anna.claim(1)
    anna.emit("end", {"conversation_id": 1})
    assert anna.emit(
        "close", {"conversation_id": 1, "summary": "Advies", "categories": [category.id]}
    )["ok"]
    supervisor = counsellor("Sam", role="supervisor")

    response = supervisor.http.get("/reports/categories.csv?service=helpwanted")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert ["'" + name, "1", "1"] in [row[:3] for row in rows]
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
