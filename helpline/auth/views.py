"""Staff sign-in and sign-out."""

import hmac

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError
from sqlalchemy import func, select

from helpline.auth.models import StaffUser
from helpline.auth.schemas import LoginSchema
from helpline.extensions import db, limiter, login_manager

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """Sessions hold "<id>:<session token>"; a rotated token ends every old session."""
    ident, _, token = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(StaffUser, int(ident))
    if user is None or not user.active or not hmac.compare_digest(user.session_token, token):
        return None
    return user


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
    current_user.rotate_session()
    db.session.commit()
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
