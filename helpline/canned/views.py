"""The staff page of canned responses: each change goes through helpline.canned.service."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from helpline.canned import service
from helpline.canned.schemas import NewResponseSchema, ResponseSchema
from helpline.extensions import db
from helpline.inbox import find
from helpline.inbox.models import Service
from helpline.inbox.permissions import require

bp = Blueprint("canned", __name__, url_prefix="/admin/canned-responses")


class InvalidForm(Exception):
    """A form on the page was refused; `key` says which one, `messages` why, per field."""

    def __init__(self, key: str, messages: dict):
        super().__init__(key)
        self.key = key
        self.messages = messages


@bp.before_request
@login_required
def leads_only():
    require(current_user, "manage_canned_responses")


@bp.errorhandler(InvalidForm)
def invalid_form(error: InvalidForm):
    db.session.rollback()
    slug = request.form.get("service") or request.args.get("service")
    if error.key != "new":
        slug = service.get(int(error.key)).service.slug
    page = _page(slug, errors={error.key: error.messages}, submitted={error.key: request.form})
    return page, 422


@bp.get("")
def responses():
    return _page(request.args.get("service"))


@bp.post("")
def create():
    form = _load(NewResponseSchema(), "new")
    response = _saved("new", lambda: service.create(current_user, form["service"], form))
    flash(f"“{response.title}” added.")
    return _back(response)


@bp.post("/<int:response_id>")
def update(response_id: int):
    form = _load(ResponseSchema(), str(response_id))
    response = _saved(str(response_id), lambda: service.update(current_user, response_id, form))
    flash(f"“{response.title}” saved.")
    return _back(response)


@bp.post("/<int:response_id>/delete")
def delete(response_id: int):
    response = service.get(response_id)
    slug, title = response.service.slug, response.title
    service.remove(current_user, response_id)
    flash(f"“{title}” deleted.")
    return redirect(url_for("canned.responses", service=slug))


def _load(schema: Schema, key: str) -> dict:
    try:
        return schema.load(request.form.to_dict())
    except ValidationError as error:
        raise InvalidForm(key, error.messages) from error


def _saved(key: str, save):
    try:
        return save()
    except service.InvalidResponse as error:
        raise InvalidForm(key, {error.field: [error.message]}) from error


def _page(slug: str | None, errors: dict | None = None, submitted: dict | None = None) -> str:
    services = db.session.scalars(select(Service).order_by(Service.id)).all()
    chosen = find.get_service(slug) if slug else services[0]
    return render_template(
        "canned/responses.html",
        services=services,
        chosen=chosen,
        responses=service.of_service(chosen),
        examples={lang: service.values_for(current_user, chosen, lang) for lang in ("nl", "en")},
        errors=errors or {},
        submitted=submitted or {},
        me=current_user,
    )


def _back(response):
    return redirect(
        url_for(
            "canned.responses", service=response.service.slug, _anchor=f"response-{response.id}"
        )
    )
