"""Validation of the admin forms."""

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from helpline.text import Text


class CategoryName(Text):
    """A category name: surrounding blanks removed, 1-120 characters."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise ValidationError("Give the category a name.")
        if len(text) > 120:
            raise ValidationError("A name is at most 120 characters.")
        return text


class FormSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token and submit button travel with the form


class NewCategorySchema(FormSchema):
    name = CategoryName(required=True, error_messages={"required": "Give the category a name."})
    parent_id = fields.Integer(load_default=None, validate=validate.Range(min=1))


class RenameSchema(FormSchema):
    name = CategoryName(required=True, error_messages={"required": "Give the category a name."})


class MoveSchema(FormSchema):
    direction = fields.String(required=True, validate=validate.OneOf(("up", "down")))


class RetireSchema(FormSchema):
    retired = fields.Boolean(required=True)


class OfferSchema(FormSchema):
    services = fields.List(Text(validate=validate.Length(min=1, max=40)), load_default=list)
