"""The staff inbox page; everything on it then runs over the /inbox socket."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from helpline.extensions import db
from helpline.inbox.models import Service

bp = Blueprint("inbox", __name__)


@bp.route("/inbox")
@login_required
def index():
    services = db.session.scalars(select(Service).order_by(Service.id)).all()
    return render_template("inbox/inbox.html", services=services, me=current_user)
