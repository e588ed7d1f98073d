"""`flask phone simulate` and the staff simulator page, played against a real server process.

A real gunicorn server without a Twilio account (so its REST calls go to its SimulatedTwilio),
real PostgreSQL, signed webhooks, and counsellors on real python-socketio clients.
"""

import re
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from helpline.config import finalise, from_environment
from helpline.extensions import db
from helpline.inbox.models import Conversation, Service
from helpline.phone import simulator
from helpline.phone.models import PhoneCall, PhoneLine
from tests import factories
from tests.servers import Server, flask_command
from tests.test_two_servers import Peer

SECRET = "phone-simulator-secret"
SERVICE_NUMBER = "+31800000001"
COUNSELLOR_PHONE = "+31600000001"
on_postgresql = pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)


@pytest.fixture
def server_env(database_url_for_tests):
    return {
        "DATABASE_URL": database_url_for_tests,
        "SECRET_KEY": SECRET,
        "SOCKETIO_CHANNEL": f"phone-simulator-{uuid.uuid4().hex}",
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "",
        "ACCESS_LOG": "-",
    }


@pytest.fixture
def server(app, server_env):
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number=SERVICE_NUMBER)
    )
    db.session.commit()
    with Server(server_env) as running:
        yield running


@pytest.fixture
def twilio(server, server_env):
    """Twilio's side of the server's webhooks, with the token the server derives for itself."""
    config = from_environment("")
    config.update(server_env, SQLALCHEMY_DATABASE_URI=server_env["DATABASE_URL"])
    finalise(config)
    return simulator.twilio_for(config, server.url)


def counsellor_with_phone() -> str:
    user = factories.staff_user("Anna")
    user.phone_endpoint = COUNSELLOR_PHONE
    db.session.commit()
    return user.email


def signed_in(url: str, email: str) -> requests.Session:
    session = requests.Session()
    token = csrf_token(session, url + "/login")
    session.post(
        f"{url}/login",
        data={"email": email, "password": factories.PASSWORD, "csrf_token": token},
        allow_redirects=False,
    ).raise_for_status()
    session.post(
        f"{url}/login/code",
        data={"code": factories.totp_code(email), "csrf_token": token},
        allow_redirects=False,
    ).raise_for_status()
    return session


def csrf_token(session: requests.Session, page: str) -> str:
    html = session.get(page, timeout=10).text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def inbox(url: str, session: requests.Session) -> Peer:
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    return Peer(url, "/inbox", {"Cookie": cookie})


def in_background(played: simulator.Played) -> threading.Thread:
    thread = threading.Thread(target=played.run, daemon=True)
    thread.start()
    return thread


def phone_rows(call_sid: str) -> tuple[PhoneCall, PhoneLine]:
    db.session.rollback()
    call = db.session.scalar(select(PhoneCall).where(PhoneCall.call_sid == call_sid))
    line = db.session.scalar(
        select(PhoneLine).where(PhoneLine.conversation_id == call.conversation_id)
    )
    return call, line


@on_postgresql
@pytest.mark.slow
def test_waiting_caller_is_put_through_when_a_counsellor_claims_the_call(app, server, twilio):
    counsellor = inbox(server.url, signed_in(server.url, counsellor_with_phone()))
    assert counsellor.call("take_calls", {"on": True})["ok"]
    call = simulator.SimulatedCall(twilio, SERVICE_NUMBER, talk=1, poll=0.5)
    playing = in_background(call)

    ringing = counsellor.wait_for(lambda e, p: e == "new_conversation")[0]
    claimed = counsellor.call("claim", {"conversation_id": ringing["id"]})
    assert claimed["ok"], claimed
    playing.join(timeout=15)
    counsellor.close()

    assert not playing.is_alive()
    assert call.outcome == f"talked 1 s with {COUNSELLOR_PHONE}", call.steps
    assert any(f"put through to {COUNSELLOR_PHONE}" in step for step in call.steps)
    inbound, line = phone_rows(call.call_sid)
    assert (inbound.talk_seconds, inbound.status, line.stage) == (1, "completed", "ended")
    assert "POST /phone/queue 200" in server.log()  # QueueResult=redirected reached the server


@on_postgresql
@pytest.mark.slow
def test_caller_out_of_hours_leaves_a_voicemail_with_flask_phone_simulate(app, server, server_env):
    flask_command(["service", "hours", "stopitnow", "never"], server_env)

    printed = flask_command(
        [
            "phone",
            "simulate",
            "--service",
            "stopitnow",
            "--from",
            "+31612345678",
            "--choice",
            "voicemail",
            "--url",
            server.url,
        ],
        server_env,
    )

    assert "Je belt buiten onze openingstijden" in printed
    assert "The caller presses 1 (voicemail)." in printed
    assert "Outcome: left a voicemail." in printed
    db.session.rollback()
    line = db.session.scalar(select(PhoneLine).order_by(PhoneLine.id.desc()))
    assert line.stage == "voicemail"
    assert line.recording_url.startswith(f"https://{simulator.MEDIA_HOST}/")
    assert line.masked_number == "…78"
    # The inbox plays the simulated voicemail as a tone.
    staff = signed_in(server.url, counsellor_with_phone())
    played = staff.get(f"{server.url}/phone/voicemail/{line.conversation_id}", timeout=10)
    assert (played.status_code, played.headers["Content-Type"]) == (200, "audio/wav")


