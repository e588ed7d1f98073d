"""The survey form: each question yes, no or not answered; an optional short comment."""

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

from helpline.text import Text

CHOICES = {"yes": True, "no": False, "": None}


class SurveyForm(Schema):
    class Meta:
        unknown = EXCLUDE

    satisfied = fields.Boolean(allow_none=True, load_default=None)
    felt_better = fields.Boolean(allow_none=True, load_default=None)
    would_recommend = fields.Boolean(allow_none=True, load_default=None)
    comment = Text(
        load_default=None,
        multiline=True,
        validate=validate.Length(max=1000, error=_l("Write at most 1000 characters.")),
        error_messages={"unsafe": _l("This contains a character that cannot be stored.")},
    )

    @pre_load
    def radio_values(self, data, **kwargs):
        """Radio buttons send 'yes', 'no' or nothing."""
        result = dict(data)
        for name in ("satisfied", "felt_better", "would_recommend"):
            result[name] = CHOICES.get(result.get(name, ""), "invalid")
        return result
