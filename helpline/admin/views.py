"""The admin's category pages: every change goes through helpline.inbox.categories."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from helpline.admin.schemas import (
    MoveSchema,
    NewCategorySchema,
    OfferSchema,
    RenameSchema,
    RetireSchema,
)
from helpline.extensions import db
from helpline.inbox import categories
from helpline.inbox.models import Service
from helpline.inbox.permissions import can, require

bp = Blueprint("admin", __name__, url_prefix="/admin")


class InvalidForm(Exception):
    """A form on the categories page failed validation; `key` says which one."""

    def __init__(self, key: str, messages: dict):
        super().__init__(key)
        self.key = key
        self.messages = messages


@bp.app_context_processor
def permissions() -> dict:
    """Templates ask the same named rules as the services (e.g. whether to link here)."""
    return {"can": can}


@bp.before_request
@login_required
def admins_only():
    require(current_user, "manage_categories")


@bp.errorhandler(InvalidForm)
def invalid_form(error: InvalidForm):
    db.session.rollback()
    messages = [m for field in error.messages.values() for m in _flatten(field)]
    return _page(errors={error.key: messages}, submitted={error.key: request.form}), 422


@bp.get("/categories")
def category_list():
    return _page()


@bp.post("/categories")
def create():
    parent = request.form.get("parent_id") or "new"
    form = _load(NewCategorySchema(), f"create-{parent}", request.form.to_dict())
    category = categories.create(current_user, form["name"], form["parent_id"])
    flash(f"“{category.name}” added.")
    return _back(category.id)


@bp.post("/categories/<int:category_id>/rename")
def rename(category_id: int):
    form = _load(RenameSchema(), f"rename-{category_id}", request.form.to_dict())
    category = categories.rename(current_user, category_id, form["name"])
    flash(f"Renamed to “{category.name}”.")
    return _back(category_id)


@bp.post("/categories/<int:category_id>/move")
def move(category_id: int):
    form = _load(MoveSchema(), f"move-{category_id}", request.form.to_dict())
    categories.move(current_user, category_id, -1 if form["direction"] == "up" else 1)
    return _back(category_id)


@bp.post("/categories/<int:category_id>/retire")
def retire(category_id: int):
    form = _load(RetireSchema(), f"retire-{category_id}", request.form.to_dict())
    category = categories.retire(current_user, category_id, form["retired"])
    if form["retired"]:
        flash(f"“{category.name}” is retired: no longer offered, still in earlier contacts.")
    else:
        flash(f"“{category.name}” is offered again.")
    return _back(category_id)


@bp.post("/categories/<int:category_id>/delete")
def delete(category_id: int):
    categories.remove(current_user, category_id)
    flash("Category deleted.")
    return redirect(url_for("admin.category_list"))


@bp.post("/categories/<int:category_id>/services")
def offer(category_id: int):
    form = _load(
        OfferSchema(), f"offer-{category_id}", {"services": request.form.getlist("services")}
    )
    categories.offer(current_user, category_id, form["services"])
    flash("Services saved.")
    return _back(category_id)


def _load(schema: Schema, key: str, values: dict) -> dict:
    try:
        return schema.load(values)
    except ValidationError as error:
        raise InvalidForm(key, error.messages) from error


def _flatten(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]


def _page(errors: dict | None = None, submitted: dict | None = None) -> str:
    return render_template(
        "admin/categories.html",
        tree=categories.tree(include_retired=True),
        services=db.session.scalars(select(Service).order_by(Service.id)).all(),
        errors=errors or {},
        submitted=submitted or {},
        me=current_user,
    )


def _back(category_id: int):
    return redirect(url_for("admin.category_list", _anchor=f"category-{category_id}"))
