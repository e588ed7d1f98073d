"""The visitor's pages: the list of services and the chat page."""

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox import find
from helpline.inbox.models import Service

bp = Blueprint("chat", __name__)


@bp.route("/")
def index():
    services = db.session.scalars(select(Service).order_by(Service.id)).all()
    return render_template("chat/index.html", services=[(s, find.is_open(s)) for s in services])


@bp.route("/chat/<slug>")
def chat(slug: str):
    service = find.get_service(slug)  # NotFound becomes a 404 page
    if not service.chat_enabled:
        abort(404)
    return render_template(
        "chat/chat.html",
        service=service,
        is_open=find.is_open(service),
        max_length=current_app.config["CHAT_MAX_LENGTH"],
    )


@bp.route("/healthz")
def healthz():
    db.session.execute(select(1))
    return {"ok": True}
