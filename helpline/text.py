"""What the platform accepts as text: the one marshmallow field for everything a person types,
and the check that a request's query string and form are UTF-8 at all."""

import re
from urllib.parse import unquote_to_bytes

from flask import request
from flask_babel import gettext
from marshmallow import fields
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest

# Control characters (C0, DEL, C1) and unpaired surrogates: PostgreSQL cannot store NUL or a
# surrogate, and the others are invisible to the reader (or rewrite a terminal).
_UNSAFE_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class Text(fields.String):
    """A string a person typed, refused when it holds a control character or an unpaired
    surrogate. `multiline` text keeps newlines and tabs (browsers send CRLF: it becomes LF).

    Messages are English (socket acks and the API); visitor forms pass translated ones.
    """

    default_error_messages = {"unsafe": "This contains a character that cannot be stored."}

    def __init__(self, *, multiline: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.multiline = multiline

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.multiline:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        unsafe = _UNSAFE_IN_TEXT if self.multiline else _UNSAFE_IN_LINE
        if unsafe.search(text):
            raise self.make_error("unsafe")
        return text


class UnreadableText(BadRequest):
    """The query string or form is not UTF-8."""


def refuse_unreadable_text() -> None:
    """Refuse a request whose query string or urlencoded form is not UTF-8, raw or %-encoded.

    Werkzeug would keep a bad %-escape as the text "%FF", and fail on a raw bad byte wherever
    the query or form is first read. The query and form are emptied before refusing, so the
    page that says so (its language switch, its locale) can still read them.
    """
    readable = _utf8(request.query_string)
    if readable and request.mimetype == "application/x-www-form-urlencoded":
        # Read within MAX_CONTENT_LENGTH and kept: the form is parsed from this copy later.
        readable = _utf8(request.get_data(cache=True))
    if readable:
        return
    request.args = ImmutableMultiDict()
    request.form = ImmutableMultiDict()
    raise UnreadableText(
        gettext("What was sent contains characters we cannot read. Please check it and try again.")
    )


def _utf8(encoded: bytes) -> bool:
    try:
        unquote_to_bytes(encoded).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
