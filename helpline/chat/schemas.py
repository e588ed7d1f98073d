"""Validation of what a visitor's browser sends on /chat."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from helpline.inbox.schemas import CLIENT_MSG_ID, MAX_ID, MessageBody
from helpline.text import Text

TOKEN = validate.Regexp(r"^[A-Za-z0-9_-]{32,64}$", error="Unknown conversation.")
BROWSER = validate.Regexp(r"^[A-Za-z0-9_-]{22,128}$", error="visitor must be a random token.")


class VisitorMessageSchema(Schema):
    token = fields.String(validate=TOKEN)
    service = Text(validate=validate.Length(min=1, max=40))
    visitor = fields.String(validate=BROWSER)
    client_msg_id = fields.String(required=True, validate=CLIENT_MSG_ID)
    body = MessageBody(required=True)
    # The language of the visitor's page, sent with the first message.
    lang = fields.String(load_default=None, validate=validate.OneOf(("nl", "en")))

    @validates_schema
    def opening_needs_service(self, data, **kwargs):
        if "token" not in data and not ("service" in data and "visitor" in data):
            raise ValidationError("A first message needs service and visitor.")


class ResumeSchema(Schema):
    token = fields.String(required=True, validate=TOKEN)
    last_seq = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_ID)
    )


class TypingSchema(Schema):
    typing = fields.Boolean(required=True)


class ReadSchema(Schema):
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class LeaveSchema(Schema):
    token = fields.String(required=True, validate=TOKEN)
