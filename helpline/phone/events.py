"""Staff socket events of the phone line, on the inbox namespace. See docs/protocol.md."""

from flask_login import current_user

from helpline.extensions import socketio

# connecting and details are imported for their receivers of the inbox's claiming, claimed and
# summarising signals.
from helpline.phone import callbacks, connecting, details, schemas, voicemail  # noqa: F401
from helpline.phone import inbox as phone_inbox
from helpline.sockets import acked

NS = "/inbox"


def user():
    return current_user._get_current_object()


@socketio.on("call_back", namespace=NS)
@acked(schemas.StaffCallRef(), staff=True)
def call_back(payload: dict) -> dict:
    call = callbacks.call_back(payload["conversation_id"], user())
    return {"call_sid": call.call_sid}


@socketio.on("delete_voicemail", namespace=NS)
@acked(schemas.StaffCallRef(), staff=True)
def delete_voicemail(payload: dict) -> dict:
    voicemail.delete_voicemail(payload["conversation_id"], user())
    return {}


@socketio.on("take_calls", namespace=NS)
@acked(schemas.TakeCalls(), staff=True)
def take_calls(payload: dict) -> dict:
    phone_inbox.set_takes_calls(user(), payload["on"])
    return {"takes_calls": payload["on"]}
