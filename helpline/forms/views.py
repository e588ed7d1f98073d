"""The contact form pages, the anonymous reply page, and the staff export."""

import secrets

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from limits import parse
from limits.errors import StorageError
from marshmallow import ValidationError
from redis.exceptions import RedisError

from helpline.extensions import anonymous_rate_key, csrf, csrf_valid, limiter
from helpline.forms import service
from helpline.forms.schemas import (
    ABOUT_CHOICES,
    AGE_BANDS,
    FORMS,
    ReplyLookupSchema,
    ReplyWriteSchema,
)
from helpline.inbox import find, summaries
from helpline.inbox.errors import ConversationEnded
from helpline.text import UnreadableText

bp = Blueprint("forms", __name__)


@bp.after_request
def never_cache(response: Response) -> Response:
    # Codes, secrets and answers must not stay behind in a shared computer's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _limit(setting: str):
    return lambda: current_app.config[setting]


def _form_service(slug: str):
    service_row = find.get_service(slug)  # NotFound becomes a 404 page
    if not service_row.form:
        abort(404)
    return service_row


def _render_form(service_row, values: dict, errors: dict, status: int = 200):
    return (
        render_template(
            "forms/form.html",
            service=service_row,
            kind=service_row.form,
            values=values,
            errors=errors,
            submission_key=values.get("submission_key") or secrets.token_urlsafe(24),
            about_choices=ABOUT_CHOICES.get(service_row.form, ()),
            age_bands=AGE_BANDS,
        ),
        status,
    )


@bp.errorhandler(UnreadableText)
def unreadable(error: UnreadableText):
    # The answers cannot be shown again: they are what could not be read.
    if request.endpoint in ("forms.form", "forms.send"):
        service_row = _form_service(request.view_args["slug"])
        return _render_form(service_row, {}, {"form": [error.description]}, 400)
    errors = {"form": [error.description]}
    return render_template("forms/reply_lookup.html", values={}, errors=errors), 400


@bp.route("/form/<slug>", methods=["GET"])
def form(slug: str):
    return _render_form(_form_service(slug), {}, {})


@bp.route("/form/<slug>", methods=["POST"])
@csrf.exempt  # checked below, so that a failed check shows the form again with its answers
def send(slug: str):
    service_row = _form_service(slug)
    values = request.form.to_dict()
    if any(upload.filename for upload in request.files.values()):
        message = _(
            "Files and images cannot be sent here, only links. Remove the file and try again."
        )
        return _render_form(service_row, values, {"form": [message]}, 422)
    if not csrf_valid():
        message = _("The form had expired. Check your answers and send it again.")
        return _render_form(service_row, values, {"form": [message]}, 400)
    if values.get("leave_empty"):
        return _render_form(service_row, values, {"form": [_("The form could not be sent.")]}, 422)
    try:
        answers = FORMS[service_row.form]().load(values)
    except ValidationError as error:
        return _render_form(service_row, values, error.messages, 422)
    _count_sent_form()
    try:
        receipt = service.submit(service_row, answers, language=str(get_locale()))
    except service.AlreadySent:
        message = _("This form was already sent. To add something, use your code and secret.")
        return _render_form(service_row, {}, {"form": [message]}, 409)
    return render_template(
        "forms/thanks.html", service=service_row, code=receipt.code, secret=receipt.secret
    )


def _count_sent_form() -> None:
    """Count a valid form before it is stored, refusing it past FORM_RATE_LIMIT.

    Only valid forms count: someone correcting a mistake is not slowed down. Counting and
    checking are one step in the limiter's storage, so parallel requests cannot all slip under
    the limit, as they could between a check before and a count after the response.
    """
    try:
        allowed = limiter.limiter.hit(
            parse(current_app.config["FORM_RATE_LIMIT"]), "form", anonymous_rate_key()
        )
    except (RedisError, StorageError) as error:
        # The form is the way in that is always open: take it uncounted rather than lose it.
        current_app.logger.warning(
            "rate-limit storage unreachable (%s): form taken without counting",
            type(error).__name__,
        )
        return
    if not allowed:
        abort(429)


@bp.route("/form/reply", methods=["GET"])
def reply():
    return render_template("forms/reply_lookup.html", values={}, errors={})


@bp.route("/form/reply", methods=["POST"])
@csrf.exempt
# Only failed attempts count: they are what guessing looks like.
@limiter.limit(
    _limit("REPLY_LOOKUP_RATE_LIMIT"), deduct_when=lambda response: response.status_code != 200
)
def reply_lookup():
    values = request.form.to_dict()
    if not csrf_valid():
        errors = {"form": [_("The page had expired. Please enter your code and secret again.")]}
        return render_template("forms/reply_lookup.html", values=values, errors=errors), 400
    try:
        entered = ReplyLookupSchema().load(values)
        submission = service.find(entered["code"], entered["secret"])
    except (ValidationError, service.UnknownReply):
        # One answer for every way of being wrong: no hint which part was.
        errors = {"form": [_("We do not know this combination of code and secret.")]}
        return render_template("forms/reply_lookup.html", values={}, errors=errors), 422
    return _render_thread(submission)


@bp.route("/form/reply/write", methods=["POST"])
@csrf.exempt
@limiter.limit(_limit("REPLY_WRITE_RATE_LIMIT"))
def reply_write():
    values = request.form.to_dict()
    try:
        submission = service.by_access(values.get("access", ""))
    except service.UnknownReply:
        errors = {"form": [_("This page has expired. Please enter your code and secret again.")]}
        return render_template("forms/reply_lookup.html", values={}, errors=errors), 422
    if not csrf_valid():
        errors = {"form": [_("The page had expired. Please send your message again.")]}
        return _render_thread(submission, values.get("body", ""), errors, 400)
    try:
        written = ReplyWriteSchema().load(values)
        service.write_back(submission, written["client_msg_id"], written["body"])
    except ValidationError as error:
        return _render_thread(submission, values.get("body", ""), error.messages, 422)
    except ConversationEnded:
        errors = {"form": [_("This conversation has been closed. You can send a new form.")]}
        return _render_thread(submission, values.get("body", ""), errors, 409)
    return _render_thread(submission)


def _render_thread(submission, draft: str = "", errors: dict | None = None, status: int = 200):
    messages = service.thread(submission)
    return (
        render_template(
            "forms/reply.html",
            submission=submission,
            service=submission.conversation.service,
            answers=submission.answers,
            messages=messages,
            closed=submission.conversation.state == "closed",
            survey_url=summaries.offers(submission.conversation).get("survey_url"),
            access=service.access_token(submission),
            client_msg_id=secrets.token_urlsafe(24),
            draft=draft,
            errors=errors or {},
        ),
        status,
    )


@bp.route("/inbox/conversations/<int:conversation_id>/export", methods=["POST"])
@login_required
def export(conversation_id: int):
    text = service.export(conversation_id, current_user._get_current_object())
    return Response(
        text,
        mimetype="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="report-{conversation_id}.txt"',
        },
    )
