"""What the staff API accepts and answers; the OpenAPI document is generated from these.

Every integer is bounded to what the database columns hold, and every free text is a `Text`,
which refuses control characters and unpaired surrogates: a bad value is a 422, never a 500.
"""

import base64
import binascii
from datetime import UTC, date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from helpline.followup.models import METHODS, OUTCOMES, STATUSES
from helpline.inbox.models import CHANNELS, STATES
from helpline.inbox.schemas import CLIENT_MSG_ID, HandoverNote, MessageBody, Summary
from helpline.text import Text
from helpline.timeutil import iso

INT_MAX = 2**31 - 1
SLUG = validate.Regexp(r"^[a-z0-9_-]{1,40}$", error="Not a known service (a slug like helpwanted).")
E164 = validate.Regexp(r"^\+[1-9]\d{6,14}$", error="Write the number as +31612345678.")
# Reports: a period within these dates, at most ten years long.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
MAX_REPORT_DAYS = 3661


def ident(**kwargs) -> fields.Integer:
    """A row id: a whole number from 1 to 2147483647."""
    return fields.Integer(
        strict=kwargs.pop("strict", True), validate=validate.Range(min=1, max=INT_MAX), **kwargs
    )


class Cursor(fields.String):
    """An opaque position in a list: the id of the last row of the page before."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return base64.urlsafe_b64encode(f"c1:{value}".encode()).decode().rstrip("=")

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            version, _, number = decoded.partition(":")
            position = int(number)
        except (binascii.Error, UnicodeDecodeError, ValueError) as error:
            raise ValidationError("Not a cursor this API gave out.") from error
        if version != "c1" or not 1 <= position <= INT_MAX:
            raise ValidationError("Not a cursor this API gave out.")
        return position


class UtcDateTime(fields.DateTime):
    """A moment in UTC: read with any offset (none means UTC), written as ISO 8601 with Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value if value is None or isinstance(value, str) else iso(value)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError as error:
            raise ValidationError("The time is out of range.") from error


# --- requests ---------------------------------------------------------------------------------


class ConversationListQuery(Schema):
    service = fields.String(validate=SLUG, metadata={"description": "A service's slug."})
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    state = fields.List(
        fields.String(validate=validate.OneOf(STATES)),
        metadata={"description": "Repeat for several; default: queued, active and wrap_up."},
    )
    mine = fields.Boolean(
        load_default=False, metadata={"description": "Only conversations assigned to you."}
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = Cursor(metadata={"description": "The `next` value of the page before."})


class ConversationQuery(Schema):
    since_seq = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=INT_MAX),
        metadata={"description": "Only messages after this sequence number."},
    )


class ReplyBody(Schema):
    client_msg_id = fields.String(
        required=True,
        validate=CLIENT_MSG_ID,
        metadata={"description": "Your id of this message: a retry with it is stored once."},
    )
    body = MessageBody(required=True)
    note = fields.Boolean(
        load_default=False, metadata={"description": "A private note, never sent to the visitor."}
    )


class AssignBody(Schema):
    to = ident(
        required=True,
        allow_none=True,
        metadata={"description": "null or your own id: take it; a colleague's id: transfer."},
    )
    note = HandoverNote(
        metadata={
            "description": "With a transfer: a hand-over note, kept as a private note that the "
            "colleague is shown first."
        }
    )


class CloseBody(Schema):
    summary = Summary(required=True)
    categories = fields.List(
        ident(),
        required=True,
        validate=validate.Length(min=1, max=10, error="Choose between 1 and 10 categories."),
    )


class CategoriesQuery(Schema):
    service = fields.String(validate=SLUG, metadata={"description": "Only this service's offer."})


class SlotsQuery(Schema):
    therapist = ident(strict=False)
    first_day = fields.Date(
        data_key="from",
        validate=validate.Range(min=FIRST_DAY, max=LAST_DAY),
        metadata={"description": "First local day; default today."},
    )
    days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=42))


class BookingBody(Schema):
    therapist_id = ident(required=True)
    starts_at = UtcDateTime(
        required=True, metadata={"description": "The slot's start, e.g. 2026-03-30T08:00:00Z."}
    )
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    share_transcript = fields.Boolean(load_default=False)
    number = fields.String(
        load_default=None,
        allow_none=True,
        validate=E164,
        metadata={"description": "For a phone session: the number to call, if not the caller's."},
    )


