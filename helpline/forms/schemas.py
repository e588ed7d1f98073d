"""The contact forms: which questions each service asks, and how the answers are checked.

Error messages are lazy translations, so a visitor reads them in the language of the page.
"""

from datetime import date
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from helpline.text import Text
from helpline.timeutil import local_today

MAX_TEXT = 4000
MAX_LINKS = 20
MAX_LINK_LENGTH = 2000

ABOUT_CHOICES = {
    "helpwanted": ("myself", "someone_else"),
    "stopitnow": ("myself", "someone_else", "professional"),
}
AGE_BANDS = ("under_12", "12_15", "16_17", "18_24", "25_plus")
# An age band as the inbox row shows it, after the visitor's number: "Visitor 12 · 16-17".
AGE_SHORT = {
    "under_12": "under 12",
    "12_15": "12\u201315",
    "16_17": "16\u201317",
    "18_24": "18\u201324",
    "25_plus": "25+",
}

REQUIRED = _l("Please fill this in.")
CHOOSE = _l("Please choose one of the options.")
UNSAFE = _l("This contains a character that cannot be stored.")


def _choice_errors() -> dict:
    return {"required": CHOOSE, "null": CHOOSE, "invalid": CHOOSE}


def _errors(**extra) -> dict:
    return {
        "required": REQUIRED,
        "null": REQUIRED,
        "invalid": _l("This is not valid."),
        "unsafe": UNSAFE,
        **extra,
    }


class Answer(Text):
    """A typed answer: blanks around it removed; required text may not be empty."""

    def __init__(self, *, max_length: int, **kwargs):
        super().__init__(multiline=True, error_messages=_errors(), **kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text and self.required:
            raise ValidationError([REQUIRED])
        if len(text) > self.max_length:
            raise ValidationError(
                [_l("This is too long: at most %(max)s characters.", max=self.max_length)]
            )
        return text or None


class Links(Text):
    """Web addresses, one per line: only http(s), never files or scripts."""

    def __init__(self, **kwargs):
        super().__init__(multiline=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        lines = [line.strip() for line in super()._deserialize(value, attr, data).splitlines()]
        links = [line for line in lines if line]
        if len(links) > MAX_LINKS:
            raise ValidationError([_l("At most %(max)s links.", max=MAX_LINKS)])
        for link in links:
            if len(link) > MAX_LINK_LENGTH:
                raise ValidationError([_l("A link is too long.")])
            parts = urlsplit(link)
            if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
                raise ValidationError(
                    [_l("Only web addresses starting with http:// or https:// can be sent.")]
                )
            if any(ch.isspace() or ord(ch) < 32 for ch in link):
                raise ValidationError([_l("A web address cannot contain spaces.")])
        return links


def _email_address(value: str) -> None:
    try:
        validate.And(validate.Length(max=254), validate.Email())(value)
    except ValidationError:
        raise ValidationError([_l("This is not a valid e-mail address.")]) from None


def _not_in_future(value: date) -> None:
    # The helpline's date, not the server's: a UTC server is an hour or two behind Amsterdam.
    if value > local_today():
        raise ValidationError([_l("The date cannot be in the future.")])


class FormSchema(Schema):
    """What every form sends besides its questions."""

    error_messages = {
        "unknown": _l("This field is not part of the form."),
        "type": _l("The form was sent in a form we cannot read."),
    }

    submission_key = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{22,64}$"),
        error_messages=_errors(),
    )
    notify_email = Text(load_default=None, validate=_email_address, error_messages=_errors())
    # Honeypot: hidden from people, filled in by bots.
    leave_empty = Text(load_default="")
    csrf_token = fields.String(load_default=None)

    @pre_load
    def blanks_are_missing(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        return {key: value for key, value in data.items() if value not in ("", None)}


class HelpwantedForm(FormSchema):
    about = fields.String(
        required=True,
        validate=validate.OneOf(ABOUT_CHOICES["helpwanted"], error=CHOOSE),
        error_messages=_choice_errors(),
    )
    age_band = fields.String(
        load_default=None,
        validate=validate.OneOf(AGE_BANDS, error=CHOOSE),
        error_messages=_errors(),
    )
    what_happened = Answer(required=True, max_length=MAX_TEXT)
    platform = Answer(load_default=None, max_length=200)
    links = Links(load_default=list, error_messages=_errors())


class StopitnowForm(FormSchema):
    about = fields.String(
        required=True,
        validate=validate.OneOf(ABOUT_CHOICES["stopitnow"], error=CHOOSE),
        error_messages=_choice_errors(),
    )
    question = Answer(required=True, max_length=MAX_TEXT)


class ReportForm(FormSchema):
    what_happened = Answer(required=True, max_length=MAX_TEXT)
    country = Answer(required=True, max_length=100)
    place = Answer(load_default=None, max_length=100)
    date = fields.Date(
        load_default=None,
        validate=_not_in_future,
        error_messages=_errors(invalid=_l("Enter a date like 2026-03-31.")),
    )
    links = Links(load_default=list, error_messages=_errors())


FORMS: dict[str, type[FormSchema]] = {
    "helpwanted": HelpwantedForm,
    "stopitnow": StopitnowForm,
    "report": ReportForm,
}


class ReplyLookupSchema(Schema):
    code = Text(required=True, validate=validate.Length(max=40), error_messages=_errors())
    secret = Text(required=True, validate=validate.Length(max=60), error_messages=_errors())
    csrf_token = fields.String(load_default=None)


class ReplyWriteSchema(Schema):
    access = Text(required=True, validate=validate.Length(max=400))
    client_msg_id = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{22,64}$")
    )
    body = Answer(required=True, max_length=MAX_TEXT)
    csrf_token = fields.String(load_default=None)
