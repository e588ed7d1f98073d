"""The phone line: Twilio's signed webhooks become conversations in the inbox."""

import http.server
import threading

import pytest
from sqlalchemy import func, select, text, update

from helpline import create_app
from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.models import Client, ContactMoment, Conversation, Service
from helpline.phone.models import PhoneCall, PhoneLine
from tests import factories
from tests.factories import ACCOUNT_SID, Caller, audit_actions, messages_of, twilio_signature

NUMBER = "+31612345678"
SERVICE_NUMBER = factories.SERVICE_NUMBER
COUNSELLOR_PHONE = "+31600000009"


@pytest.fixture
def twilio(app):
    """What the app asked Twilio's REST API to do."""
    return app.config["TWILIO_HTTP_CLIENT"]


@pytest.fixture
def on_call(line, counsellor):
    """A counsellor who takes calls, with the phone calls are put through to."""
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    user.takes_calls = True
    db.session.commit()
    return counsellor(user=user)


def conversation_of(caller: Caller) -> Conversation:
    db.session.rollback()
    call = db.session.scalar(select(PhoneCall).where(PhoneCall.call_sid == caller.sid))
    return db.session.get(Conversation, call.conversation_id)


def line_of(conversation: Conversation) -> PhoneLine:
    return db.session.scalar(select(PhoneLine).where(PhoneLine.conversation_id == conversation.id))


