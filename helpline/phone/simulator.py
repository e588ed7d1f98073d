"""Calls played like Twilio would, against a running server: `flask phone simulate`.

Every request is signed with the server's auth token, so the webhooks run exactly as they do
with Twilio. What the server asks of Twilio's REST API (put a waiting call through, call
someone back) stays in its `rest.SimulatedTwilio`; the simulator reads it through the signed
development endpoints under /phone/simulator/.
"""

import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from urllib.parse import urljoin, urlsplit

import requests
from flask import Flask
from marshmallow import EXCLUDE, Schema, fields, pre_load, validate
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from helpline.extensions import db
from helpline.inbox.models import Service
from helpline.text import Text

DEFAULT_URL = "http://127.0.0.1:5000"
# A voicemail recorded here lives nowhere; the inbox plays a tone for this host instead.
MEDIA_HOST = "simulator.invalid"
# What the caller presses at the menu of voicemail and callback.
CHOICES = {"voicemail": "1", "callback": "2", "nothing": ""}
CHOICE_LABELS = {
    "voicemail": "1: leave a voicemail",
    "callback": "2: ask to be called back",
    "nothing": "nothing",
}
WITHHELD = "anonymous"
# A caller hearing the menu again after their choice gives up pressing after this many times.
MENU_TRIES = 2
# Simulated calls (and callbacks) a server keeps for its development page.
KEPT = 20


class SimulationFailed(Exception):
    """The server could not be reached or refused a request; the message says which."""


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def random_mobile() -> str:
    """A random Dutch mobile number, as a caller ID."""
    return "+316" + "".join(secrets.choice("0123456789") for _ in range(8))


def parse(twiml: str) -> ET.Element:
    """A TwiML document of the helpline's own server (trusted: it is the code under test)."""
    return ET.fromstring(twiml)  # noqa: S314


def service_numbers() -> dict[str, str]:
    """The phone number of each service that has one, by slug."""
    numbers = {
        service.slug: service.phone_number
        for service in db.session.scalars(
            select(Service).where(Service.phone_number.is_not(None)).order_by(Service.slug)
        )
    }
    # Ends the read at once: an open SQLite transaction would keep the server from writing.
    db.session.rollback()
    return numbers


class Twilio:
    """Twilio's side of the webhooks: signed requests to one server."""

    def __init__(self, url: str, account_sid: str, auth_token: str):
        self.url = url.rstrip("/") + "/"
        self.account_sid = account_sid
        self.validator = RequestValidator(auth_token)
        self.http = requests.Session()

    def absolute(self, target: str, base: str | None = None) -> str:
        """A TwiML URL resolved like Twilio does: relative to the document that named it."""
        return urljoin(base or self.url, target)

    def here(self, url: str) -> str:
        """The same path on this server: a callback URL may name the site's public address."""
        parts = urlsplit(url)
        return urljoin(self.url, parts.path + (f"?{parts.query}" if parts.query else ""))

    def post(self, target: str, params: dict, base: str | None = None) -> str:
        """POST a webhook; returns the TwiML (or nothing) the server answered."""
        url = self.absolute(target, base)
        form = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01"}
        form.update({key: str(value) for key, value in params.items()})
        return self._send("POST", url, form).text

    def get_json(self, path: str) -> dict:
        """GET one of the server's development endpoints, signed like a webhook."""
        return self._send("GET", self.absolute(path), {}).json()

    def _send(self, method: str, url: str, form: dict) -> requests.Response:
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, form)}
        try:
            response = self.http.request(
                method, url, data=form or None, headers=headers, timeout=15
            )
        except requests.RequestException as error:
            raise SimulationFailed(f"No server answers at {self.url} ({error}).") from error
        if response.status_code == 404 and "/simulator/" in url:
            raise SimulationFailed(
                f"{self.url} is not simulating the phone line (a Twilio account is configured)."
            )
        if response.status_code == 403:
            raise SimulationFailed(
                f"{url} refused the signature: run the simulator with the server's configuration "
                "(the same SECRET_KEY, or TWILIO_AUTH_TOKEN)."
            )
        if response.status_code >= 400:
            title = re.search(r"<title>(.*?)</title>", response.text, re.S)
            said = title.group(1).strip() if title else response.text[:300]
            raise SimulationFailed(f"{method} {url} answered {response.status_code}: {said}")
        return response


