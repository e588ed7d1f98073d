"""Calls to Twilio's REST API: put a waiting call through, call back, delete a voicemail."""

import json
import logging
import secrets
import threading
from collections import deque
from urllib.parse import urlsplit

from flask import current_app
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from helpline.inbox.errors import InboxError


class PhoneUnavailable(InboxError):
    """Twilio refused or could not be reached; the message is safe to show to staff."""

    code = "phone_unavailable"
    status = 502
    default_message = "Twilio cannot be reached; try again in a moment."


class SimulatedTwilio(HttpClient):
    """Twilio's REST API without Twilio: answers like Twilio and remembers every request.

    Used when no Twilio account is configured (development), so a counsellor can accept and
    call back simulated calls; `flask phone simulate` reads the requests to play the call on.
    """

    def __init__(self, keep: int = 500):
        super().__init__(logger=logging.getLogger("helpline.phone"), is_async=False)
        self.requests: deque[dict] = deque(maxlen=keep)
        self._failures: deque[tuple[int, dict]] = deque()
        self._lock = threading.Lock()

    def fail_next(self, status: int, code: int, message: str) -> None:
        """Answer the next request with a Twilio error."""
        self._failures.append((status, {"code": code, "message": message, "status": status}))

    def request(
        self,
        method,
        uri,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ) -> Response:
        """Record the request and answer as Twilio would."""
        path = urlsplit(uri).path
        entry = {"method": method, "path": path, "data": dict(data or {}), "params": params}
        with self._lock:
            self.requests.append(entry)
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            return Response(failure[0], json.dumps(failure[1]))
        if method == "DELETE":
            return Response(204, "")
        sid = path.rsplit("/", 1)[-1].removesuffix(".json")
        if method == "POST" and path.endswith("/Calls.json"):
            sid = "CA" + secrets.token_hex(16)
            entry["sid"] = sid
            status = "queued"
        else:
            status = "in-progress"
        body = {
            "sid": sid,
            "status": status,
            "to": (data or {}).get("To"),
            "from": (data or {}).get("From"),
        }
        return Response(201 if status == "queued" else 200, json.dumps(body))

    def calls_to(self, call_sid: str) -> list[dict]:
        """Requests about one call (updates of it), oldest first."""
        with self._lock:
            return [r for r in self.requests if r["path"].endswith(f"/Calls/{call_sid}.json")]


def http_client() -> HttpClient:
    """The HTTP client of this app's Twilio requests: configured, simulated, or Twilio's own."""
    app = current_app._get_current_object()
    configured = app.config["TWILIO_HTTP_CLIENT"]
    if configured is not None:
        return configured
    key = "phone_simulator" if app.config["PHONE_SIMULATED"] else "twilio_http"
    if key not in app.extensions:
        app.extensions[key] = (
            SimulatedTwilio() if key == "phone_simulator" else TwilioHttpClient(timeout=10)
        )
    return app.extensions[key]


def client() -> Client:
    """A Twilio REST client with this installation's account."""
    config = current_app.config
    return Client(
        config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http_client()
    )


def redirect_call(call_sid: str, twiml: str) -> None:
    """Give a live call new instructions (e.g. put it through to a counsellor)."""
    try:
        client().calls(call_sid).update(twiml=twiml)
    except TwilioException as error:
        raise PhoneUnavailable(_reason(error)) from error


def start_call(to: str, from_: str, twiml: str, status_callback: str) -> str:
    """Start an outbound call; returns its CallSid."""
    try:
        call = client().calls.create(
            to=to,
            from_=from_,
            twiml=twiml,
            status_callback=status_callback,
            status_callback_event=["initiated", "ringing", "answered", "completed"],
        )
    except TwilioException as error:
        raise PhoneUnavailable(_reason(error)) from error
    return call.sid


def delete_recording(recording_sid: str) -> None:
    """Delete a voicemail at Twilio; one that is gone already counts as deleted."""
    try:
        client().recordings(recording_sid).delete()
    except TwilioException as error:
        if getattr(error, "status", None) == 404:
            return
        raise PhoneUnavailable(_reason(error)) from error


def _reason(error: TwilioException) -> str:
    status = getattr(error, "status", None)
    code = getattr(error, "code", None)
    if code == 21220 or status == 404:
        return "The call has already ended."
    if status is None:
        return "Twilio cannot be reached; try again in a moment."
    return f"Twilio refused the request ({code or status})."
