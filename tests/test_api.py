"""The staff JSON API: tokens, every endpoint's answers and refusals, and a schemathesis run."""

import re
from collections import Counter
from datetime import time, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import select

from helpline.api import service as api
from helpline.api.models import ApiToken
from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.followup import bookings, therapists
from helpline.followup.models import Booking
from helpline.inbox.models import AuditEntry, Conversation
from helpline.timeutil import iso, utcnow
from tests import factories


def token_for(user: StaffUser, name: str = "test") -> str:
    return api.create_token(user, name).value


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def staff_with_token(name: str = "Anna", role: str = "counsellor") -> tuple[StaffUser, dict]:
    user = factories.staff_user(name, role=role)
    return user, bearer(token_for(user))


def chats(visitor, count: int, service: str = "helpwanted") -> list[int]:
    """Open `count` waiting chats; their conversation ids, oldest first."""
    ids = []
    for number in range(count):
        v = visitor()
        assert v.say(f"Hallo {number}", service=service)["ok"]
        ids.append(v.conversation().id)
    return ids


def signed_in(client, user: StaffUser):
    with client.session_transaction() as session:
        factories.signed_in_session(session, user)
    return client


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


# --- tokens -----------------------------------------------------------------------------------


def test_token_made_on_the_page_is_shown_once_works_and_is_stored_only_hashed(app, client):
    user = factories.staff_user("Anna")
    signed_in(client, user)
    page = client.post("/api/tokens", data={"action": "create", "name": "export script"})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert '<html lang="en">' in page.get_data(as_text=True)
    value = re.search(r"hl_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", page.get_data(as_text=True)).group()
    assert client.get("/api/v1/conversations", headers=bearer(value)).status_code == 200

    db.session.rollback()
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.name == "export script"
    assert value.startswith(f"hl_{token.prefix}_")
    assert token.last_used_at is not None
    secret = value.removeprefix(f"hl_{token.prefix}_")  # may hold "_" itself
    assert len(secret) == 43
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            assert all(secret not in str(cell) for cell in row), table.name

    listing = client.get("/api/tokens").get_data(as_text=True)
    assert f"hl_{token.prefix}_" in listing
    assert secret not in listing


def test_revoked_token_gets_401(app, client):
    user, headers = staff_with_token()
    signed_in(client, user)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    revoked = client.post("/api/tokens", data={"action": "revoke", "token_id": str(token.id)})
    assert revoked.status_code == 302
    answer = client.get("/api/v1/conversations", headers=headers)
    assert answer.status_code == 401
    assert error_code(answer) == "unauthenticated"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "revoked" in client.get("/api/tokens").get_data(as_text=True)


def test_someone_elses_token_cannot_be_revoked_on_the_page(app, client):
    owner = factories.staff_user("Anna")
    token_for(owner)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
    signed_in(client, factories.staff_user("Bert"))
    answer = client.post("/api/tokens", data={"action": "revoke", "token_id": str(token.id)})
    assert answer.status_code == 404
    db.session.rollback()
    assert db.session.get(ApiToken, token.id).revoked_at is None


def test_token_page_needs_a_name_and_a_login(app, client):
    assert client.get("/api/tokens").status_code == 302
    signed_in(client, factories.staff_user("Anna"))
    answer = client.post("/api/tokens", data={"action": "create", "name": "  "})
    assert answer.status_code == 422
    assert "Give the token a name." in answer.get_data(as_text=True)


def test_token_page_needs_csrf_and_the_api_does_not(app, client, visitor):
    app.config["WTF_CSRF_ENABLED"] = True
    user, headers = staff_with_token()
    signed_in(client, user)
    forged = client.post("/api/tokens", data={"action": "create", "name": "forged"})
    assert forged.status_code == 400
    assert db.session.scalar(select(ApiToken).where(ApiToken.name == "forged")) is None
    conversation_id = chats(visitor, 1)[0]
    taken = client.post(
        f"/api/v1/conversations/{conversation_id}/assign", json={"to": None}, headers=headers
    )
    assert taken.status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic abc", "Bearer hl_0000_x", "Bearer hl_00000000_" + "a" * 43],
)
def test_missing_or_unknown_token_gets_401(app, client, header):
    headers = {"Authorization": header} if header else {}
    answer = client.get("/api/v1/conversations", headers=headers)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["message"]