class Played:
    """What a simulated call did, step by step, for the console and the development page."""

    title = "Call"

    def __init__(self, tell=None):
        self.tell = tell
        self.steps: list[str] = []
        self.outcome: str | None = None
        self.running = False
        self._started = time.monotonic()

    def step(self, text: str) -> None:
        """Note a step, with the seconds since the call began, and tell it to the console."""
        line = f"{time.monotonic() - self._started:6.1f}s  {text}"
        self.steps.append(line)
        if self.tell:
            self.tell(line)

    def elapsed(self) -> int:
        """Whole seconds since the call began."""
        return int(time.monotonic() - self._started)

    def run(self) -> None:
        """Play to the end, keeping a failure as the last step (for a background thread)."""
        try:
            self.play()
        except SimulationFailed as error:
            self.outcome = "failed"
            self.step(f"Stopped: {error}")
        except Exception as error:  # a background thread would otherwise die without a word
            self.outcome = "failed"
            self.step(f"Stopped by an error: {error!r}")
        finally:
            self.running = False

    def play(self) -> str:
        """Play to the end; returns how it ended."""
        raise NotImplementedError


class SimulatedCall(Played):
    """One incoming call to a service's number, followed through its TwiML like Twilio would."""

    def __init__(
        self,
        twilio: Twilio,
        to: str,
        caller: str | None = None,
        *,
        choice: str = "voicemail",
        talk: int = 20,
        hang_up_after: int | None = None,
        message_seconds: int = 8,
        poll: float | None = None,
        tell=None,
    ):
        super().__init__(tell)
        self.twilio = twilio
        self.to = to
        self.caller = caller or random_mobile()
        self.choice = choice
        self.talk = talk
        self.hang_up_after = hang_up_after
        self.message_seconds = message_seconds
        # Seconds between wait requests; None: as long as the wait TwiML pauses (as Twilio).
        self.poll = poll
        self.call_sid = new_sid("CA")
        self.queue_sid = new_sid("QU")
        self.title = f"Call from {self.caller} to {to}"
        self._redirects_seen = 0
        self._menus = 0
        self._ended = False

    def play(self) -> str:
        """Play the call to its end; returns how it ended."""
        self.running = True
        self.step(f"{self.caller} calls {self.to} (call {self.call_sid}).")
        document = self._post(
            "/phone/voice",
            From=self.caller,
            To=self.to,
            Caller=self.caller,
            Called=self.to,
            CallStatus="ringing",
            Direction="inbound",
        )
        url = self.twilio.absolute("/phone/voice")
        while document is not None and not self._ended:
            document, url = self._perform(document, url)
        if not self._ended:
            self._hang_up("The TwiML has run out: Twilio ends the call.")
        self.running = False
        return self.outcome or "ended"

    # --- TwiML ---------------------------------------------------------------------------------

    def _perform(self, document: ET.Element, url: str) -> tuple[ET.Element | None, str]:
        """Run the verbs of one TwiML document; returns the next document and its URL."""
        for verb in document:
            if verb.tag == "Say":
                self._hear(verb.text)
            elif verb.tag == "Play":
                self.step("The caller hears a recording.")
            elif verb.tag == "Enqueue":
                return self._wait_in_queue(verb, url)
            elif verb.tag == "Gather":
                for say in verb.iter("Say"):
                    self._hear(say.text)
                self._menus += 1
                digits = CHOICES[self.choice] if self._menus <= MENU_TRIES else ""
                if not digits:
                    self.step("The caller presses nothing.")
                    self.outcome = "pressed nothing at the menu"
                    continue
                self.step(f"The caller presses {digits} ({self.choice}).")
                self.outcome = f"pressed {digits} ({self.choice})"
                action = self._action(verb, url)
                return self._post(action, base=url, Digits=digits, FinishedOnKey=""), action
            elif verb.tag == "Record":
                seconds = self.message_seconds
                self.step(f"The caller leaves a message of {seconds} seconds, then presses #.")
                recording_sid = new_sid("RE")
                self.outcome = "left a voicemail"
                action = self._action(verb, url)
                answer = self._post(
                    action,
                    base=url,
                    RecordingSid=recording_sid,
                    RecordingUrl=f"https://{MEDIA_HOST}/Accounts/{self.twilio.account_sid}"
                    f"/Recordings/{recording_sid}",
                    RecordingDuration=seconds,
                    RecordingStatus="completed",
                    Digits="#",
                )
                return answer, action
            elif verb.tag == "Dial":
                return self._put_through(verb, url)
            elif verb.tag == "Redirect":
                target = self.twilio.absolute((verb.text or "").strip(), url)
                return self._post(target), target
            elif verb.tag in ("Hangup", "Reject"):
                self._hang_up("The line hangs up.")
                return None, url
            elif verb.tag == "Leave":
                continue
            else:
                self.step(f"(The simulator skips <{verb.tag}>.)")
        return None, url

    def _wait_in_queue(self, enqueue: ET.Element, url: str) -> tuple[ET.Element | None, str]:
        """Twilio's queue: the wait URL again and again, until put through, left or hung up."""
        action = self._action(enqueue, url)
        wait_url = self.twilio.absolute(enqueue.get("waitUrl") or "", url)
        self.step(f"The caller waits in the queue '{(enqueue.text or '').strip()}'.")
        entered = time.monotonic()
        next_wait = entered
        said: str | None = None
        while True:
            waited = int(time.monotonic() - entered)
            if self.hang_up_after is not None and waited >= self.hang_up_after:
                self.step(f"The caller hangs up after waiting {waited} s.")
                self.outcome = f"hung up after waiting {waited} s"
                self._post(action, base=url, QueueResult="hangup", QueueTime=waited)
                self._hang_up()
                return None, url
            redirect = self._redirected()
            if redirect is not None:
                self.step("A counsellor accepted the call: Twilio redirects it.")
                self._post(action, base=url, QueueResult="redirected", QueueTime=waited)
                return redirect, self.twilio.url
            if self._ended:
                return None, url
            if time.monotonic() >= next_wait:
                music = self._post(
                    wait_url,
                    QueueSid=self.queue_sid,
                    QueueTime=waited,
                    QueuePosition=1,
                    CurrentQueueSize=1,
                    AvgQueueTime=waited,
                )
                if music.find("Leave") is not None:
                    self.step(f"The line takes the caller out of the queue after {waited} s.")
                    answer = self._post(action, base=url, QueueResult="leave", QueueTime=waited)
                    return answer, action
                text = " ".join((say.text or "").strip() for say in music.iter("Say"))
                if text and text != said:
                    self._hear(text)
                said = text or said
                pause = sum(int(p.get("length", "1")) for p in music.iter("Pause")) or 1
                next_wait = time.monotonic() + (self.poll if self.poll is not None else pause)
            time.sleep(min(1.0, self.poll or 1.0))

    def _put_through(self, dial: ET.Element, url: str) -> tuple[ET.Element | None, str]:
        endpoints = [(child.text or "").strip() for child in dial if child.tag in DIALLED]
        self.step(f"The caller is put through to {', '.join(endpoints) or 'nobody'}.")
        time.sleep(self.talk)
        self.step(f"The talk with the counsellor ends after {self.talk} s.")
        self.outcome = f"talked {self.talk} s with {', '.join(endpoints)}"
        if dial.get("action") is None:
            return None, url
        action = self._action(dial, url)
        answer = self._post(
            action,
            base=url,
            DialCallStatus="completed",
            DialCallDuration=self.talk,
            DialCallSid=new_sid("CA"),
        )
        return answer, action

    # --- requests ------------------------------------------------------------------------------

    def _post(self, target: str, base: str | None = None, **params) -> ET.Element:
        answer = self.twilio.post(target, {"CallSid": self.call_sid, **params}, base)
        if not answer.strip():
            return ET.Element("Response")
        try:
            return parse(answer)
        except ET.ParseError as error:
            raise SimulationFailed(f"{target} answered no TwiML: {answer[:300]}") from error

    def _action(self, verb: ET.Element, url: str) -> str:
        # Twilio posts to the current document's own URL when a verb has no action.
        return self.twilio.absolute(verb.get("action") or url, url)

    def _redirected(self) -> ET.Element | None:
        """New instructions the server gave this call through the REST API, if any."""
        made = self.twilio.get_json(f"/phone/simulator/calls/{self.call_sid}")["requests"]
        for request in made[self._redirects_seen :]:
            self._redirects_seen += 1
            data = request.get("data") or {}
            if data.get("Status") in ("completed", "canceled"):
                self._hang_up("The line ends the call.")
                return None
            if data.get("Twiml"):
                document = parse(data["Twiml"])
                for verb in document.iter():
                    action = verb.get("action")
                    if action and not urlsplit(action).scheme:
                        # Twilio refuses such an update (error 15004); the simulator goes on.
                        self.step(
                            f"Warning: Twilio would refuse these instructions (error 15004): "
                            f"<{verb.tag}> has the relative action URL {action}."
                        )
                return document
        return None

    def _hear(self, text: str | None) -> None:
        if text and text.strip():
            self.step(f'The caller hears: "{text.strip()}"')

    def _hang_up(self, reason: str | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        if reason:
            self.step(reason)
        seconds = max(1, self.elapsed())
        self._post("/phone/status", CallStatus="completed", CallDuration=seconds)
        self.step(f"The call is over after {seconds} s.")
        self.outcome = self.outcome or "ended"


DIALLED = ("Number", "Client", "Sip")


class SimulatedCallbacks(Played):
    """Twilio playing the callbacks counsellors start: their phone rings, then the caller's."""

    title = "Callbacks"

    def __init__(
        self,
        twilio: Twilio,
        *,
        talk: int = 20,
        answered: bool = True,
        count: int | None = None,
        give_up_after: float | None = None,
        poll: float = 1.0,
        tell=None,
    ):
        super().__init__(tell)
        self.twilio = twilio
        self.talk = talk
        self.answered = answered
        self.count = count
        self.give_up_after = give_up_after
        self.poll = poll
        self.played = 0
        self._seen: set[str] = set()
        self._redirected_urls: set[str] = set()

    def play(self) -> str:
        """Wait for callbacks and play each, until `count` are played or time runs out."""
        self.running = True
        # Callbacks started before the simulator are history, not calls to play.
        self._seen = {c["sid"] for c in self._started_calls()}
        self.step("Waiting for a counsellor to call someone back…")
        deadline = None if self.give_up_after is None else time.monotonic() + self.give_up_after
        while self.count is None or self.played < self.count:
            fresh = [c for c in self._started_calls() if c["sid"] not in self._seen]
            for started in fresh:
                self._seen.add(started["sid"])
                self.play_one(started)
                self.played += 1
                if self.count is not None and self.played >= self.count:
                    break
            if deadline is not None and time.monotonic() >= deadline:
                self.step("No more callbacks to wait for.")
                break
            time.sleep(self.poll)
        self.running = False
        self.outcome = self.outcome or f"played {self.played} callback(s)"
        return self.outcome

    def play_one(self, started: dict) -> None:
        """The counsellor's leg answers, hears its TwiML and dials the caller's leg."""
        staff_sid = started["sid"]
        status_url = started.get("status_callback")
        leg = {"From": started.get("from") or "", "To": started.get("to") or ""}
        self.step(f"The line rings the counsellor at {leg['To']} (call {staff_sid}).")
        began = time.monotonic()
        for status in ("initiated", "ringing", "in-progress"):
            self._status(status_url, staff_sid, status, Direction="outbound-api", **leg)
        self.step("The counsellor answers.")
        document = parse(started.get("twiml") or "<Response/>")
        for verb in document:
            if verb.tag == "Say" and (verb.text or "").strip():
                self.step(f'The counsellor hears: "{verb.text.strip()}"')
            elif verb.tag == "Dial":
                for number in verb:
                    if number.tag in DIALLED:
                        self._ring_caller(number, staff_sid, verb.get("callerId") or leg["From"])
        seconds = max(1, int(time.monotonic() - began))
        self._status(
            status_url,
            staff_sid,
            "completed",
            Direction="outbound-api",
            CallDuration=seconds,
            **leg,
        )
        self.step(f"The counsellor's call is over after {seconds} s.")

    def _ring_caller(self, number: ET.Element, parent_sid: str, caller_id: str) -> None:
        to = (number.text or "").strip()
        status_url = number.get("statusCallback")
        sid = new_sid("CA")
        leg = {"From": caller_id, "To": to, "ParentCallSid": parent_sid}
        self.step(f"The line rings the caller at {to}, from {caller_id}.")
        for status in ("initiated", "ringing"):
            self._status(status_url, sid, status, Direction="outbound-dial", **leg)
        if not self.answered:
            time.sleep(min(self.talk, 3))
            self._status(
                status_url, sid, "no-answer", Direction="outbound-dial", CallDuration=0, **leg
            )
            self.step("The caller does not answer.")
            self.outcome = "the caller did not answer"
            return
        self._status(status_url, sid, "in-progress", Direction="outbound-dial", **leg)
        self.step("The caller answers.")
        time.sleep(self.talk)
        self._status(
            status_url, sid, "completed", Direction="outbound-dial", CallDuration=self.talk, **leg
        )
        self.step(f"The counsellor and the caller talked {self.talk} s.")
        self.outcome = f"called back, talked {self.talk} s"

    def _status(self, url: str | None, sid: str, status: str, **params) -> None:
        if not url:
            return
        here = self.twilio.here(url)
        if here != url and url not in self._redirected_urls:
            self._redirected_urls.add(url)
            self.step(f"(Twilio would report to {url}, from PUBLIC_URL; this run uses {here}.)")
        self.twilio.post(here, {"CallSid": sid, "CallStatus": status, **params})

    def _started_calls(self) -> list[dict]:
        return self.twilio.get_json("/phone/simulator/callbacks")["callbacks"]


# --- the development page -----------------------------------------------------------------------


class PageForm(Schema):
    """A form of the development page: an empty field counts as not filled in."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _drop_empty(self, form, **kwargs) -> dict:
        return {key: value for key, value in form.items() if value != ""}


class PageCall(PageForm):
    """The development page's form of a simulated call."""

    service = Text(required=True)
    withheld = fields.Boolean(load_default=False)
    choice = fields.String(load_default="voicemail", validate=validate.OneOf(list(CHOICES)))
    talk = fields.Integer(load_default=20, validate=validate.Range(min=1, max=600))
    hang_up_after = fields.Integer(load_default=None, validate=validate.Range(min=0, max=600))


class PageCallbacks(PageForm):
    """The development page's form of answering the next callback."""

    talk = fields.Integer(load_default=20, validate=validate.Range(min=1, max=600))
    unanswered = fields.Boolean(load_default=False)


def played(app: Flask) -> deque:
    """The simulated calls this server process started for its development page, newest last."""
    return app.extensions.setdefault("phone_simulated_calls", deque(maxlen=KEPT))


def start(app: Flask, call: Played) -> None:
    """Play a simulated call in the background of this server process."""
    call.running = True
    played(app).append(call)
    threading.Thread(target=call.run, name="phone-simulator", daemon=True).start()


def twilio_for(config, url: str) -> Twilio:
    """Twilio's side of this installation's webhooks, signed with its (simulated) auth token."""
    return Twilio(url, config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"])