def events_of(conversation: Conversation) -> list[str]:
    return [m.event for m in messages_of(conversation.id)]


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def rest_posts(twilio, suffix: str) -> list[dict]:
    return [r for r in twilio.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


# --- signatures ----------------------------------------------------------------------------------


def test_unsigned_call_is_refused_and_nothing_is_stored(line):
    response = line.test_client().post(
        "/phone/voice",
        data={"CallSid": factories.call_sid(), "AccountSid": ACCOUNT_SID, "From": NUMBER},
    )
    assert response.status_code == 403
    assert count(Conversation) == 0 and count(PhoneCall) == 0


@pytest.mark.parametrize("forgery", ["wrong_token", "wrong_url", "changed_parameter", "empty"])
def test_forged_signature_is_refused_and_nothing_is_stored(line, forgery):
    params = {
        "CallSid": factories.call_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": NUMBER,
        "To": SERVICE_NUMBER,
    }
    url = "http://localhost/phone/voice"
    signature = {
        "wrong_token": lambda: twilio_signature(url, params, token="another-token"),
        "wrong_url": lambda: twilio_signature("http://localhost/phone/status", params),
        "changed_parameter": lambda: twilio_signature(url, params),
        "empty": lambda: "",
    }[forgery]()
    if forgery == "changed_parameter":
        # A captured request replayed with another caller number.
        params = {**params, "From": "+31687654321"}
    response = line.test_client().post(
        "/phone/voice", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert count(Conversation) == 0 and count(Client) == 0


def test_request_for_another_twilio_account_is_refused(line):
    caller = Caller(line)
    params = {"CallSid": caller.sid, "AccountSid": "AC" + "b2" * 16, "From": NUMBER}
    params["To"] = SERVICE_NUMBER
    signature = twilio_signature("http://localhost/phone/voice", params)
    response = caller.http.post(
        "/phone/voice", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert count(Conversation) == 0


def test_signature_over_the_public_url_is_valid_behind_a_proxy(line, database_url_for_tests):
    """Twilio signs https://public-host/...; the app sees http://internal/... behind a proxy."""
    params = {
        "CallSid": factories.call_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": NUMBER,
        "To": SERVICE_NUMBER,
    }
    signature = twilio_signature("https://hulp.example.org/phone/voice", params)
    forwarded = {
        "X-Twilio-Signature": signature,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hulp.example.org",
        "X-Forwarded-For": "203.0.113.9",
    }
    config = {**line.config, "PROXY_FIX": 1}
    behind_proxy = create_app(config)
    assert (
        behind_proxy.test_client().post("/phone/voice", data=params, headers=forwarded).status_code
        == 200
    )
    # Without PROXY_FIX the forwarded headers are not trusted, so the URL does not match.
    params["CallSid"] = factories.call_sid()
    forwarded["X-Twilio-Signature"] = twilio_signature(
        "https://hulp.example.org/phone/voice", params
    )
    assert (
        line.test_client().post("/phone/voice", data=params, headers=forwarded).status_code == 403
    )
    assert count(Conversation) == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/phone/voice", {"From": NUMBER}),  # no To
        ("/phone/voice", {"CallSid": "CA-not-a-sid", "From": NUMBER, "To": SERVICE_NUMBER}),
        ("/phone/status", {"CallStatus": "exploded"}),
        ("/phone/status", {"CallStatus": "completed", "CallDuration": "ten"}),
        ("/phone/status", {"CallStatus": "completed", "CallDuration": "-3"}),
        ("/phone/gather", {"Digits": "1; DROP TABLE"}),
        (
            "/phone/recording",
            {"RecordingSid": "RE1", "RecordingUrl": "x", "RecordingDuration": "5"},
        ),
        ("/phone/dial", {"DialCallDuration": "3"}),
        ("/phone/wait", {"QueueTime": "soon"}),
    ],
)
def test_malformed_signed_request_gets_400_and_nothing_is_stored(line, path, params):
    caller = Caller(line)
    response = caller.post(path, **params)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid"
    assert count(Conversation) == 0 and count(PhoneCall) == 0


def test_webhook_without_account_sid_gets_400(line):
    caller = Caller(line)
    params = {"CallSid": caller.sid, "From": NUMBER, "To": SERVICE_NUMBER}
    signature = twilio_signature("http://localhost/phone/voice", params)
    response = caller.http.post(
        "/phone/voice", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 400


# --- a call that is answered ---------------------------------------------------------------------


def test_incoming_call_is_greeted_in_dutch_queued_and_rings_in_the_inbox(on_call):
    anna = on_call
    anna.drain()
    caller = Caller(anna.app)
    response = caller.call()
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    twiml = response.get_data(as_text=True)
    assert '<Say language="nl-NL"' in twiml and "Welkom bij Stop it Now." in twiml
    assert '<Enqueue action="/phone/queue"' in twiml and ">stopitnow</Enqueue>" in twiml

    conversation = conversation_of(caller)
    assert (conversation.channel, conversation.state) == ("phone", "queued")
    assert conversation.waiting_since is not None
    row = next(e for e in anna.received("conversation") if e["id"] == conversation.id)
    assert row["phone"]["stage"] == "ringing"
    assert row["phone"]["caller"] == "…78"
    assert db.session.scalar(select(func.count()).select_from(ContactMoment)) == 1


def test_new_call_announces_itself_to_every_counsellor(on_call, counsellor):
    other = counsellor("Bram")
    other.drain()
    caller = Caller(on_call.app)
    caller.call()
    announced = other.received("new_conversation")
    assert [a["id"] for a in announced] == [conversation_of(caller).id]


def test_the_same_call_reported_twice_opens_one_conversation(on_call):
    caller = Caller(on_call.app)
    first = caller.call().get_data(as_text=True)
    second = caller.call().get_data(as_text=True)
    assert "<Enqueue" in first and "<Enqueue" in second
    assert count(Conversation) == 1 and count(PhoneCall) == 1 and count(ContactMoment) == 1


def test_accepting_a_call_puts_it_through_to_the_counsellors_phone(on_call, twilio):
    caller = Caller(on_call.app)
    caller.call()
    conversation = conversation_of(caller)
    ack = on_call.claim(conversation.id)
    assert ack["ok"], ack
    assert ack["conversation"]["phone"]["stage"] == "connected"
    [redirect] = rest_posts(twilio, f"/Calls/{caller.sid}.json")
    assert f"/Accounts/{ACCOUNT_SID}/" in redirect["path"]
    assert f"<Number>{COUNSELLOR_PHONE}</Number>" in redirect["data"]["Twiml"]
    public = on_call.app.config["PUBLIC_URL"]
    assert f'<Dial action="{public}/phone/dial?to={on_call.user_id}"' in redirect["data"]["Twiml"]
    assert conversation_of(caller).state == "active"


def test_end_of_the_talk_moves_the_call_to_wrap_up_with_its_talk_time(on_call):
    caller = Caller(on_call.app)
    caller.call()
    conversation = conversation_of(caller)
    on_call.claim(conversation.id)
    caller.leave_queue("redirected")
    goodbye = caller.dial_ended("completed", 272).get_data(as_text=True)
    assert "<Hangup" in goodbye
    caller.status("completed", 300)
    conversation = conversation_of(caller)
    assert conversation.state == "wrap_up"
    assert conversation.ended_at is not None
    assert events_of(conversation) == ["call_started", "joined", "call_ended"]
    assert messages_of(conversation.id)[-1].body == "The call ended after 4:32."
    row = on_call.emit("list", {})["conversations"][0]
    assert row["phone"]["talk_seconds"] == 272 and row["phone"]["call_seconds"] == 300


def test_caller_hanging_up_first_also_ends_the_call_with_its_talk_time(on_call):
    caller = Caller(on_call.app)
    caller.call()
    conversation = conversation_of(caller)
    on_call.claim(conversation.id)
    # The status callback arrives before the Dial's action (Twilio does not order them).
    caller.status("completed", 95)
    caller.dial_ended("completed", 80)
    conversation = conversation_of(caller)
    assert conversation.state == "wrap_up"
    assert events_of(conversation).count("call_ended") == 1


def test_counsellor_phone_not_answering_puts_the_call_back_in_the_queue(on_call):
    caller = Caller(on_call.app)
    caller.call()
    conversation = conversation_of(caller)
    on_call.claim(conversation.id)
    twiml = caller.dial_ended("no-answer").get_data(as_text=True)
    assert "<Enqueue" in twiml and "Welkom" not in twiml
    conversation = conversation_of(caller)
    assert (conversation.state, conversation.assignee_id) == ("queued", None)
    assert line_of(conversation).stage == "ringing"
    assert events_of(conversation)[-1] == "call_missed"
    # Whoever does not answer is taken off the line until they switch it on again.
    assert db.session.get(StaffUser, on_call.user_id).takes_calls is False


def test_counsellor_without_a_phone_cannot_accept_a_ringing_call(on_call, counsellor):
    caller = Caller(on_call.app)
    caller.call()
    conversation = conversation_of(caller)
    no_phone = counsellor("Bram")
    ack = no_phone.claim(conversation.id)
    assert ack == {
        "ok": False,
        "error": {
            "code": "no_phone",
            "message": "Add the phone number calls are put through to first.",
        },
    }
    assert conversation_of(caller).state == "queued"


def test_call_that_cannot_be_put_through_goes_back_to_the_queue(on_call, twilio):
    caller = Caller(on_call.app)
    caller.call()
    conversation = conversation_of(caller)
    twilio.fail_next(400, 21220, "Call is not in-progress. Cannot redirect.")
    ack = on_call.claim(conversation.id)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "call_not_connected"
    assert ack["error"]["message"] == "The call has already ended."
    conversation = conversation_of(caller)
    assert conversation.state == "queued"
    assert events_of(conversation)[-1] == "call_not_connected"


# --- waiting, hanging up, out-of-order reports ---------------------------------------------------


def test_caller_hanging_up_while_waiting_is_recorded_as_abandoned(on_call):
    caller = Caller(on_call.app)
    caller.call()
    caller.leave_queue("hangup")
    caller.status("completed", 31)
    conversation = conversation_of(caller)
    assert (conversation.state, conversation.abandoned) == ("closed", True)
    assert events_of(conversation) == ["call_started", "caller_hung_up"]


def test_late_and_repeated_status_callbacks_change_nothing(on_call):
    caller = Caller(on_call.app)
    caller.call()
    assert caller.status("completed", 31).status_code == 204
    for late in ("ringing", "in-progress", "completed", "no-answer"):
        assert caller.status(late, 31).status_code == 204
    conversation = conversation_of(caller)
    assert events_of(conversation) == ["call_started", "caller_hung_up"]
    call = db.session.scalar(select(PhoneCall).where(PhoneCall.call_sid == caller.sid))
    assert (call.status, call.duration_seconds) == ("completed", 31)


def test_status_of_an_unknown_call_is_accepted_and_ignored(line):
    caller = Caller(line)
    assert caller.status("completed", 3).status_code == 204
    assert count(PhoneCall) == 0


def test_waiting_too_long_leads_to_the_menu(on_call):
    caller = Caller(on_call.app)
    caller.call()
    assert "<Pause" in caller.wait(60).get_data(as_text=True)
    limit = on_call.app.config["PHONE_QUEUE_WAIT_SECONDS"]
    assert "<Leave" in caller.wait(limit).get_data(as_text=True)
    menu = caller.leave_queue("leave").get_data(as_text=True)
    assert '<Gather action="/phone/gather"' in menu
    assert "Druk op 1" in menu and "Druk op 2" in menu
    assert line_of(conversation_of(caller)).stage == "menu"


def test_nobody_taking_calls_offers_voicemail_or_callback_at_once(line):
    caller = Caller(line)
    menu = caller.call().get_data(as_text=True)
    assert "Op dit moment kan er niemand opnemen." in menu
    assert "<Gather" in menu and "<Enqueue" not in menu
    assert line_of(conversation_of(caller)).stage == "menu"


def test_outside_opening_hours_the_caller_hears_the_hours(line):
    db.session.execute(
        update(Service)
        .where(Service.slug == "stopitnow")
        .values(opening_hours="mon-fri 09:00-17:00; sat 10:00-12:00")
    )
    db.session.commit()
    # Sunday noon in Amsterdam.
    from datetime import datetime

    from helpline.phone import incoming as phone

    with line.test_request_context():
        twiml = phone.incoming_call(
            factories.call_sid(), NUMBER, SERVICE_NUMBER, datetime(2026, 11, 22, 11, 0)
        )
    assert "Je belt buiten onze openingstijden." in twiml
    assert (
        "van maandag tot en met vrijdag van 9:00 tot 17:00, en op zaterdag van 10:00 tot 12:00"
        in twiml
    )
    assert "<Gather" in twiml


def test_unknown_number_is_told_so_and_nothing_is_stored(line):
    caller = Caller(line, to="+31800999999")
    twiml = caller.call().get_data(as_text=True)
    assert "Dit nummer is niet in gebruik." in twiml and "<Hangup" in twiml
    assert count(Conversation) == 0


# --- voicemail -----------------------------------------------------------------------------------


def leave_voicemail(app, number=NUMBER, seconds=42) -> Caller:
    caller = Caller(app, number=number)
    caller.call()
    record = caller.press("1").get_data(as_text=True)
    assert '<Record action="/phone/recording"' in record
    assert 'maxLength="120"' in record
    thanks = caller.record(seconds).get_data(as_text=True)
    assert "Dank je wel voor je bericht." in thanks
    caller.status("completed", seconds + 20)
    return caller


def test_voicemail_waits_in_the_inbox_after_the_caller_hangs_up(line):
    caller = leave_voicemail(line)
    conversation = conversation_of(caller)
    assert conversation.state == "queued" and not conversation.abandoned
    assert events_of(conversation) == ["call_started", "voicemail"]
    assert messages_of(conversation.id)[-1].body == "The caller left a voicemail of 0:42."
    phone_line = line_of(conversation)
    assert phone_line.stage == "voicemail" and phone_line.recording_seconds == 42
    assert phone_line.recording_url.startswith("https://api.twilio.com/")


def test_the_same_voicemail_reported_twice_is_stored_once(line):
    caller = Caller(line)
    caller.call()
    caller.press("1")
    recording_sid = "RE" + "c3" * 16
    caller.record(12, recording_sid)
    caller.record(12, recording_sid)
    assert events_of(conversation_of(caller)).count("voicemail") == 1


def test_hanging_up_without_speaking_leaves_no_voicemail(line):
    caller = Caller(line)
    caller.call()
    caller.press("1")
    response = caller.post("/phone/recording", RecordingDuration="0")
    assert "We hebben geen bericht gehoord." in response.get_data(as_text=True)
    caller.status("completed", 10)
    conversation = conversation_of(caller)
    assert (conversation.state, conversation.abandoned) == ("closed", True)


class FakeTwilioMedia(http.server.BaseHTTPRequestHandler):
    """Twilio's media host: serves a recording to the account's key only."""

    audio = b"ID3-fake-mp3-bytes" * 100

    def do_GET(self):
        import base64

        expected = base64.b64encode(f"{ACCOUNT_SID}:{factories.AUTH_TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}" or not self.path.endswith(
            ".mp3"
        ):
            self.send_response(401)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(len(self.audio)))
        self.end_headers()
        self.wfile.write(self.audio)

    def log_message(self, *args):
        pass


def test_voicemail_is_streamed_to_staff_from_twilio_and_each_play_is_audited(line):
    media = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilioMedia)
    threading.Thread(target=media.serve_forever, daemon=True).start()
    line.config["TWILIO_MEDIA_HOSTS"] = ["127.0.0.1"]
    try:
        caller = leave_voicemail(line)
        conversation = conversation_of(caller)
        db.session.execute(
            update(PhoneLine)
            .where(PhoneLine.conversation_id == conversation.id)
            .values(recording_url=f"http://127.0.0.1:{media.server_port}/Recordings/RE1")
        )
        db.session.commit()
        staff = factories.Staff(line, factories.staff_user("Anna"))
        response = staff.http.get(f"/phone/voicemail/{conversation.id}")
        assert response.status_code == 200
        assert response.mimetype == "audio/mpeg"
        assert response.data == FakeTwilioMedia.audio
        assert response.headers["Cache-Control"] == "no-store"
        assert (staff.user_id, "phone.recording.listen") in audit_actions(conversation.id)
        staff.close()
    finally:
        media.shutdown()


def test_voicemail_is_only_fetched_from_twilio_and_only_for_staff(line):
    caller = leave_voicemail(line)
    conversation = conversation_of(caller)
    anonymous = line.test_client().get(f"/phone/voicemail/{conversation.id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    db.session.execute(
        update(PhoneLine)
        .where(PhoneLine.conversation_id == conversation.id)
        .values(recording_url="http://169.254.169.254/latest/meta-data")
    )
    db.session.commit()
    staff = factories.Staff(line, factories.staff_user("Anna"))
    assert staff.http.get(f"/phone/voicemail/{conversation.id}").status_code == 404
    staff.close()


def test_counsellor_deletes_a_voicemail_at_twilio(line, counsellor, twilio):
    caller = leave_voicemail(line)
    conversation = conversation_of(caller)
    anna = counsellor("Anna")
    assert anna.claim(conversation.id)["ok"]
    recording_sid = line_of(conversation).recording_sid
    ack = anna.emit("delete_voicemail", {"conversation_id": conversation.id})
    assert ack == {"ok": True}
    [deleted] = [r for r in twilio.requests if r["method"] == "DELETE"]
    assert deleted["path"].endswith(f"/Recordings/{recording_sid}.json")
    phone_line = line_of(conversation_of(caller))
    assert phone_line.recording_url is None and phone_line.recording_deleted_at is not None
    assert events_of(conversation)[-1] == "recording_deleted"
    assert (anna.user_id, "phone.recording.delete") in audit_actions(conversation.id)
    again = anna.emit("delete_voicemail", {"conversation_id": conversation.id})
    assert again["error"]["code"] == "invalid_state"
    assert anna.http.get(f"/phone/voicemail/{conversation.id}").status_code == 409


# --- callbacks -----------------------------------------------------------------------------------


def ask_for_callback(app, number=NUMBER) -> Caller:
    caller = Caller(app, number=number)
    caller.call()
    goodbye = caller.press("2").get_data(as_text=True)
    assert "We bellen je terug" in goodbye
    caller.status("completed", 25)
    return caller


def test_callback_request_waits_in_the_inbox(line):
    caller = ask_for_callback(line)
    conversation = conversation_of(caller)
    assert conversation.state == "queued"
    assert events_of(conversation) == ["call_started", "callback_requested"]
    assert line_of(conversation).stage == "callback_requested"


def test_counsellor_calls_back_from_the_services_number_and_it_counts_as_a_contact(
    line, counsellor, twilio
):
    caller = ask_for_callback(line)
    conversation = conversation_of(caller)
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    anna = counsellor(user=user)
    assert anna.claim(conversation.id)["ok"]
    # Claiming a callback request rings nobody: there is no live call.
    assert rest_posts(twilio, f"/Calls/{caller.sid}.json") == []

    ack = anna.emit("call_back", {"conversation_id": conversation.id})
    assert ack["ok"], ack
    [created] = rest_posts(twilio, "/Calls.json")
    assert created["data"]["To"] == COUNSELLOR_PHONE
    assert created["data"]["From"] == SERVICE_NUMBER
    public = line.config["PUBLIC_URL"]
    assert created["data"]["StatusCallback"] == f"{public}/phone/status"
    assert f'callerId="{SERVICE_NUMBER}"' in created["data"]["Twiml"]
    assert f">{NUMBER}</Number>" in created["data"]["Twiml"]
    staff_leg = ack["call_sid"]
    assert staff_leg == created["sid"]
    assert (anna.user_id, "phone.callback") in audit_actions(conversation.id)

    # Twilio reports the counsellor's leg and then the caller's leg (a child call).
    caller_leg = factories.call_sid()
    caller.status("initiated", sid=staff_leg)
    caller.status("in-progress", sid=staff_leg)
    caller.status("ringing", sid=caller_leg, parent=staff_leg)
    caller.status("in-progress", sid=caller_leg, parent=staff_leg)
    caller.status("in-progress", sid=caller_leg, parent=staff_leg)
    caller.status("completed", 185, sid=caller_leg, parent=staff_leg)
    caller.status("completed", 200, sid=staff_leg)

    moments = db.session.scalars(
        select(ContactMoment.kind)
        .where(ContactMoment.conversation_id == conversation.id)
        .order_by(ContactMoment.id)
    ).all()
    assert moments == ["inbound", "callback"]
    assert events_of(conversation)[-3:] == [
        "callback_started",
        "callback_answered",
        "callback_ended",
    ]
    assert messages_of(conversation.id)[-1].body == "The callback ended after 3:05."


def test_callback_not_answered_is_not_a_contact_moment(line, counsellor):
    caller = ask_for_callback(line)
    conversation = conversation_of(caller)
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    anna = counsellor(user=user)
    anna.claim(conversation.id)
    staff_leg = anna.emit("call_back", {"conversation_id": conversation.id})["call_sid"]
    second = anna.emit("call_back", {"conversation_id": conversation.id})
    assert second["error"]["message"] == "A callback is already under way."
    caller_leg = factories.call_sid()
    caller.status("no-answer", sid=caller_leg, parent=staff_leg)
    caller.status("completed", 40, sid=staff_leg)
    assert count(ContactMoment) == 1
    assert messages_of(conversation.id)[-1].body == "The callback did not get through (no answer)."
    # The callback is over, so another attempt may start.
    assert anna.emit("call_back", {"conversation_id": conversation.id})["ok"]


def test_withheld_number_cannot_ask_for_or_get_a_callback(line, counsellor, twilio):
    caller = Caller(line, number="anonymous")
    menu = caller.call().get_data(as_text=True)
    assert "afgeschermd nummer" in menu
    again = caller.press("2").get_data(as_text=True)
    assert "<Gather" in again and "We bellen je terug" not in again
    conversation = conversation_of(caller)
    assert line_of(conversation).stage == "menu"
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    anna = counsellor(user=user)
    row = anna.emit("list", {})["conversations"][0]
    assert row["phone"]["withheld"] is True and row["phone"]["caller"] is None
    assert row["phone"]["can_call_back"] is False
    assert row["phone"]["call_back_refusal"] == (
        "The caller's number is withheld: they cannot be called back."
    )
    ack = anna.emit("call_back", {"conversation_id": conversation.id})
    assert ack["error"]["code"] == "cannot_call_back"
    assert rest_posts(twilio, "/Calls.json") == []


def test_closing_forgets_the_number_so_nobody_can_call_back(line, counsellor, twilio):
    caller = ask_for_callback(line)
    conversation = conversation_of(caller)
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    anna = counsellor(user=user)
    anna.claim(conversation.id)
    anna.emit("end", {"conversation_id": conversation.id})
    assert anna.close_conversation(conversation.id, "Advice given.", ("concern_self",))["ok"]
    assert line_of(conversation_of(caller)).sealed_number is None
    ack = anna.emit("call_back", {"conversation_id": conversation.id})
    assert ack["error"]["code"] in ("cannot_call_back", "forbidden")
    assert rest_posts(twilio, "/Calls.json") == []


# --- anonymity -----------------------------------------------------------------------------------


def test_the_inbox_is_told_live_whether_a_caller_has_phoned_before(on_call):
    on_call.drain()
    first = Caller(on_call.app, number="+31613572468")
    first.call()
    first.status("completed", 5)
    again = Caller(on_call.app, number="+31613572468")
    again.call()

    announced = {row["id"]: row for row in on_call.received("conversation")}

    assert announced[conversation_of(first).id]["earlier_conversations"] == 0
    assert announced[conversation_of(again).id]["earlier_conversations"] == 1


def test_one_number_ringing_twice_at_the_same_moment_is_one_person(on_call):
    number = "+31624681357"
    callers = [Caller(on_call.app, number=number) for _ in range(4)]
    barrier = threading.Barrier(len(callers))
    answers: list[int] = []

    def ring(caller: Caller) -> None:
        params = {
            "CallSid": caller.sid,
            "AccountSid": ACCOUNT_SID,
            "From": number,
            "To": caller.to,
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        signature = twilio_signature(Caller.BASE + "/phone/voice", params)
        barrier.wait()
        answer = caller.http.post(
            "/phone/voice", data=params, headers={"X-Twilio-Signature": signature}
        )
        answers.append(answer.status_code)

    threads = [threading.Thread(target=ring, args=(caller,)) for caller in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert answers == [200] * len(callers)
    conversations = [conversation_of(caller) for caller in callers]
    assert len({c.id for c in conversations}) == len(callers)
    assert len({c.client_id for c in conversations}) == 1
    assert db.session.scalar(select(func.count()).select_from(Client)) == 1
    rows = [
        row
        for row in on_call.emit("list", {})["conversations"]
        if row["id"] in {c.id for c in conversations}
    ]
    assert [row["earlier_conversations"] for row in rows] == [len(callers) - 1] * len(callers)


def test_repeat_caller_is_recognised_without_keeping_the_number(on_call):
    first = Caller(on_call.app)
    first.call()
    first.status("completed", 5)
    second = Caller(on_call.app)
    second.call()
    assert conversation_of(first).client_id == conversation_of(second).client_id
    row = next(
        r
        for r in on_call.emit("list", {})["conversations"]
        if r["id"] == conversation_of(second).id
    )
    assert row["earlier_conversations"] == 1
    withheld = [Caller(on_call.app, number="anonymous") for _ in range(2)]
    for call in withheld:
        call.call()
    assert conversation_of(withheld[0]).client_id != conversation_of(withheld[1]).client_id


def test_no_table_holds_the_callers_number_in_the_clear(on_call):
    ask_for_callback(on_call.app)
    caller = Caller(on_call.app, number="+31687650043")
    caller.call()
    on_call.claim(conversation_of(caller).id)
    caller.dial_ended("completed", 60)
    db.session.rollback()
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).all():
            dumped = repr(tuple(row))
            assert "612345678" not in dumped, table.name
            assert "687650043" not in dumped, table.name
    # What the inbox shows is the last two digits at most.
    rows = on_call.emit("list", {})["conversations"]
    assert sorted(r["phone"]["caller"] for r in rows) == ["…43", "…78"]
    assert "612345678" not in repr(rows)


def test_staff_can_switch_taking_calls_only_with_a_phone(line, counsellor):
    anna = counsellor("Anna")
    ack = anna.emit("take_calls", {"on": True})
    assert ack["error"] == {
        "code": "no_phone",
        "message": "Add the phone number calls are put through to first.",
    }
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == anna.user_id)
        .values(phone_endpoint=COUNSELLOR_PHONE)
    )
    db.session.commit()
    assert anna.emit("take_calls", {"on": True}) == {"ok": True, "takes_calls": True}
    caller = Caller(line)
    assert "<Enqueue" in caller.call().get_data(as_text=True)
    assert anna.emit("take_calls", {"on": False})["ok"]
    assert "<Gather" in Caller(line).call().get_data(as_text=True)


