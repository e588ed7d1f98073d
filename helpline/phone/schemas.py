"""The parameters Twilio sends to each webhook, validated before anything is read or stored."""

from marshmallow import EXCLUDE, Schema, fields, validate

from helpline.inbox.schemas import MAX_ID
from helpline.phone.models import STATUS_RANK
from helpline.text import Text

SID = {
    "call": r"^CA[0-9a-f]{32}$",
    "account": r"^AC[0-9a-f]{32}$",
    "recording": r"^RE[0-9a-f]{32}$",
}


def _sid(kind: str, **options) -> fields.String:
    return fields.String(
        validate=validate.Regexp(SID[kind], error=f"Not a Twilio {kind} SID."), **options
    )


class CallRequest(Schema):
    """What every call webhook carries."""

    class Meta:
        unknown = EXCLUDE

    call_sid = _sid("call", data_key="CallSid", required=True)
    account_sid = _sid("account", data_key="AccountSid", required=True)


class IncomingCall(CallRequest):
    caller = Text(data_key="From", load_default="", validate=validate.Length(max=64))
    called = Text(data_key="To", required=True, validate=validate.Length(min=1, max=64))


class CallStatus(CallRequest):
    status = fields.String(
        data_key="CallStatus", required=True, validate=validate.OneOf(list(STATUS_RANK))
    )
    duration = fields.Integer(
        data_key="CallDuration", load_default=None, validate=validate.Range(min=0, max=MAX_ID)
    )
    parent_sid = _sid("call", data_key="ParentCallSid", load_default=None)


class QueueWait(CallRequest):
    queue_time = fields.Integer(
        data_key="QueueTime", load_default=0, validate=validate.Range(min=0, max=MAX_ID)
    )


class QueueResult(CallRequest):
    result = Text(data_key="QueueResult", required=True, validate=validate.Length(max=40))


class MenuChoice(CallRequest):
    digits = fields.String(
        data_key="Digits", load_default="", validate=validate.Regexp(r"^[0-9*#]{0,10}$")
    )


class Recording(CallRequest):
    recording_sid = _sid("recording", data_key="RecordingSid", load_default=None)
    recording_url = fields.Url(
        data_key="RecordingUrl", load_default=None, schemes={"https", "http"}, require_tld=False
    )
    duration = fields.Integer(
        data_key="RecordingDuration", load_default=0, validate=validate.Range(min=0, max=MAX_ID)
    )


class DialResult(CallRequest):
    status = Text(data_key="DialCallStatus", required=True, validate=validate.Length(max=20))
    duration = fields.Integer(
        data_key="DialCallDuration", load_default=None, validate=validate.Range(min=0, max=MAX_ID)
    )


class StaffCallRef(Schema):
    conversation_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID)
    )


class TakeCalls(Schema):
    on = fields.Boolean(required=True, truthy={True}, falsy={False})
