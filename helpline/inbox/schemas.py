"""Validation of everything staff send, and of the message text every channel shares."""

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate

from helpline.inbox.models import CHANNELS, REFERRAL_KINDS, STAFF_STATUSES, STATES
from helpline.text import Text

# Ids and sequence numbers are 32-bit integers in the database.
MAX_ID = 2**31 - 1
CLIENT_MSG_ID = validate.Regexp(
    r"^[A-Za-z0-9_.:-]{8,64}$", error="client_msg_id must be 8-64 letters, digits or -_.:"
)


class MessageBody(Text):
    """Message text: surrounding blanks removed, never empty, at most CHAT_MAX_LENGTH."""

    empty = "The message is empty."
    too_long = "The message is longer than {limit} characters."

    def __init__(self, **kwargs):
        super().__init__(multiline=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        limit = current_app.config["CHAT_MAX_LENGTH"]
        if not text:
            raise ValidationError(self.empty)
        if len(text) > limit:
            raise ValidationError(self.too_long.format(limit=limit))
        return text


def conversation_id() -> fields.Integer:
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class Empty(Schema):
    pass


class ListSchema(Schema):
    service = Text(validate=validate.Length(max=40))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    states = fields.List(fields.String(validate=validate.OneOf(STATES)))
    mine = fields.Boolean(load_default=False)


class ConversationRef(Schema):
    conversation_id = conversation_id()


class OpenSchema(Schema):
    conversation_id = conversation_id()
    since_seq = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_ID)
    )


class StaffMessageSchema(Schema):
    conversation_id = conversation_id()
    client_msg_id = fields.String(required=True, validate=CLIENT_MSG_ID)
    body = MessageBody(required=True)
    note = fields.Boolean(load_default=False)


class WhisperSchema(Schema):
    conversation_id = conversation_id()
    client_msg_id = fields.String(required=True, validate=CLIENT_MSG_ID)
    body = MessageBody(required=True)


class HandoverNote(Text):
    """A hand-over note: optional; blank means none; at most 2000 characters."""

    def __init__(self, **kwargs):
        super().__init__(multiline=True, load_default=None, allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if len(text) > 2000:
            raise ValidationError("The hand-over note is longer than 2000 characters.")
        return text or None


class TransferSchema(Schema):
    conversation_id = conversation_id()
    to = fields.Integer(
        required=True, allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_ID)
    )
    note = HandoverNote()


class ColleaguesSchema(Schema):
    conversation_id = fields.Integer(
        load_default=None, strict=True, validate=validate.Range(min=1, max=MAX_ID)
    )


class StatusSchema(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(STAFF_STATUSES, error="Choose available, away or on break."),
    )


class Summary(Text):
    """A short summary of the contact: required, surrounding blanks removed."""

    def __init__(self, **kwargs):
        super().__init__(multiline=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise ValidationError("Write a short summary.")
        if len(text) > 2000:
            raise ValidationError("The summary is longer than 2000 characters.")
        return text


def category_ids() -> fields.List:
    return fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        required=True,
        validate=validate.Length(min=1, max=10, error="Choose between 1 and 10 categories."),
    )


class CloseSchema(Schema):
    conversation_id = conversation_id()
    summary = Summary(required=True)
    categories = category_ids()


class RecategoriseSchema(CloseSchema):
    pass


class ReferralSchema(Schema):
    conversation_id = conversation_id()
    kind = fields.String(required=True, validate=validate.OneOf(REFERRAL_KINDS))
    referred_on = fields.Date(required=True)
    note = Text(load_default=None, multiline=True, validate=validate.Length(max=300))


class ReferralRef(Schema):
    conversation_id = conversation_id()
    referral_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID)
    )


class CategoriesSchema(Schema):
    service = Text(load_default=None, validate=validate.Length(max=40))


class StaffTypingSchema(Schema):
    conversation_id = conversation_id()
    typing = fields.Boolean(required=True)


class StaffReadSchema(Schema):
    conversation_id = conversation_id()
    seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
