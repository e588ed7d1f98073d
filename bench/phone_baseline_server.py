"""The baseline of bench/phone_webhooks.py: a bare Flask app answering Twilio's webhooks.

Served exactly like the app (`gunicorn -c gunicorn.conf.py`, the same worker class), it checks
Twilio's signature as the helpline does and answers with fixed TwiML: no database, no Redis,
no broadcast. The difference in latency is what the helpline's own work adds.
"""

import os

from flask import Flask, Response, abort, request
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

ENQUEUE = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Say language="nl-NL" voice="Polly.Lotte">Welkom bij Stop it Now. Je belt anoniem. '
    "Een moment geduld, we verbinden je zo met een hulpverlener.</Say>"
    '<Enqueue action="/phone/queue" method="POST" waitUrl="/phone/wait">stopitnow</Enqueue>'
    "</Response>"
)

app = Flask(__name__)


def signed_by_twilio() -> bool:
    """The helpline's check, without its configuration lookups."""
    signature = request.headers.get(SIGNATURE_HEADER)
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    return bool(signature) and validator.validate(request.url, request.form, signature)


@app.post("/phone/voice")
def voice():
    if not signed_by_twilio():
        abort(403)
    return Response(ENQUEUE, mimetype="text/xml")


@app.post("/phone/status")
def status():
    if not signed_by_twilio():
        abort(403)
    return "", 204


@app.get("/healthz")
def healthz():
    return {"ok": True}
