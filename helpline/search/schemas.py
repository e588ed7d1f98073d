"""What a search accepts: the same filters on the staff page and in the API."""

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)
from sqlalchemy import select

from helpline.api.schemas import (
    FIRST_DAY,
    INT_MAX,
    LAST_DAY,
    SLUG,
    ConversationRow,
    Cursor,
)
from helpline.codes import ALPHABET, group, normalise
from helpline.extensions import db
from helpline.followup.bookings import CODE_LENGTH as BOOKING_CODE_LENGTH
from helpline.forms.service import CODE_LENGTH as REPLY_CODE_LENGTH
from helpline.inbox.models import CHANNELS, STATES, Category, Service
from helpline.search.service import Search
from helpline.text import Text

MAX_PAGE = 100
DATE_ERROR = {"invalid": "Write a date as YYYY-MM-DD, e.g. 2026-03-30."}
DATE_RANGE = validate.Range(min=FIRST_DAY, max=LAST_DAY, error="Choose a date from 2000 to 2099.")


class Code(fields.String):
    """A reply code or booking code as someone typed or read it aloud (7K3M-9QPX), normalised."""

    default_error_messages = {"code": "A code has {length} letters and digits, like {example}."}

    def __init__(self, *, length: int, **kwargs):
        super().__init__(**kwargs)
        self.length = length

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        code = normalise(super()._deserialize(value, attr, data, **kwargs))
        if len(code) != self.length or not set(code) <= set(ALPHABET):
            example = group("7K3M9QPXH2RD"[: self.length])
            raise self.make_error("code", length=self.length, example=example)
        return code


def known_category(category_id: int) -> None:
    """Refuse a category that does not exist (a retired one may be searched for)."""
    if not 1 <= category_id <= INT_MAX or db.session.get(Category, category_id) is None:
        raise ValidationError("No such category.")


def known_service(slug: str) -> None:
    """Refuse a service that does not exist."""
    if db.session.scalar(select(Service.id).where(Service.slug == slug)) is None:
        raise ValidationError("Not a known service.")


class SearchQuery(Schema):
    """The filters of a search; each one given narrows it, none lists every conversation."""

    text = Text(
        validate=validate.Length(max=200, error="Search for at most 200 characters."),
        metadata={"description": "Words said in the conversation (messages and notes)."},
    )
    reply_code = Code(
        length=REPLY_CODE_LENGTH, metadata={"description": "A contact form's reply code."}
    )
    booking_code = Code(
        length=BOOKING_CODE_LENGTH, metadata={"description": "A follow-up chat session's code."}
    )
    category = fields.Integer(
        validate=known_category,
        metadata={"description": "A category's id; its subcategories count too."},
    )
    service = fields.String(validate=[SLUG, known_service])
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    state = fields.String(validate=validate.OneOf(STATES))
    first = fields.Date(
        data_key="from",
        validate=DATE_RANGE,
        error_messages=DATE_ERROR,
        metadata={"description": "Opened on or after this (local) day."},
    )
    last = fields.Date(
        data_key="to",
        validate=DATE_RANGE,
        error_messages=DATE_ERROR,
        metadata={"description": "Opened on or before this (local) day."},
    )
    limit = fields.Integer(
        load_default=20,
        validate=validate.Range(
            min=1, max=MAX_PAGE, error=f"Show between 1 and {MAX_PAGE} results per page."
        ),
    )
    cursor = Cursor(metadata={"description": "The `next` value of the page before."})

    @pre_load
    def without_blanks(self, data, **kwargs):
        # A form sends its empty fields too: an empty filter is no filter.
        stripped = {
            key: value.strip() if isinstance(value, str) else value for key, value in data.items()
        }
        return {key: value for key, value in stripped.items() if value not in ("", None)}

    @validates_schema
    def a_period(self, data, **kwargs):
        if "first" in data and "last" in data and data["last"] < data["first"]:
            raise ValidationError("The period must not end before it starts.", "to")

    @post_load
    def search(self, data, **kwargs) -> Search:
        return Search(
            **{key: value for key, value in data.items() if key != "cursor"},
            before_id=data.get("cursor"),
        )


class SearchRow(ConversationRow):
    """A conversation found, as the inbox lists it, with an excerpt of what was said."""

    snippet = fields.String(
        allow_none=True,
        metadata={
            "description": "Part of the message that matched (or of the last one); "
            "null once purged."
        },
    )


class SearchPage(Schema):
    conversations = fields.List(fields.Nested(SearchRow), metadata={"description": "Newest first."})
    next = Cursor(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null last."}
    )
