"""Twilio's webhooks (signed, or 403) and the voicemail player of the inbox."""

import functools
import io
import math
import struct
import wave
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import force_locale
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from helpline.extensions import csrf, db, limiter
from helpline.inbox.permissions import require
from helpline.phone import connecting, incoming, rest, schemas, simulator, status_reports
from helpline.phone import voicemail as voicemails

bp = Blueprint("phone", __name__, url_prefix="/phone")
csrf.exempt(bp)
limiter.exempt(bp)

SIMULATED_MEDIA_HOST = simulator.MEDIA_HOST


def signed_by_twilio() -> bool:
    """True when the request carries Twilio's signature over the URL it was sent to."""
    signature = request.headers.get(SIGNATURE_HEADER)
    token = current_app.config["TWILIO_AUTH_TOKEN"]
    if not signature or not token:
        return False
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    # Behind a proxy, request.url is the public URL only with PROXY_FIX set (docs/deploy.md).
    return RequestValidator(token).validate(request.url, request.form, signature, algorithm)


def webhook(schema: Schema, *, answers_twiml: bool = True) -> Callable:
    """Refuse unsigned requests (403) and malformed ones (400), then answer with TwiML."""

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def run():
            if not signed_by_twilio():
                abort(403, "The request is not signed by Twilio.")
            try:
                params = schema.load(request.form)
            except ValidationError as error:
                return jsonify(
                    {
                        "error": {
                            "code": "invalid",
                            "message": "The request is missing or has invalid parameters.",
                            "fields": error.messages,
                        }
                    }
                ), 400
            if params["account_sid"] != current_app.config["TWILIO_ACCOUNT_SID"]:
                abort(403, "The request is for another Twilio account.")
            answer = view(params)
            if not answers_twiml:
                return "", 204
            return Response(answer, mimetype="text/xml")

        return run

    return wrap


@bp.post("/voice")
@webhook(schemas.IncomingCall())
def voice(params: dict) -> str:
    return incoming.incoming_call(params["call_sid"], params["caller"], params["called"])


@bp.post("/wait")
@webhook(schemas.QueueWait())
def wait(params: dict) -> str:
    return incoming.keep_waiting(params["call_sid"], params["queue_time"])


@bp.post("/queue")
@webhook(schemas.QueueResult())
def queue(params: dict) -> str:
    return incoming.left_queue(params["call_sid"], params["result"])


@bp.post("/gather")
@webhook(schemas.MenuChoice())
def gather(params: dict) -> str:
    return incoming.menu_choice(params["call_sid"], params["digits"])


@bp.post("/recording")
@webhook(schemas.Recording())
def recording(params: dict) -> str:
    return voicemails.voicemail(
        params["call_sid"], params["recording_sid"], params["recording_url"], params["duration"]
    )


@bp.post("/dial")
@webhook(schemas.DialResult())
def dial(params: dict) -> str:
    return connecting.put_through_ended(
        params["call_sid"], params["status"], params["duration"], request.args.get("to", type=int)
    )


@bp.post("/status")
@webhook(schemas.CallStatus(), answers_twiml=False)
def status(params: dict) -> None:
    status_reports.call_status(
        params["call_sid"], params["status"], params["duration"], params["parent_sid"]
    )


