"""The staff inbox page and the supervisor board; everything on them then runs over the /inbox
socket."""

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox.models import Service
from helpline.inbox.permissions import REFUSALS, can

bp = Blueprint("inbox", __name__)


@bp.route("/inbox")
@login_required
def index():
    services = db.session.scalars(select(Service).order_by(Service.id)).all()
    return render_template("inbox/inbox.html", services=services, me=current_user)


@bp.route("/board")
@login_required
def board():
    if not can(current_user, "view_board"):
        abort(403, REFUSALS["view_board"])
    threshold = current_app.config["BOARD_WAIT_WARNING_SECONDS"]
    return render_template("inbox/board.html", me=current_user, threshold=threshold)
