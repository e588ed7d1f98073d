"""Validation of what staff send to block a visitor or lift a block."""

from marshmallow import Schema, ValidationError, fields, post_load, validate

from helpline.inbox.schemas import MAX_ID, conversation_id

# The choices the inbox offers: an hour, a day, a week.
BLOCK_HOURS = (1, 24, 168)


class BlockSchema(Schema):
    conversation_id = conversation_id()
    hours = fields.Integer(required=True, strict=True, validate=validate.OneOf(BLOCK_HOURS))
    reason = fields.String(
        required=True,
        validate=validate.Length(min=3, max=300, error="Give a reason of 3 to 300 characters."),
    )

    @post_load
    def trimmed(self, data: dict, **kwargs) -> dict:
        data["reason"] = data["reason"].strip()
        if len(data["reason"]) < 3:
            raise ValidationError("Give a reason of 3 to 300 characters.", "reason")
        return data


class LiftSchema(Schema):
    block_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