@bp.get("/voicemail/<int:conversation_id>")
@login_required
def voicemail(conversation_id: int):
    """Play a voicemail: streamed from Twilio with the account's key, never stored here."""
    line = voicemails.voicemail_for_staff(conversation_id, current_user._get_current_object())
    url = line.recording_url
    db.session.rollback()
    host = urlsplit(url).hostname
    if host == SIMULATED_MEDIA_HOST and current_app.config["PHONE_SIMULATED"]:
        return _no_store(Response(_tone(line.recording_seconds or 1), mimetype="audio/wav"))
    if host not in current_app.config["TWILIO_MEDIA_HOSTS"]:
        abort(404)
    config = current_app.config
    try:
        upstream = requests.get(
            url + ".mp3",
            auth=(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"]),
            stream=True,
            timeout=10,
        )
    except requests.RequestException:
        abort(502, "Twilio cannot be reached; try again in a moment.")
    if upstream.status_code != 200:
        upstream.close()
        abort(404, "Twilio no longer has this voicemail.")
    return _no_store(
        Response(
            stream_with_context(upstream.iter_content(16384)),
            mimetype=upstream.headers.get("Content-Type", "audio/mpeg"),
        )
    )


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _tone(seconds: int) -> bytes:
    """A quiet beep per second, standing in for a simulated voicemail."""
    rate = 8000
    frames = bytearray()
    for index in range(rate * min(seconds, 30)):
        on = (index % rate) < rate // 5
        value = int(3000 * math.sin(2 * math.pi * 440 * index / rate)) if on else 0
        frames += struct.pack("<h", value)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


# --- development: the phone simulator (only without a Twilio account) ---------------------------


def _simulated_twilio() -> rest.SimulatedTwilio:
    if not current_app.config["PHONE_SIMULATED"]:
        abort(404)
    simulated = rest.http_client()
    if not isinstance(simulated, rest.SimulatedTwilio):
        abort(404)
    return simulated


@bp.get("/simulator/calls/<call_sid>")
def simulated_call(call_sid: str):
    """What the server asked the simulated Twilio to do with one call (the simulator polls)."""
    simulated = _simulated_twilio()
    if not signed_by_twilio():
        abort(403, "The request is not signed by Twilio.")
    return jsonify({"call_sid": call_sid, "requests": simulated.calls_to(call_sid)})


@bp.get("/simulator/callbacks")
def simulated_callbacks():
    """The calls the server started at the simulated Twilio (callbacks), oldest first."""
    simulated = _simulated_twilio()
    if not signed_by_twilio():
        abort(403, "The request is not signed by Twilio.")
    started = [
        {
            "sid": entry["sid"],
            "to": entry["data"].get("To"),
            "from": entry["data"].get("From"),
            "twiml": entry["data"].get("Twiml"),
            "status_callback": entry["data"].get("StatusCallback"),
        }
        for entry in simulated.requests.copy()
        if entry["method"] == "POST" and entry["path"].endswith("/Calls.json") and "sid" in entry
    ]
    return jsonify({"callbacks": started})


@bp.route("/simulator", methods=["GET", "POST"])
@login_required
def simulator_page():
    """Staff try the phone line in development: start a simulated call, follow its steps."""
    require(current_user, "simulate_calls")
    _simulated_twilio()
    app = current_app._get_current_object()
    numbers = simulator.service_numbers()
    if request.method == "POST":
        # The blueprint is exempt for Twilio's webhooks; this form is not.
        csrf.protect()
        twilio = simulator.twilio_for(app.config, request.host_url)
        callbacks = request.form.get("play") == "callbacks"
        try:
            form = (simulator.PageCallbacks() if callbacks else simulator.PageCall()).load(
                request.form
            )
        except ValidationError as error:
            abort(400, "; ".join(f"{k}: {' '.join(v)}" for k, v in error.messages.items()))
        if callbacks:
            call = simulator.SimulatedCallbacks(
                twilio,
                talk=form["talk"],
                answered=not form["unanswered"],
                count=1,
                give_up_after=300,
            )
            simulator.start(app, call)
            flash("Waiting up to 5 minutes for a callback started in the inbox.")
            return redirect(url_for("phone.simulator_page"))
        if form["service"] not in numbers:
            abort(400, "That service has no phone number.")
        call = simulator.SimulatedCall(
            twilio,
            numbers[form["service"]],
            simulator.WITHHELD if form["withheld"] else None,
            choice=form["choice"],
            talk=form["talk"],
            hang_up_after=form["hang_up_after"],
        )
        simulator.start(app, call)
        flash(f"Simulated call started: {call.title}.")
        return redirect(url_for("phone.simulator_page"))
    calls = list(reversed(simulator.played(app)))
    with force_locale("en"):
        return render_template(
            "phone/simulator.html",
            numbers=numbers,
            choices=simulator.CHOICE_LABELS,
            calls=calls,
            running=any(call.running for call in calls),
        )
