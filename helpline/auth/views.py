"""Staff sign-in and sign-out."""

import hmac

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError
from sqlalchemy import bindparam, func, select

from helpline import loading
from helpline.auth.models import StaffUser
from helpline.auth.schemas import LoginSchema
from helpline.auth.signals import sessions_ended
from helpline.extensions import db, limiter, login_manager

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """Sessions hold "<id>:<session token>"; a rotated token ends every old session."""
    claim = _claim(user_id)
    if claim is None:
        return None
    user = _staff_member(claim[0])
    if user is None or not user.active or not hmac.compare_digest(user.session_token, claim[1]):
        return None
    return user


def session_claim() -> tuple[int, str] | None:
    """The staff member (id, session token) the signed session names, as `load_user` reads
    it, before anything is checked: whoever acts on it checks that they are active and that
    the token is still theirs in the same statement (`inbox.service.post_reply_as`)."""
    user_id = session.get("_user_id")  # where Flask-Login keeps it
    return _claim(user_id) if isinstance(user_id, str) else None


def _claim(user_id: str) -> tuple[int, str] | None:
    ident, _, token = user_id.partition(":")
    return (int(ident), token) if ident.isdigit() and token else None


# Every staff socket event loads its user: read with Core, not through the ORM's query machinery.
_staff_by_id = select(*loading.columns(StaffUser)).where(
    StaffUser.__table__.c.id == bindparam("id")
)


def _staff_member(user_id: int) -> StaffUser | None:
    held = loading.in_session(StaffUser, user_id)
    if held is not None:
        return held
    row = loading.first(_staff_by_id, {"id": user_id})
    return loading.from_row(StaffUser, row) if row else None


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: _login_limit(), methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    errors: dict = {}
    if request.method == "POST":
        try:
            form = LoginSchema().load(request.form.to_dict())
        except ValidationError as error:
            errors = error.messages
        else:
            user = db.session.scalar(
                select(StaffUser).where(func.lower(StaffUser.email) == form["email"].lower())
            )
            if user and user.active and user.check_password(form["password"]):
                db.session.commit()  # a rehashed password
                login_user(user)
                return redirect(_safe_next(form["next"]))
            errors = {"form": ["Wrong e-mail address or password."]}
        return render_template("auth/login.html", errors=errors), 422
    return render_template("auth/login.html", errors=errors)


def _login_limit() -> str:
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user_id = current_user.id
    current_user.rotate_session()
    db.session.commit()
    logout_user()
    sessions_ended.send(current_app._get_current_object(), user_id=user_id)
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
