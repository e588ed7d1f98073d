"""Factories for rows and connections, so tests read as what a person does."""

import re
import secrets
import time
import uuid
from urllib.parse import urlsplit

import pyotp
from sqlalchemy import select

from helpline.auth import sessions, two_factor
from helpline.auth.models import StaffUser, hasher
from helpline.codes import keyed_hash
from helpline.commands import seed_services
from helpline.extensions import db, socketio
from helpline.inbox.models import (
    AuditEntry,
    Category,
    Conversation,
    ConversationCategory,
    Message,
    Service,
)
from helpline.timeutil import utcnow
from tests.servers import ENCRYPTION_KEY  # noqa: F401 (the test app's, too)

PASSWORD = "correct horse battery staple"
# Stop it Now!'s phone number in the tests (the `line` fixture).
SERVICE_NUMBER = "+31800000001"
_PASSWORD_HASH = hasher.hash(PASSWORD)
# Every staff account of the tests has two-factor sign-in set up with this secret (sealed with
# servers.ENCRYPTION_KEY, which the test app and the servers the tests start share).
TOTP_SECRET = "TESTSTAFFTOTPSECRETTESTSTAFFTOTP"


def services() -> None:
    seed_services()


def staff_user(
    name: str = "Anna", role: str = "counsellor", max_chats: int = 3, *, enrolled: bool = True
) -> StaffUser:
    """A staff account with PASSWORD (hashed once per test run, argon2 is slow on purpose) and
    two-factor sign-in set up with TOTP_SECRET, unless not `enrolled` yet."""
    user = StaffUser(
        email=f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.org",
        display_name=name,
        role=role,
        max_chats=max_chats,
        password_hash=_PASSWORD_HASH,
    )
    if enrolled:
        user.two_factor_enrolled_at = utcnow()
        two_factor.store_secret(user, TOTP_SECRET)
    db.session.add(user)
    db.session.commit()
    return user


_last_steps: dict[str, int] = {}


def totp_code(who: str, secret: str = TOTP_SECRET) -> str:
    """A TOTP code `who` has not used yet: the current one, else the next step's, which the
    server accepts as well (waiting for time to move on when both were used)."""
    totp = pyotp.TOTP(secret)
    step = max(totp.timecode(time.time()), _last_steps.get(who + secret, -1) + 1)
    while step > totp.timecode(time.time()) + 1:
        time.sleep(0.5)
    _last_steps[who + secret] = step
    return totp.at(step * totp.interval)


def sign_in(http, user: StaffUser, password: str = PASSWORD):
    """Sign in through the login page and its code step; the last response."""
    first = http.post("/login", data={"email": user.email, "password": password})
    if first.status_code != 302 or not first.headers["Location"].endswith("/login/code"):
        return first
    return http.post("/login/code", data={"code": totp_code(user.email)})


def signed_in_session(session, user: StaffUser) -> None:
    """Make `session` what a complete sign-in of `user` leaves, just now."""
    session["_user_id"] = user.get_id()
    session["_fresh"] = True
    sessions.begin(session)


def new_id() -> str:
    return uuid.uuid4().hex


def emit(client, namespace: str, event: str, payload):
    """Send an event and return its ack. The test's own reads start afresh afterwards."""
    db.session.rollback()
    return client.emit(event, payload, namespace=namespace, callback=True)


def received(client, namespace: str, event: str) -> list[dict]:
    """Payloads of `event` received since the last call, in order."""
    return [
        (packet["args"] if event == "message" else packet["args"][0])
        for packet in client.get_received(namespace)
        if packet["name"] == event
    ]


class Visitor:
    """An anonymous browser on /chat, holding its random browser token and conversation token."""

    NS = "/chat"

    def __init__(self, app, browser_token: str | None = None):
        self.app = app
        self.browser = browser_token or secrets.token_urlsafe(32)
        self.token: str | None = None
        self.sio = socketio.test_client(app, namespace=self.NS)
        self.inbox: list = []

    def emit(self, event: str, payload=None) -> dict:
        return emit(self.sio, self.NS, event, payload)

    def say(self, body: str, service: str = "helpwanted", client_msg_id: str | None = None) -> dict:
        payload = {"client_msg_id": client_msg_id or new_id(), "body": body}
        if self.token:
            payload["token"] = self.token
        else:
            payload.update(service=service, visitor=self.browser)
        ack = self.emit("message", payload)
        if ack.get("ok"):
            self.token = ack["token"]
        return ack

    def received(self, event: str = "message") -> list[dict]:
        return received(self.sio, self.NS, event)

    def drain(self) -> list[dict]:
        return self.sio.get_received(self.NS)

    def reconnect(self) -> None:
        self.close()
        self.sio = socketio.test_client(self.app, namespace=self.NS)

    def resume(self, last_seq: int = 0) -> dict:
        return self.emit("resume", {"token": self.token, "last_seq": last_seq})

    def close(self) -> None:
        if self.sio.is_connected(self.NS):
            self.sio.disconnect(namespace=self.NS)

    def conversation(self) -> Conversation:
        digest = keyed_hash("conversation", self.token)
        return db.session.scalar(select(Conversation).where(Conversation.token_hash == digest))


