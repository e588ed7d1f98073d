"""Validation of the sign-in and account forms."""

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from helpline.auth.passwords import MAX_LENGTH


class FormSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # the CSRF token and submit button travel with the form


class LoginSchema(FormSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_LENGTH))
    next = fields.String(load_default=None)


class CodeSchema(FormSchema):
    """A 6-digit code from the authenticator app, or a recovery code."""

    code = fields.String(required=True, validate=validate.Length(min=6, max=40))


class PasswordChangeSchema(FormSchema):
    current = fields.String(required=True, validate=validate.Length(min=1, max=MAX_LENGTH))
    new = fields.String(required=True, validate=validate.Length(min=1, max=MAX_LENGTH))
    repeat = fields.String(required=True, validate=validate.Length(min=1, max=MAX_LENGTH))

    @validates_schema
    def same_twice(self, form: dict, **_kwargs) -> None:
        if form.get("new") != form.get("repeat"):
            raise ValidationError("The two new passwords differ.", "repeat")
