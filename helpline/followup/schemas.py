"""What the follow-up pages accept: a chosen slot, a booking, availability, an outcome, a code.

Staff forms are English; the booking-code form is the client's, so its messages are lazy
translations shown in the language of the page.
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from helpline.followup.models import METHODS, OUTCOMES
from helpline.text import Text

KINDS = ("unavailable", "extra")


class FormSchema(Schema):
    """An HTML form: the CSRF token and buttons are not data, and an empty field is no answer."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def drop_empty(self, data, **kwargs):
        return {key: value for key, value in data.items() if str(value).strip() != ""}


class SlotChoice(Text):
    """A radio value "<therapist id>:<start in UTC, ISO>" as (therapist_id, starts_at)."""

    default_error_messages = {
        "required": "Choose a time.",
        "invalid": "Choose one of the times shown.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        therapist, _, start = text.partition(":")
        try:
            return int(therapist), datetime.fromisoformat(start).replace(tzinfo=None)
        except ValueError:
            raise self.make_error("invalid") from None


class BookingSchema(FormSchema):
    slot = SlotChoice(required=True)
    method = fields.String(
        required=True,
        validate=validate.OneOf(METHODS, error="Choose phone or chat."),
        error_messages={"required": "Choose phone or chat."},
    )
    share_transcript = fields.Boolean(load_default=False)
    number = Text(
        load_default=None,
        validate=validate.Length(max=40, error="A phone number has at most 40 characters."),
    )


class RescheduleSchema(FormSchema):
    slot = SlotChoice(required=True)


class CancelSchema(FormSchema):
    reason = Text(
        load_default=None,
        validate=validate.Length(max=300, error="At most 300 characters."),
    )


class OutcomeSchema(FormSchema):
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(OUTCOMES, error="Choose an outcome."),
        error_messages={"required": "Choose an outcome."},
    )
    note = Text(
        load_default=None,
        multiline=True,
        validate=validate.Length(max=500, error="At most 500 characters."),
    )


def _time(required: str | None = None, **kwargs):
    messages = {"invalid": "Write a time as 10:00.", "required": required or "Give a time."}
    return fields.Time(required=bool(required), error_messages=messages, **kwargs)


def _date(required: str | None = None, **kwargs):
    messages = {"invalid": "Choose a date.", "required": required or "Choose a date."}
    return fields.Date(required=bool(required), error_messages=messages, **kwargs)


def _minutes():
    return fields.Integer(
        load_default=45,
        strict=False,
        validate=validate.Range(10, 240, error="Between 10 and 240 minutes."),
        error_messages={"invalid": "Write a number of minutes."},
    )


class RuleSchema(FormSchema):
    weekday = fields.Integer(
        required=True,
        validate=validate.Range(0, 6, error="Choose a day of the week."),
        error_messages={"required": "Choose a day of the week.", "invalid": "Choose a day."},
    )
    starts = _time("Give a start time.")
    ends = _time("Give an end time.")
    slot_minutes = _minutes()
    valid_from = _date(load_default=None)
    valid_until = _date(load_default=None)

    @validates_schema
    def ends_after_start(self, data, **kwargs):
        if data["ends"] <= data["starts"]:
            raise ValidationError("The block must end after it starts.", "ends")
        if data["valid_from"] and data["valid_until"] and data["valid_until"] < data["valid_from"]:
            raise ValidationError("The last day must not be before the first.", "valid_until")


class ExceptionSchema(FormSchema):
    day = _date("Choose a day.")
    kind = fields.String(
        required=True,
        validate=validate.OneOf(KINDS, error="Choose unavailable or extra."),
    )
    starts = _time(load_default=None)
    ends = _time(load_default=None)
    slot_minutes = _minutes()
    note = Text(
        load_default=None, validate=validate.Length(max=200, error="At most 200 characters.")
    )

    @validates_schema
    def period(self, data, **kwargs):
        if (data["starts"] is None) != (data["ends"] is None):
            raise ValidationError("Give both a start and an end, or neither for the whole day.")
        if data["kind"] == "extra" and data["starts"] is None:
            raise ValidationError("An extra block needs a start and an end.", "starts")
        if data["starts"] is not None and data["ends"] <= data["starts"]:
            raise ValidationError("The period must end after it starts.", "ends")


class BookingCodeSchema(Schema):
    """The code a client types to open their booked chat."""

    class Meta:
        unknown = EXCLUDE

    code = Text(
        required=True,
        validate=validate.Length(min=1, max=40, error=_l("Enter the code you were given.")),
        error_messages={
            "required": _l("Enter the code you were given."),
            "unsafe": _l("This contains a character that cannot be stored."),
        },
    )