class OutcomeBody(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    note = Text(
        load_default=None, allow_none=True, multiline=True, validate=validate.Length(max=500)
    )


class RescheduleBody(Schema):
    starts_at = UtcDateTime(
        required=True, metadata={"description": "The new slot's start, e.g. 2026-03-30T08:00:00Z."}
    )
    therapist_id = ident(
        load_default=None,
        allow_none=True,
        metadata={"description": "Another therapist; default: the session's own."},
    )


class CancelBody(Schema):
    reason = Text(load_default=None, allow_none=True, validate=validate.Length(max=300))


class ReportQuery(Schema):
    year = fields.Integer(validate=validate.Range(min=FIRST_DAY.year, max=LAST_DAY.year))
    first = fields.Date(data_key="from", validate=validate.Range(min=FIRST_DAY, max=LAST_DAY))
    last = fields.Date(data_key="to", validate=validate.Range(min=FIRST_DAY, max=LAST_DAY))
    service = fields.String(validate=SLUG, metadata={"description": "Default: all services."})

    @validates_schema
    def one_period(self, data, **kwargs):
        if "year" in data:
            if "first" in data or "last" in data:
                raise ValidationError("Give either a year, or from and to.", "year")
            return
        if "first" not in data or "last" not in data:
            raise ValidationError("Give a year, or both from and to.", "year")
        if data["last"] < data["first"]:
            raise ValidationError("The period must not end before it starts.", "to")
        if (data["last"] - data["first"]).days >= MAX_REPORT_DAYS:
            raise ValidationError("A period is at most ten years.", "to")


# --- responses --------------------------------------------------------------------------------


class Assignee(Schema):
    id = fields.Integer()
    name = fields.String()


class CategoryRef(Schema):
    id = fields.Integer()
    name = fields.String()


class VisitorLabel(Schema):
    """How staff tell a visitor apart; made from the conversation's id, never from its words."""

    name = fields.String()
    letter = fields.String()
    colour = fields.String()


class ConversationRow(Schema):
    """A row of the inbox list: no message content."""

    id = fields.Integer()
    service = fields.String()
    service_name = fields.String()
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    state = fields.String(validate=validate.OneOf(STATES))
    assignee = fields.Nested(Assignee, allow_none=True)
    created_at = UtcDateTime()
    waiting_since = UtcDateTime(allow_none=True)
    last_message_at = UtcDateTime(allow_none=True)
    ended_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    last_seq = fields.Integer()
    unread = fields.Integer()
    visitor_present = fields.Boolean()
    abandoned = fields.Boolean()
    earlier_conversations = fields.Integer()
    categories = fields.List(fields.Nested(CategoryRef))
    phone = fields.Dict(metadata={"description": "Phone conversations only: the call's state."})
    visitor = fields.Nested(VisitorLabel)
    visitor_waiting_since = UtcDateTime(allow_none=True)
    preview = fields.Dict(
        allow_none=True,
        metadata={"description": "Only for the assignee: the start of the last text."},
    )


class ConversationPage(Schema):
    conversations = fields.List(fields.Nested(ConversationRow))
    next = Cursor(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null last."}
    )


class MessageOut(Schema):
    conversation_id = fields.Integer()
    seq = fields.Integer()
    client_msg_id = fields.String(allow_none=True)
    sender = fields.String()
    kind = fields.String()
    event = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    author = fields.String(allow_none=True)
    created_at = UtcDateTime()
    removed_after_days = fields.Integer(
        allow_none=True,
        metadata={"description": "The words were purged this many days after closing."},
    )


class ReferralOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    referred_on = fields.String(metadata={"format": "date"})
    note = fields.String(allow_none=True)


class ConversationDetail(Schema):
    conversation = fields.Nested(ConversationRow)
    messages = fields.List(fields.Nested(MessageOut))
    visitor_read_seq = fields.Integer()
    referrals = fields.List(fields.Nested(ReferralOut))


class CategoryOut(Schema):
    id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)
    retired = fields.Boolean()
    services = fields.List(fields.String())
    children = fields.List(fields.Nested(lambda: CategoryOut()))


class CategoryList(Schema):
    categories = fields.List(fields.Nested(CategoryOut))


class SlotOut(Schema):
    therapist_id = fields.Integer()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()


class SlotList(Schema):
    slots = fields.List(fields.Nested(SlotOut))


class BookingOut(Schema):
    id = fields.Integer()
    conversation_id = fields.Integer()
    therapist_id = fields.Integer()
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    method = fields.String(validate=validate.OneOf(METHODS))
    status = fields.String()
    transcript_shared = fields.Boolean()
    code = fields.String(
        allow_none=True,
        metadata={"description": "A chat session's code for the client: in this answer only."},
    )


class TherapistRef(Schema):
    id = fields.Integer()
    name = fields.String()


class FollowupOut(Schema):
    """A follow-up session as history shows it: never the number to call nor the chat code."""

    id = fields.Integer()
    conversation_id = fields.Integer()
    therapist = fields.Nested(TherapistRef)
    starts_at = UtcDateTime()
    ends_at = UtcDateTime()
    method = fields.String(validate=validate.OneOf(METHODS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    rescheduled_from_id = fields.Integer(
        allow_none=True, metadata={"description": "The booking this one replaced."}
    )
    transcript_shared = fields.Boolean()


class FollowupList(Schema):
    followups = fields.List(
        fields.Nested(FollowupOut), metadata={"description": "Oldest first, history included."}
    )


class PeriodOut(Schema):
    first = fields.String(metadata={"format": "date"})
    last = fields.String(metadata={"format": "date"})


class ReportOut(Schema):
    """The report figures; docs/reports.md defines each of them."""

    period = fields.Nested(PeriodOut)
    service = fields.String(allow_none=True)
    moments = fields.Dict()
    people = fields.Dict()
    categories = fields.List(fields.Dict())
    growth = fields.Dict()
    funnel = fields.Dict()
    survey = fields.Dict()
    times = fields.Dict()
    abandoned = fields.Dict()
    week = fields.List(
        fields.List(fields.Integer()),
        metadata={"description": "Contact moments by weekday (Monday first) and local hour."},
    )
    hours_available = fields.List(
        fields.Dict(),
        metadata={
            "description": "Staff hours in status available per service and ISO week "
            "(service, week, hours)."
        },
    )


class ErrorDetail(Schema):
    code = fields.String(metadata={"description": "e.g. not_found, forbidden, invalid"})
    message = fields.String(metadata={"description": "Readable, in English."})
    fields_ = fields.Dict(
        data_key="fields",
        metadata={"description": "With code invalid: the messages per field."},
    )


class ErrorOut(Schema):
    error = fields.Nested(ErrorDetail)
