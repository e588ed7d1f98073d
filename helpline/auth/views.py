"""Staff sign-in in two steps (password, then a code from the authenticator app), enrolment
in two-factor sign-in, sign-out, and one's own account."""

import hmac
import time
from urllib.parse import urlsplit

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

from helpline import codes, navigation
from helpline.auth import service, sessions, two_factor
from helpline.auth.models import StaffUser
from helpline.auth.schemas import CodeSchema, LoginSchema, PasswordChangeSchema
from helpline.extensions import db, limiter, login_manager
from helpline.inbox.permissions import require

bp = Blueprint("auth", __name__)

# Between the password and the code: who, since when, and where to go after.
PENDING = "sign_in_pending"
PENDING_SECONDS = 300
REFUSED = (
    "Wrong e-mail address or password. After several wrong attempts an account is locked "
    "for a while."
)


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """Sessions hold "<id>:<session token>"; a rotated token ends every old session, and so
    do an idle or too old sign-in."""
    claim = _claim(user_id)
    if claim is None or not sessions.is_current(session):
        return None
    return _active_holder(*claim)


def _claim(user_id: str) -> tuple[int, str] | None:
    ident, _, token = user_id.partition(":")
    return (int(ident), token) if ident.isdigit() and token else None


def _active_holder(user_id: int, token: str) -> StaffUser | None:
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.active or not hmac.compare_digest(user.session_token, token):
        return None
    return user


def _safe_next(target: str | None, user: StaffUser) -> str:
    """`target` when it is a path on this site, else where `user` lands; browsers drop tabs and
    line breaks and read a backslash as a slash, so a target holding any of them is refused."""
    if target and _is_local_path(target):
        return target
    return navigation.landing_url(user)


def _is_local_path(target: str) -> bool:
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(navigation.landing_url(current_user))
    if request.method == "GET":
        return render_template("auth/login.html", errors={})
    try:
        form = LoginSchema().load(request.form.to_dict())
    except ValidationError as error:
        return render_template("auth/login.html", errors=error.messages), 422
    user = service.check_password(form["email"], form["password"])
    if user is None:
        return render_template("auth/login.html", errors={"form": [REFUSED]}), 422
    session[PENDING] = {
        "user": user.get_id(),
        "since": int(time.time()),
        "next": _safe_next(form["next"], user),
    }
    if user.two_factor_enrolled_at is None:
        return redirect(url_for("auth.enrol"))
    return redirect(url_for("auth.second_factor"))


def _pending_user() -> StaffUser | None:
    """The person who gave their password in this session a moment ago, if still valid."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("since"), int):
        return None
    if time.time() - pending["since"] > PENDING_SECONDS:
        return None
    claim = _claim(str(pending.get("user", "")))
    return _active_holder(*claim) if claim else None


def _complete_sign_in(user: StaffUser) -> str:
    """Complete the sign-in and go where the person was going."""
    target = session.pop(PENDING)["next"]
    login_user(user)
    sessions.begin(session)
    return target


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def second_factor():
    user = _pending_user()
    if user is None:
        flash("Sign in again.")
        return redirect(url_for("auth.login"))
    if user.two_factor_enrolled_at is None:
        return redirect(url_for("auth.enrol"))
    if request.method == "GET":
        return render_template("auth/code.html", errors={})
    try:
        form = CodeSchema().load(request.form.to_dict())
    except ValidationError as error:
        return render_template("auth/code.html", errors=error.messages), 422
    if not service.check_second_factor(user, form["code"]):
        errors = {"code": ["Wrong or already used code."]}
        return render_template("auth/code.html", errors=errors), 422
    return redirect(_complete_sign_in(user))


@bp.route("/login/enrol", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def enrol():
    user = _pending_user()
    if user is None:
        flash("Sign in again.")
        return redirect(url_for("auth.login"))
    if user.two_factor_enrolled_at is not None:
        return redirect(url_for("auth.second_factor"))
    secret = service.enrolment_secret(user)
    errors: dict = {}
    if request.method == "POST":
        try:
            form = CodeSchema().load(request.form.to_dict())
        except ValidationError as error:
            errors = error.messages
        else:
            recovery = service.confirm_enrolment(user, form["code"])
            if recovery is not None:
                target = _complete_sign_in(user)
                return render_template("auth/recovery_codes.html", codes=recovery, next=target)
            errors = {"code": ["Wrong code: type the code the app shows now."]}
    page = render_template(
        "auth/enrol.html",
        errors=errors,
        qr_code=two_factor.qr_code_svg(user, secret),
        # In groups of four, split by spaces as authenticator apps accept them.
        secret=codes.group(secret).replace("-", " "),
    )
    return page, 422 if errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    service.end_sessions(current_user._get_current_object())
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@login_required
def account():
    me = current_user._get_current_object()
    require(me, "manage_own_account")
    if request.method == "GET":
        return render_template("auth/account.html", errors={})
    try:
        form = PasswordChangeSchema().load(request.form.to_dict())
        service.change_password(me, form["current"], form["new"])
    except ValidationError as error:
        return render_template("auth/account.html", errors=error.messages), 422
    except service.AccountError as error:
        return render_template("auth/account.html", errors={"form": [str(error)]}), 422
    # Every session ended; this one goes on with the new session token.
    login_user(me)
    flash("Your password is changed. You are signed out everywhere else.")
    return redirect(url_for("auth.account"))


@bp.route("/account/active")
@login_required
def still_active():
    """Nothing to show: asking renews this sign-in's idle time, as any page does (the inbox
    asks while its socket is busy)."""
    return "", 204


@bp.route("/account/recovery-codes", methods=["POST"])
@login_required
def recovery_codes():
    me = current_user._get_current_object()
    require(me, "manage_own_account")
    fresh = service.new_recovery_codes(me)
    return render_template("auth/recovery_codes.html", codes=fresh, next=url_for("auth.account"))