def test_counsellor_at_their_chat_limit_does_not_count_as_available(line, counsellor, visitor):
    user = factories.staff_user("Anna", max_chats=1)
    user.phone_endpoint = COUNSELLOR_PHONE
    user.takes_calls = True
    db.session.commit()
    anna = counsellor(user=user)
    v = visitor()
    v.say("Hallo", service="stopitnow")
    assert anna.claim(v.conversation().id)["ok"]
    assert "<Gather" in Caller(line).call().get_data(as_text=True)


# --- commands ------------------------------------------------------------------------------------


def test_service_and_staff_phone_commands(line, runner):
    result = runner.invoke(args=["service", "phone", "helpwanted", "+31800000002"])
    assert result.exit_code == 0, result.output
    assert "Helpwanted: +31800000002" in result.output
    taken = runner.invoke(args=["service", "phone", "helpwanted", SERVICE_NUMBER])
    assert taken.exit_code != 0 and "belongs to stopitnow" in taken.output
    bad = runner.invoke(args=["service", "phone", "helpwanted", "0800-1234"])
    assert bad.exit_code != 0 and "E.164" in bad.output
    user = factories.staff_user("Anna")
    result = runner.invoke(args=["staff", "phone", user.email, "client:anna"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert db.session.get(StaffUser, user.id).phone_endpoint == "client:anna"
    db.session.rollback()
    assert (
        db.session.scalar(select(Service.phone_number).where(Service.slug == "helpwanted"))
        == "+31800000002"
    )


def test_client_endpoint_is_dialled_as_a_browser_client(line, counsellor, twilio):
    user = factories.staff_user("Anna")
    user.phone_endpoint = "client:anna"
    user.takes_calls = True
    db.session.commit()
    anna = counsellor(user=user)
    caller = Caller(line)
    caller.call()
    anna.claim(conversation_of(caller).id)
    [redirect] = rest_posts(twilio, f"/Calls/{caller.sid}.json")
    assert "<Client>anna</Client>" in redirect["data"]["Twiml"]


def test_phone_webhooks_need_no_csrf_token_but_still_a_signature(database_url_for_tests, line):
    config = {**line.config, "WTF_CSRF_ENABLED": True}
    strict = create_app(config)
    caller = Caller(strict)
    assert caller.call().status_code == 200
    unsigned = strict.test_client().post("/phone/status", data={"CallSid": caller.sid})
    assert unsigned.status_code == 403
    db.session.rollback()
    assert db.session.execute(text("SELECT count(*) FROM phone_call")).scalar() == 1


def test_counsellors_phone_shows_the_services_number_not_the_callers(on_call, twilio):
    caller = Caller(on_call.app)
    caller.call()
    on_call.claim(conversation_of(caller).id)
    [redirect] = rest_posts(twilio, f"/Calls/{caller.sid}.json")
    assert f'callerId="{SERVICE_NUMBER}"' in redirect["data"]["Twiml"]
    assert NUMBER not in redirect["data"]["Twiml"]


def test_caller_hanging_up_while_the_counsellors_phone_rings_keeps_the_counsellor_on(on_call):
    caller = Caller(on_call.app)
    caller.call()
    on_call.claim(conversation_of(caller).id)
    caller.dial_ended("canceled")
    caller.status("completed", 12)
    assert db.session.get(StaffUser, on_call.user_id).takes_calls is True
    assert conversation_of(caller).state == "wrap_up"


def test_a_late_repeat_of_an_unanswered_dial_does_not_take_the_call_from_the_next_counsellor(
    on_call, counsellor
):
    caller = Caller(on_call.app)
    caller.call()
    conversation = conversation_of(caller)
    on_call.claim(conversation.id)
    first_attempt = caller.dial_action
    caller.dial_ended("no-answer")
    user = factories.staff_user("Bram")
    user.phone_endpoint = "+31600000010"
    db.session.commit()
    bram = counsellor(user=user)
    assert bram.claim(conversation.id)["ok"]
    caller.dial_ended("no-answer", action=first_attempt)  # Twilio retrying the first report
    conversation = conversation_of(caller)
    assert (conversation.state, conversation.assignee_id) == ("active", bram.user_id)


def test_twilio_refusing_a_callback_is_a_readable_error(line, counsellor, twilio):
    caller = ask_for_callback(line)
    conversation = conversation_of(caller)
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    anna = counsellor(user=user)
    anna.claim(conversation.id)
    twilio.fail_next(400, 21215, "Geo permissions not enabled.")
    ack = anna.emit("call_back", {"conversation_id": conversation.id})
    assert ack["error"] == {
        "code": "phone_unavailable",
        "message": "Twilio refused the request (21215).",
    }
    assert count(PhoneCall) == 1
    assert "callback_started" not in events_of(conversation_of(caller))


def test_a_caller_still_in_the_menu_can_be_accepted_and_put_through(line, on_call, twilio):
    on_call.emit("take_calls", {"on": False})
    caller = Caller(line)
    assert "<Gather" in caller.call().get_data(as_text=True)
    assert on_call.claim(conversation_of(caller).id)["ok"]
    assert len(rest_posts(twilio, f"/Calls/{caller.sid}.json")) == 1
    assert line_of(conversation_of(caller)).stage == "connected"


def test_a_caller_recording_a_voicemail_cannot_be_claimed_yet(line, counsellor):
    caller = Caller(line)
    caller.call()
    caller.press("1")
    ack = counsellor("Anna").claim(conversation_of(caller).id)
    assert ack["error"]["message"] == (
        "The caller is recording a voicemail; wait until they have finished."
    )
    assert conversation_of(caller).state == "queued"


def test_an_empty_recording_reported_after_the_hang_up_closes_the_call_as_abandoned(line):
    caller = Caller(line)
    caller.call()
    caller.press("1")
    caller.status("completed", 14)
    assert conversation_of(caller).state == "queued"
    caller.post("/phone/recording", RecordingDuration="0")
    conversation = conversation_of(caller)
    assert (conversation.state, conversation.abandoned) == ("closed", True)


def test_the_phone_line_keeps_its_hours_when_the_chat_is_switched_off(on_call):
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(chat_enabled=False)
    )
    db.session.commit()
    assert "<Enqueue" in Caller(on_call.app).call().get_data(as_text=True)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("call_back", {"conversation_id": "1"}),
        ("delete_voicemail", {"conversation_id": 1.5}),
        ("take_calls", {"on": "true"}),
        ("take_calls", {}),
    ],
)
def test_phone_staff_events_refuse_loose_payloads(line, counsellor, event, payload):
    ack = counsellor("Anna").emit(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"