@on_postgresql
@pytest.mark.slow
def test_callback_from_the_inbox_rings_the_counsellor_then_the_caller(app, server, twilio):
    db.session.execute(update(Service).values(opening_hours="never"))
    db.session.commit()
    call = simulator.SimulatedCall(twilio, SERVICE_NUMBER, "+31612345678", choice="callback")
    assert call.play() == "pressed 2 (callback)"
    conversation_id = phone_rows(call.call_sid)[0].conversation_id
    counsellor = inbox(server.url, signed_in(server.url, counsellor_with_phone()))
    callbacks = simulator.SimulatedCallbacks(twilio, talk=1, count=1, give_up_after=15, poll=0.3)
    answering = in_background(callbacks)
    while not callbacks.steps:
        time.sleep(0.05)

    started = counsellor.call("call_back", {"conversation_id": conversation_id})
    assert started["ok"], started
    answering.join(timeout=15)
    counsellor.close()

    assert callbacks.outcome == "called back, talked 1 s", callbacks.steps
    db.session.rollback()
    legs = db.session.scalars(
        select(PhoneCall)
        .where(PhoneCall.conversation_id == conversation_id, PhoneCall.direction == "callback")
        .order_by(PhoneCall.id)
    ).all()
    assert [(leg.leg, leg.status) for leg in legs] == [
        ("staff", "completed"),
        ("caller", "completed"),
    ]
    assert legs[1].parent_sid == legs[0].call_sid
    assert legs[1].duration_seconds == 1 and legs[1].answered_at is not None


@on_postgresql
@pytest.mark.slow
def test_simulator_page_needs_sign_in_and_plays_a_call_in_the_background(app, server):
    db.session.execute(update(Service).values(opening_hours="never"))
    db.session.commit()
    page = f"{server.url}/phone/simulator"
    assert requests.get(page, allow_redirects=False, timeout=10).status_code == 302
    unsigned = requests.get(f"{server.url}/phone/simulator/calls/CA{'0' * 32}", timeout=10)
    assert unsigned.status_code == 403

    staff = signed_in(server.url, counsellor_with_phone())
    token = csrf_token(staff, page)
    form = {"service": "stopitnow", "choice": "voicemail", "talk": "5", "hang_up_after": ""}
    assert staff.post(page, data=form, allow_redirects=False, timeout=10).status_code == 400
    started = staff.post(page, data={**form, "csrf_token": token}, allow_redirects=False)
    assert started.status_code == 302

    deadline = time.monotonic() + 10
    while "left a voicemail" not in (shown := staff.get(page, timeout=10).text):
        assert time.monotonic() < deadline, shown
        time.sleep(0.3)
    assert "The caller presses 1 (voicemail)." in shown
    db.session.rollback()
    assert db.session.scalar(select(Conversation.channel)) == "phone"


def test_simulator_is_absent_when_a_twilio_account_is_configured(app):
    staff = factories.Staff(app, factories.staff_user("Anna"))
    assert not app.config["PHONE_SIMULATED"]
    assert staff.http.get("/phone/simulator").status_code == 404
    path = f"/phone/simulator/calls/CA{'0' * 32}"
    signature = factories.twilio_signature("http://localhost" + path, {})
    signed = staff.http.get(path, headers={"X-Twilio-Signature": signature})
    assert signed.status_code == 404
    staff.close()


@on_postgresql
@pytest.mark.slow
def test_a_webhook_server_of_two_workers_rings_the_inbox_of_another_server(
    app, server_env, redis_url
):
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number=SERVICE_NUMBER)
    )
    db.session.commit()
    env = {**server_env, "REDIS_URL": redis_url}
    with Server(env) as sockets, Server({**env, "GUNICORN_WORKERS": "2"}) as webhooks:
        children = Path(f"/proc/{webhooks.process.pid}/task/{webhooks.process.pid}/children")
        assert len(children.read_text().split()) == 2  # gunicorn forks its workers at start
        counsellor = inbox(sockets.url, signed_in(sockets.url, counsellor_with_phone()))
        assert counsellor.call("take_calls", {"on": True})["ok"]
        config = from_environment("")
        config.update(env, SQLALCHEMY_DATABASE_URI=env["DATABASE_URL"])
        finalise(config)
        twilio = simulator.twilio_for(config, webhooks.url)
        calls = [
            simulator.SimulatedCall(twilio, SERVICE_NUMBER, hang_up_after=1, poll=0.3)
            for _ in range(4)
        ]
        for played in [in_background(call) for call in calls]:
            played.join(timeout=20)

        conversations = {phone_rows(call.call_sid)[0].conversation_id for call in calls}

        def seen(event: str, state: str | None = None) -> dict[int, dict]:
            return {
                p["id"]: p
                for e, p in list(counsellor.events)
                if e == event and p["id"] in conversations and p.get("state", state) == state
            }

        deadline = time.monotonic() + 10
        while len(seen("conversation", "closed")) < len(calls) and time.monotonic() < deadline:
            time.sleep(0.05)
        rang, ended = seen("new_conversation"), seen("conversation", "closed")
        counsellor.close()

    assert [call.outcome for call in calls] == ["hung up after waiting 1 s"] * len(calls)
    assert set(rang) == set(ended) == conversations
    assert [row["phone"]["stage"] for row in ended.values()] == ["ended"] * len(calls)
