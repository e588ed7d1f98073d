"""Validation of the canned-response forms."""

from marshmallow import EXCLUDE, Schema, fields, validate

from helpline.canned.models import LANGUAGES
from helpline.inbox.schemas import MessageBody
from helpline.text import Text

SHORTCUT = validate.Regexp(
    r"^[a-z0-9][a-z0-9_-]{0,39}$",
    error="A shortcut is 1 to 40 lower-case letters, digits, - or _, e.g. welcome.",
)


class ResponseText(MessageBody):
    """The text of a response: surrounding blanks removed, never empty, no longer than a
    message may be."""

    empty = "Write the text of the response."
    too_long = "The text is longer than a message may be ({limit} characters)."


class Trimmed(Text):
    """One line of text with surrounding blanks removed."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class ResponseSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token and submit button travel with the form

    shortcut = Trimmed(
        required=True,
        validate=SHORTCUT,
        error_messages={"required": "Give the response a shortcut, e.g. welcome."},
    )
    title = Trimmed(
        required=True,
        validate=validate.Length(min=1, max=120, error="A title is 1 to 120 characters."),
        error_messages={"required": "Give the response a title."},
    )
    language = fields.String(
        required=True,
        validate=validate.OneOf(LANGUAGES, error="Choose Dutch or English."),
        error_messages={"required": "Choose Dutch or English."},
    )
    text = ResponseText(
        required=True, error_messages={"required": "Write the text of the response."}
    )


class NewResponseSchema(ResponseSchema):
    service = Text(
        required=True,
        validate=validate.Length(min=1, max=40),
        error_messages={"required": "Choose a service."},
    )