def test_token_of_a_switched_off_account_gets_401(app, client):
    user, headers = staff_with_token()
    user.active = False
    db.session.commit()
    answer = client.get("/api/v1/conversations", headers=headers)
    assert answer.status_code == 401
    assert "switched off" in answer.get_json()["error"]["message"]


def test_last_use_is_written_at_most_once_a_minute(app):
    user = factories.staff_user()
    value = token_for(user)
    start = utcnow()
    with app.test_request_context():
        api.authenticate(f"Bearer {value}", now=start)
        api.authenticate(f"Bearer {value}", now=start + timedelta(seconds=30))
        db.session.expire_all()
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        assert token.last_used_at == start
        api.authenticate(f"Bearer {value}", now=start + timedelta(seconds=61))
        db.session.expire_all()
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
        assert token.last_used_at == start + timedelta(seconds=61)


def test_command_line_creates_and_revokes_a_token(app, client, runner):
    user = factories.staff_user("Anna")
    made = runner.invoke(args=["api", "token", "create", "--email", user.email, "--name", "cron"])
    assert made.exit_code == 0, made.output
    value = made.stdout.strip().splitlines()[0]
    assert client.get("/api/v1/conversations", headers=bearer(value)).status_code == 200
    prefix = value.split("_")[1]
    gone = runner.invoke(args=["api", "token", "revoke", "--email", user.email, "--prefix", prefix])
    assert gone.exit_code == 0, gone.output
    assert client.get("/api/v1/conversations", headers=bearer(value)).status_code == 401
    unknown = runner.invoke(args=["api", "token", "create", "--email", "x@y.z", "--name", "a"])
    assert unknown.exit_code != 0


# --- conversations ----------------------------------------------------------------------------


def test_keyset_pagination_walks_every_conversation_exactly_once(app, client, visitor):
    ids = chats(visitor, 7)
    _, headers = staff_with_token()
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/conversations", query_string=query, headers=headers)
        assert page.status_code == 200
        body = page.get_json()
        seen += [row["id"] for row in body["conversations"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
        # A conversation opened meanwhile does not shift the pages still to come.
        if pages == 1:
            chats(visitor, 1)
    assert seen == sorted(ids, reverse=True)
    assert pages == 3


def test_list_rows_hold_no_message_content(app, client, visitor):
    v = visitor()
    v.say("Mijn geheime verhaal")
    _, headers = staff_with_token()
    answer = client.get("/api/v1/conversations", headers=headers)
    assert answer.status_code == 200
    assert "geheime" not in answer.get_data(as_text=True)
    row = answer.get_json()["conversations"][0]
    assert row["state"] == "queued" and row["unread"] == 1
    assert factories.audit_actions(row["id"]) == []


def test_list_filters_by_service_channel_state_and_mine(app, client, visitor):
    helpwanted = chats(visitor, 2)
    stopitnow = chats(visitor, 1, service="stopitnow")
    _, headers = staff_with_token()
    taken = client.post(
        f"/api/v1/conversations/{helpwanted[0]}/assign", json={"to": None}, headers=headers
    )
    assert taken.status_code == 200

    def ids(**query):
        answer = client.get("/api/v1/conversations", query_string=query, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        return [row["id"] for row in answer.get_json()["conversations"]]

    assert ids(service="stopitnow") == stopitnow
    assert ids(channel="form") == []
    assert ids(state="active") == [helpwanted[0]]
    assert ids(state=["queued", "active"]) == sorted(helpwanted + stopitnow, reverse=True)
    assert ids(mine="true") == [helpwanted[0]]
    assert ids(state="closed") == []


@pytest.mark.parametrize(
    "query",
    [{"limit": 0}, {"limit": 201}, {"state": "open"}, {"cursor": "nonsense"}, {"mine": "maybe"}],
)
def test_list_refuses_invalid_query_with_422(app, client, query):
    _, headers = staff_with_token()
    answer = client.get("/api/v1/conversations", query_string=query, headers=headers)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == set(query)


def test_reading_a_conversation_shows_its_messages_and_is_audited(app, client, visitor):
    v = visitor()
    v.say("Eerste bericht")
    v.say("Tweede bericht")
    conversation_id = v.conversation().id
    user, headers = staff_with_token()
    answer = client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)
    assert answer.status_code == 200
    body = answer.get_json()
    assert [m["body"] for m in body["messages"]] == ["Eerste bericht", "Tweede bericht"]
    assert body["conversation"]["id"] == conversation_id
    later = client.get(
        f"/api/v1/conversations/{conversation_id}",
        query_string={"since_seq": 1},
        headers=headers,
    )
    assert [m["body"] for m in later.get_json()["messages"]] == ["Tweede bericht"]
    db.session.rollback()
    assert factories.audit_actions(conversation_id) == [
        (user.id, "conversation.view"),
        (user.id, "conversation.view"),
    ]
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.conversation_id == conversation_id)
    )
    assert [e.detail for e in entries] == [{"since_seq": 0}, {"since_seq": 1}]


