"""The page where staff create and revoke their personal API tokens (/api/tokens)."""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError, validate

from helpline.api import schemas
from helpline.api import service as api
from helpline.api.models import ApiToken
from helpline.text import Text

# A staff page with a session and CSRF; the API itself takes only tokens.
pages_bp = Blueprint("api_tokens", __name__, url_prefix="/api")


class TokenForm(Schema):
    name = Text(
        required=True, validate=validate.Length(min=1, max=80, error="Give the token a name.")
    )


class RevokeForm(Schema):
    token_id = schemas.ident(required=True, strict=False)


@pages_bp.after_request
def never_cache(response: Response) -> Response:
    # A new token is shown once; no cache may keep the page that shows it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_tokens(new_value: str | None = None, errors: dict | None = None, status: int = 200):
    me = current_user._get_current_object()
    with force_locale("en"):
        page = render_template(
            "api/tokens.html",
            tokens=api.tokens_of(me),
            new_value=new_value,
            errors=errors or {},
            spec_url=url_for("api.openapi"),
        )
    return page, status


@pages_bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    if request.method == "GET":
        return _render_tokens()
    me = current_user._get_current_object()
    if request.form.get("action") == "revoke":
        try:
            token_id = RevokeForm().load({"token_id": request.form.get("token_id", "")})["token_id"]
        except ValidationError:
            return _render_tokens(errors={"form": ["Choose a token to revoke."]}, status=422)
        revoked: ApiToken = api.revoke_token(me, token_id)
        flash(f"The token {revoked.name} (hl_{revoked.prefix}_…) no longer works.")
        return redirect(url_for("api_tokens.tokens"))
    try:
        form = TokenForm().load({"name": request.form.get("name", "").strip()})
    except ValidationError as error:
        return _render_tokens(errors=error.messages, status=422)
    made = api.create_token(me, form["name"])
    return _render_tokens(new_value=made.value)