class Staff:
    """A signed-in staff member's inbox connection."""

    NS = "/inbox"

    def __init__(self, app, user: StaffUser):
        self.app = app
        self.user = user
        self.user_id = user.id
        self.http = app.test_client()
        with self.http.session_transaction() as session:
            signed_in_session(session, user)
        self.sio = socketio.test_client(app, namespace=self.NS, flask_test_client=self.http)

    def emit(self, event: str, payload=None) -> dict:
        return emit(self.sio, self.NS, event, payload)

    def claim(self, conversation_id: int) -> dict:
        return self.emit("claim", {"conversation_id": conversation_id})

    def say(self, conversation_id: int, body: str, *, note: bool = False, client_msg_id=None):
        return self.emit(
            "message",
            {
                "conversation_id": conversation_id,
                "client_msg_id": client_msg_id or new_id(),
                "body": body,
                "note": note,
            },
        )

    def close_conversation(
        self,
        conversation_id: int,
        summary: str = "Advies gegeven",
        categories: tuple[str, ...] = ("general_information",),
    ) -> dict:
        """Close after wrap-up with a summary and categories (by slug)."""
        return self.emit(
            "close",
            {
                "conversation_id": conversation_id,
                "summary": summary,
                "categories": [category_id(slug) for slug in categories],
            },
        )

    def received(self, event: str = "message") -> list[dict]:
        return received(self.sio, self.NS, event)

    def drain(self) -> list[dict]:
        return self.sio.get_received(self.NS)

    def reconnect(self) -> None:
        self.close()
        self.sio = socketio.test_client(self.app, namespace=self.NS, flask_test_client=self.http)

    def close(self) -> None:
        if self.sio.is_connected(self.NS):
            self.sio.disconnect(namespace=self.NS)


def category_id(slug: str) -> int:
    """The id of a seeded category, e.g. 'sextortion'."""
    return db.session.scalar(select(Category.id).where(Category.slug == slug))


def messages_of(conversation_id: int) -> list[Message]:
    return list(
        db.session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq)
        )
    )


def audit_actions(conversation_id: int) -> list[tuple[int, str]]:
    return [
        (entry.actor_id, entry.action)
        for entry in db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.conversation_id == conversation_id)
            .order_by(AuditEntry.id)
        )
    ]


def conversation(
    service: str = "helpwanted",
    *,
    channel: str = "chat",
    state: str = "queued",
    assignee: StaffUser | int | None = None,
    opened_at=None,
    said: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
) -> Conversation:
    """A conversation as it stands after its history, made directly: the visitor's messages
    `said` in order, and the category slugs it was closed with."""
    opened_at = opened_at or utcnow()
    made = Conversation(
        service_id=db.session.scalar(select(Service.id).where(Service.slug == service)),
        channel=channel,
        state=state,
        assignee_id=assignee.id if isinstance(assignee, StaffUser) else assignee,
        created_at=opened_at,
        waiting_since=opened_at if state == "queued" else None,
        closed_at=opened_at if state == "closed" else None,
        last_seq=len(said),
    )
    db.session.add(made)
    db.session.flush()
    for seq, body in enumerate(said, start=1):
        db.session.add(
            Message(
                conversation_id=made.id, seq=seq, sender="visitor", body=body, created_at=opened_at
            )
        )
    for slug in categories:
        db.session.add(ConversationCategory(conversation=made, category_id=category_id(slug)))
    db.session.commit()
    return made


ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "test-twilio-auth-token"


def twilio_signature(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(token).compute_signature(url, params)


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


class Caller:
    """Twilio reporting one call to the app: every request signed with the real validator."""

    BASE = "http://localhost"

    def __init__(self, app, number: str = "+31612345678", to: str = "+31800000001"):
        self.app = app
        self.http = app.test_client()
        self.number = number
        self.to = to
        self.sid = call_sid()

    def post(self, path: str, sid: str | None = None, **params):
        params = {"CallSid": sid or self.sid, "AccountSid": ACCOUNT_SID, **params}
        signature = twilio_signature(self.BASE + path, params)
        db.session.rollback()
        return self.http.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def call(self):
        return self.post(
            "/phone/voice",
            From=self.number,
            To=self.to,
            CallStatus="ringing",
            Direction="inbound",
        )

    def wait(self, seconds: int):
        return self.post("/phone/wait", QueueTime=str(seconds), QueueSid="QU" + "0" * 32)

    def leave_queue(self, result: str = "leave"):
        return self.post("/phone/queue", QueueResult=result, QueueTime="200")

    def press(self, digits: str):
        return self.post("/phone/gather", Digits=digits)

    def record(self, seconds: int = 42, recording_sid: str | None = None):
        recording_sid = recording_sid or "RE" + secrets.token_hex(16)
        return self.post(
            "/phone/recording",
            RecordingSid=recording_sid,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
            f"/Recordings/{recording_sid}",
            RecordingDuration=str(seconds),
        )

    def dial_ended(self, status: str = "completed", seconds: int = 0, action: str | None = None):
        """The Dial to a counsellor ended; `action` is the URL the app's TwiML gave for it."""
        return self.post(
            action or self.dial_action, DialCallStatus=status, DialCallDuration=str(seconds)
        )

    @property
    def dial_action(self) -> str:
        """The action URL of the last Dial this call was redirected to."""
        twilio = self.app.config["TWILIO_HTTP_CLIENT"]
        [*_, last] = twilio.calls_to(self.sid)
        action = re.search(r'<Dial action="([^"]+)"', last["data"]["Twiml"])[1]
        return urlsplit(action.replace("&amp;", "&"))._replace(scheme="", netloc="").geturl()

    def status(self, status: str, seconds: int | None = None, sid=None, parent=None):
        params = {"CallStatus": status}
        if seconds is not None:
            params["CallDuration"] = str(seconds)
        if parent:
            params["ParentCallSid"] = parent
        return self.post("/phone/status", sid=sid, **params)