@pytest.mark.parametrize("path", ["/api/v1/conversations/999", "/api/v1/conversations/99999999999"])
def test_unknown_conversation_is_404(app, client, path):
    _, headers = staff_with_token()
    answer = client.get(path, headers=headers)
    assert answer.status_code == 404
    assert error_code(answer) == "not_found"


def test_reply_after_taking_the_conversation_and_a_retry_is_stored_once(app, client, visitor):
    v = visitor()
    v.say("Hallo?")
    conversation_id = v.conversation().id
    user, headers = staff_with_token()
    url = f"/api/v1/conversations/{conversation_id}"
    taken = client.post(f"{url}/assign", json={"to": user.id}, headers=headers)
    assert taken.status_code == 200
    assert taken.get_json()["state"] == "active"
    assert taken.get_json()["assignee"]["id"] == user.id

    reply = {"client_msg_id": "api-reply-0001", "body": "  Hoi, ik ben Anna.  "}
    first = client.post(f"{url}/messages", json=reply, headers=headers)
    assert first.status_code == 201
    assert first.get_json()["body"] == "Hoi, ik ben Anna."
    again = client.post(f"{url}/messages", json=reply, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["seq"] == first.get_json()["seq"]
    db.session.rollback()
    stored = [m for m in factories.messages_of(conversation_id) if m.sender == "counsellor"]
    assert [m.body for m in stored] == ["Hoi, ik ben Anna."]
    assert v.received()[-1]["body"] == "Hoi, ik ben Anna."

    note = client.post(
        f"{url}/messages",
        json={"client_msg_id": "api-note-00001", "body": "Privé", "note": True},
        headers=headers,
    )
    assert note.status_code == 201 and note.get_json()["kind"] == "note"


def test_reply_refusals_are_readable(app, client, visitor):
    conversation_id = chats(visitor, 1)[0]
    _, headers = staff_with_token()
    url = f"/api/v1/conversations/{conversation_id}/messages"
    unclaimed = client.post(url, json={"client_msg_id": "abcdefgh", "body": "x"}, headers=headers)
    assert unclaimed.status_code == 403
    assert unclaimed.get_json()["error"]["message"] == "Claim the conversation before you reply."

    malformed = client.post(url, data="{not json", content_type="application/json", headers=headers)
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["message"]

    empty = client.post(url, json={"client_msg_id": "abcdefgh", "body": "  "}, headers=headers)
    assert empty.status_code == 422
    assert empty.get_json()["error"]["fields"] == {"body": ["The message is empty."]}

    nul = client.post(url, json={"client_msg_id": "abcdefgh", "body": "a\x00b"}, headers=headers)
    assert nul.status_code == 422

    wrong = client.post(url, json=["a list"], headers=headers)
    assert wrong.status_code == 422

    unknown = client.post(
        url, json={"client_msg_id": "abcdefgh", "body": "x", "colour": "red"}, headers=headers
    )
    assert unknown.status_code == 422
    assert "colour" in unknown.get_json()["error"]["fields"]


def test_assign_transfers_to_a_colleague_and_refuses_a_taken_chat(app, client, visitor):
    conversation_id = chats(visitor, 1)[0]
    _, anna_headers = staff_with_token("Anna")
    bert, bert_headers = staff_with_token("Bert")
    url = f"/api/v1/conversations/{conversation_id}/assign"
    assert client.post(url, json={"to": None}, headers=anna_headers).status_code == 200
    taken = client.post(url, json={"to": None}, headers=bert_headers)
    assert taken.status_code == 409
    assert error_code(taken) == "already_assigned"
    moved = client.post(url, json={"to": bert.id}, headers=anna_headers)
    assert moved.status_code == 200
    assert moved.get_json()["assignee"]["id"] == bert.id
    nobody = client.post(url, json={"to": 2147483647}, headers=bert_headers)
    assert nobody.status_code == 404
    missing = client.post(url, json={}, headers=bert_headers)
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"] == {"to": ["Missing data for required field."]}


def test_end_then_close_with_summary_and_categories(app, client, visitor):
    conversation_id = chats(visitor, 1)[0]
    _, headers = staff_with_token()
    url = f"/api/v1/conversations/{conversation_id}"
    client.post(f"{url}/assign", json={"to": None}, headers=headers)
    too_early = client.post(
        f"{url}/close",
        json={"summary": "Advies", "categories": [factories.category_id("sexting")]},
        headers=headers,
    )
    assert too_early.status_code == 409
    ended = client.post(f"{url}/end", headers=headers)
    assert ended.status_code == 200 and ended.get_json()["state"] == "wrap_up"

    not_offered = client.post(
        f"{url}/close",
        json={"summary": "Advies", "categories": [factories.category_id("concern_self")]},
        headers=headers,
    )
    assert not_offered.status_code == 422
    assert "not a category of this service" in not_offered.get_json()["error"]["message"]
    no_categories = client.post(
        f"{url}/close", json={"summary": "Advies", "categories": []}, headers=headers
    )
    assert no_categories.status_code == 422

    chosen = [factories.category_id("sexting"), factories.category_id("sextortion")]
    closed = client.post(
        f"{url}/close", json={"summary": " Advies gegeven ", "categories": chosen}, headers=headers
    )
    assert closed.status_code == 200
    row = closed.get_json()
    assert row["state"] == "closed"
    assert {c["id"] for c in row["categories"]} == set(chosen)
    db.session.rollback()
    assert db.session.get(Conversation, conversation_id).summary == "Advies gegeven"
    again = client.post(f"{url}/end", headers=headers)
    assert again.status_code == 409


def test_categories_of_a_service(app, client):
    _, headers = staff_with_token()
    answer = client.get(
        "/api/v1/categories", query_string={"service": "stopitnow"}, headers=headers
    )
    assert answer.status_code == 200
    slugs = {c["slug"] for c in answer.get_json()["categories"]}
    assert "concern_self" in slugs and "sextortion" not in slugs
    unknown = client.get("/api/v1/categories", query_string={"service": "nope"}, headers=headers)
    assert unknown.status_code == 404


# --- follow-up --------------------------------------------------------------------------------


def therapist_available_every_day() -> StaffUser:
    therapist = factories.staff_user("Eva", role="therapist")
    for weekday in range(7):
        therapists.add_rule(therapist, therapist.id, weekday, time(0, 0), time(23, 0), 60)
    db.session.commit()
    return therapist


def test_book_a_follow_up_from_the_free_slots_and_record_its_outcome(app, client, visitor):
    therapist = therapist_available_every_day()
    conversation_id = chats(visitor, 1)[0]
    _, headers = staff_with_token()
    free = client.get(
        "/api/v1/followup/slots",
        query_string={"therapist": therapist.id, "days": 2},
        headers=headers,
    )
    assert free.status_code == 200
    slot = free.get_json()["slots"][0]
    assert slot["therapist_id"] == therapist.id and slot["starts_at"].endswith("Z")

    booking = {"therapist_id": therapist.id, "starts_at": slot["starts_at"], "method": "chat"}
    url = f"/api/v1/conversations/{conversation_id}/followups"
    booked = client.post(url, json=booking, headers=headers)
    assert booked.status_code == 201, booked.get_json()
    body = booked.get_json()
    assert body["status"] == "booked" and re.fullmatch(r"[0-9A-Z]{8}", body["code"])
    taken = client.post(url, json=booking, headers=headers)
    assert taken.status_code == 409
    assert error_code(taken) == "slot_taken"
    odd = client.post(url, json=booking | {"starts_at": "2020-01-01T10:00:00Z"}, headers=headers)
    assert odd.status_code == 422

    outcome_url = f"/api/v1/followups/{body['id']}/outcome"
    refused = client.post(outcome_url, json={"outcome": "cancelled"}, headers=headers)
    assert refused.status_code == 403
    therapist_headers = bearer(token_for(therapist))
    recorded = client.post(
        outcome_url,
        json={"outcome": "cancelled", "note": "Client belde af"},
        headers=therapist_headers,
    )
    assert recorded.status_code == 200
    assert recorded.get_json()["status"] == "cancelled"
    assert recorded.get_json()["code"] is None
    db.session.rollback()
    assert db.session.get(Booking, body["id"]).outcome_note == "Client belde af"
    wrong = client.post(outcome_url, json={"outcome": "great"}, headers=therapist_headers)
    assert wrong.status_code == 422


def test_therapists_reach_only_their_follow_up_endpoints(app, client, visitor):
    conversation_id = chats(visitor, 1)[0]
    therapist = therapist_available_every_day()
    headers = bearer(token_for(therapist))
    assert client.get("/api/v1/followup/slots", headers=headers).status_code == 200
    for path in ("/api/v1/conversations", f"/api/v1/conversations/{conversation_id}"):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 403
        assert error_code(answer) == "forbidden"
    assert client.get("/api/v1/reports?year=2025", headers=headers).status_code == 403


def booked_by_api(client, headers, conversation_id, therapist, starts_at, **extra) -> dict:
    booking = {"therapist_id": therapist.id, "starts_at": iso(starts_at), "method": "chat"}
    answer = client.post(
        f"/api/v1/conversations/{conversation_id}/followups",
        json=booking | extra,
        headers=headers,
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_follow_ups_are_listed_with_their_history_and_never_the_number_or_code(
    app, client, visitor
):
    therapist = therapist_available_every_day()
    user, headers = staff_with_token()
    first, second, third = therapists.free_slots(therapist.id, days=2)[:3]
    conversation_id = chats(visitor, 1)[0]
    chat = booked_by_api(client, headers, conversation_id, therapist, first.starts_at)
    phone = {"method": "phone", "number": "+31612345678"}
    call = booked_by_api(client, headers, conversation_id, therapist, second.starts_at, **phone)

    moved = client.post(
        f"/api/v1/followups/{chat['id']}/reschedule",
        json={"starts_at": iso(third.starts_at)},
        headers=headers,
    )
    assert moved.status_code == 201, moved.get_json()
    new = moved.get_json()
    assert new["rescheduled_from_id"] == chat["id"] and new["status"] == "booked"
    assert new["therapist"] == {"id": therapist.id, "name": "Eva"}
    assert new["starts_at"] == iso(third.starts_at) and new["starts_at"].endswith("Z")
    assert "code" not in new

    listed = client.get(f"/api/v1/conversations/{conversation_id}/followups", headers=headers)
    assert listed.status_code == 200
    rows = listed.get_json()["followups"]
    assert [(r["id"], r["status"], r["rescheduled_from_id"]) for r in rows] == [
        (chat["id"], "rescheduled", None),
        (call["id"], "booked", None),
        (new["id"], "booked", chat["id"]),
    ]
    assert rows[1]["method"] == "phone" and rows[1]["transcript_shared"] is False
    assert rows[1]["ends_at"] == iso(second.ends_at)
    text = listed.get_data(as_text=True)
    assert chat["code"] not in text and "612345678" not in text
    assert all(set(row) == set(rows[0]) and "code" not in row for row in rows)
    db.session.rollback()
    assert (user.id, "followup.bookings") in factories.audit_actions(conversation_id)
    # The client keeps the code they were given: it opens the moved session.
    assert db.session.get(Booking, new["id"]).code_hash is not None


def test_reschedule_refusals_map_to_their_statuses(app, client, visitor):
    # Accounts first: on SQLite the test's own session cannot write after reading.
    therapist = therapist_available_every_day()
    therapist_headers = bearer(token_for(therapist))
    _, headers = staff_with_token()
    _, colleague = staff_with_token("Bert")
    first, second, third, fourth = therapists.free_slots(therapist.id, days=2)[:4]
    conversation_id = chats(visitor, 1)[0]
    one = booked_by_api(client, headers, conversation_id, therapist, first.starts_at)
    booked_by_api(client, headers, conversation_id, therapist, second.starts_at)
    url = f"/api/v1/followups/{one['id']}/reschedule"

    def moved(body, token_headers=headers):
        return client.post(url, json=body, headers=token_headers)

    taken = moved({"starts_at": iso(second.starts_at)})
    assert taken.status_code == 409 and error_code(taken) == "slot_taken"
    past = moved({"starts_at": "2020-01-01T10:00:00Z"})
    assert past.status_code == 422 and error_code(past) == "slot_in_past"
    between = moved({"starts_at": iso(first.starts_at + timedelta(minutes=30))})
    assert between.status_code == 422 and error_code(between) == "outside_availability"
    nobody = moved({"starts_at": iso(second.starts_at), "therapist_id": 2147483647})
    assert nobody.status_code == 404
    missing = moved({"therapist_id": therapist.id})
    assert missing.status_code == 422
    assert set(missing.get_json()["error"]["fields"]) == {"starts_at"}
    refused = moved({"starts_at": iso(third.starts_at)}, colleague)
    assert refused.status_code == 403 and error_code(refused) == "forbidden"
    unknown = client.post(
        "/api/v1/followups/2147483647/reschedule",
        json={"starts_at": iso(second.starts_at)},
        headers=headers,
    )
    assert unknown.status_code == 404
    db.session.rollback()
    assert db.session.get(Booking, one["id"]).status == "booked"

    # The session's therapist may move it; a moved booking cannot be moved again.
    own = moved({"starts_at": iso(third.starts_at)}, therapist_headers)
    assert own.status_code == 201, own.get_json()
    again = moved({"starts_at": iso(fourth.starts_at)})
    assert again.status_code == 409 and error_code(again) == "invalid_state"


def test_cancel_frees_the_slot_and_keeps_the_booking(app, client, visitor):
    therapist = therapist_available_every_day()
    _, headers = staff_with_token()
    _, colleague = staff_with_token("Bert")
    slot = therapists.free_slots(therapist.id, days=2)[0]
    conversation_id = chats(visitor, 1)[0]
    booking = booked_by_api(client, headers, conversation_id, therapist, slot.starts_at)
    url = f"/api/v1/followups/{booking['id']}/cancel"

    refused = client.post(url, json={}, headers=colleague)
    assert refused.status_code == 403
    too_long = client.post(url, json={"reason": "x" * 301}, headers=headers)
    assert too_long.status_code == 422
    nul = client.post(url, json={"reason": "a\x00b"}, headers=headers)
    assert nul.status_code == 422
    no_body = client.post(url, headers=headers)
    assert no_body.status_code == 415

    cancelled = client.post(url, json={"reason": " Client belde af "}, headers=headers)
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["id"] == booking["id"]
    db.session.rollback()
    assert db.session.get(Booking, booking["id"]).cancel_reason == "Client belde af"
    assert slot in therapists.free_slots(therapist.id, days=2)
    again = client.post(url, json={}, headers=headers)
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    unknown = client.post("/api/v1/followups/2147483647/cancel", json={}, headers=headers)
    assert unknown.status_code == 404


def test_a_session_that_is_over_cannot_be_cancelled(app, client, visitor):
    then = utcnow() - timedelta(days=3)
    therapist = factories.staff_user("Eva", role="therapist")
    for weekday in range(7):
        therapists.add_rule(
            therapist, therapist.id, weekday, time(0), time(23), 60, valid_from=then.date()
        )
    db.session.commit()
    supervisor, headers = staff_with_token("Sam", role="supervisor")
    conversation_id = chats(visitor, 1)[0]
    slot = therapists.free_slots(therapist.id, days=2, now=then)[0]
    booked = bookings.book(
        conversation_id, supervisor, therapist.id, slot.starts_at, "chat", now=then
    )
    answer = client.post(f"/api/v1/followups/{booked.booking.id}/cancel", json={}, headers=headers)
    assert answer.status_code == 409
    assert "over" in answer.get_json()["error"]["message"]


def test_follow_up_list_needs_a_role_that_books(app, client, visitor):
    conversation_id = chats(visitor, 1)[0]
    therapist = therapist_available_every_day()
    url = f"/api/v1/conversations/{conversation_id}/followups"
    assert client.get(url, headers=bearer(token_for(therapist))).status_code == 403
    supervisor, headers = staff_with_token("Sam", role="supervisor")
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200 and answer.get_json() == {"followups": []}
    unknown = client.get("/api/v1/conversations/2147483647/followups", headers=headers)
    assert unknown.status_code == 404
    db.session.rollback()
    assert factories.audit_actions(conversation_id) == [(supervisor.id, "followup.bookings")]


# --- reports ----------------------------------------------------------------------------------


def test_counsellor_gets_403_on_reports(app, client):
    _, headers = staff_with_token()
    answer = client.get("/api/v1/reports", query_string={"year": 2025}, headers=headers)
    assert answer.status_code == 403
    assert "supervisors" in answer.get_json()["error"]["message"]


def test_supervisor_reads_the_report_figures_as_json(app, client, visitor):
    chats(visitor, 2)
    _, headers = staff_with_token("Sam", role="supervisor")
    year = utcnow().year
    answer = client.get("/api/v1/reports", query_string={"year": year}, headers=headers)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["period"] == {"first": f"{year}-01-01", "last": f"{year}-12-31"}
    assert body["moments"]["total"] >= 2
    assert body["growth"]["previous_first"] == f"{year - 1}-01-01"
    assert isinstance(body["growth"]["moments"], list)
    assert len(body["week"]) == 7
    span = client.get(
        "/api/v1/reports",
        query_string={"from": f"{year}-01-01", "to": f"{year}-12-31", "service": "helpwanted"},
        headers=headers,
    )
    assert span.status_code == 200 and span.get_json()["service"] == "helpwanted"


@pytest.mark.parametrize(
    "query, status",
    [
        ({}, 422),
        ({"year": 2025, "from": "2025-01-01"}, 422),
        ({"from": "2025-02-01", "to": "2025-01-01"}, 422),
        ({"year": 1}, 422),
        ({"year": 2025, "service": "nope"}, 404),
    ],
)
def test_report_refuses_a_bad_period_or_service(app, client, query, status):
    _, headers = staff_with_token("Sam", role="admin")
    answer = client.get("/api/v1/reports", query_string=query, headers=headers)
    assert answer.status_code == status
    assert answer.get_json()["error"]["message"]


# --- the OpenAPI document and schemathesis -----------------------------------------------------


def test_openapi_document_describes_every_endpoint_without_a_token(app, client):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    routes = {
        re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"
    }
    assert routes == set(document["paths"])
    reply = document["paths"]["/conversations/{conversation_id}/messages"]["post"]
    assert reply["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReplyBody"
    }
    assert {"201", "200", "400", "401", "403", "404", "409", "422"} <= set(reply["responses"])


# Bounded so the run takes about half a minute per database.
EXAMPLES_PER_OPERATION = 12


def test_schemathesis_finds_no_server_error(app, visitor):
    conversation_ids = chats(visitor, 3) + chats(visitor, 1, service="stopitnow")
    therapist = therapist_available_every_day()
    admin = factories.staff_user("Ali", role="admin")
    slot, other = therapists.free_slots(therapist.id, days=2)[:2]
    booking = bookings.book(conversation_ids[0], admin, therapist.id, slot.starts_at, "chat")
    # Besides random ids (mostly 404), requests on rows that exist, to reach the rules behind.
    existing = {"conversation_id": conversation_ids[-1], "booking_id": booking.booking.id}
    # Cancelling is final: it gets a session of its own, so the others still find one booked.
    spare = bookings.book(
        conversation_ids[1], admin, therapist.id, other.starts_at, "phone", number="+31612345678"
    )
    headers = bearer(token_for(admin))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    statuses: Counter = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 15
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    for operation in operations:
        known = {name: value for name, value in existing.items() if f"{{{name}}}" in operation.path}
        if operation.path.endswith("/cancel"):
            known["booking_id"] = spare.booking.id
        runs = [(positive, {}), (negative, {})] + ([(positive, known)] if known else [])
        for mode, path_parameters in runs:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(
                case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            )
            def call(case):
                response = case.call(headers=headers)
                statuses[response.status_code] += 1
                case.validate_response(response, checks=[not_a_server_error])

            call()
    print(f"schemathesis: {sum(statuses.values())} requests, statuses {sorted(statuses.items())}")
    assert not [status for status in statuses if status >= 500]
    assert sum(statuses.values()) > len(operations) * 20
    assert statuses[200] > 0
