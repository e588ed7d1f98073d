"""The staff JSON API, /api/v1, and the page where staff manage their API tokens (/api/tokens).

Each endpoint declares its schemas once, in `@endpoint`: the same schemas validate the request,
shape the answer and make the OpenAPI document.
"""

import functools
from dataclasses import dataclass, field
from datetime import date

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import BadRequest

from helpline.api import commands, schemas
from helpline.api import service as api
from helpline.api.models import ApiToken
from helpline.extensions import csrf
from helpline.followup import bookings, sessions, therapists
from helpline.followup.models import Booking
from helpline.inbox import service as inbox
from helpline.inbox.errors import NotFound
from helpline.text import Text

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The token page is a staff page with a session and CSRF; the API itself takes only tokens.
pages_bp = Blueprint("api_tokens", __name__, url_prefix="/api")
bp.record_once(lambda state: state.app.register_blueprint(pages_bp))
csrf.exempt(bp)
bp.cli.add_command(commands.token)


@dataclass
class Operation:
    """What the OpenAPI document says of one endpoint."""

    summary: str
    scope: str | None
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    responses: dict[int, type[Schema] | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()


def endpoint(
    summary: str,
    *,
    scope: str | None,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    responses: dict[int, type[Schema] | None],
    errors: tuple[int, ...] = (),
):
    """Authenticate, validate the query and JSON body, call the view, dump its answer.

    The view gets the user, its path values, and `query` and `body` as loaded; it returns the
    answer's data, or (data, status) when more than one status is documented.
    """
    operation = Operation(summary, scope, query, body, responses, errors)

    def decorate(view):
        @functools.wraps(view)
        def run(**path):
            user = api.authenticate(request.headers.get("Authorization"))
            api.require_scope(user, scope)
            for name, value in path.items():
                if isinstance(value, int) and value > schemas.INT_MAX:
                    raise NotFound(f"No such {name.removesuffix('_id')}.")
            if query is not None:
                path["query"] = query().load(_query_values(query))
            if body is not None:
                path["body"] = body().load(_json_object())
            answer = view(user, **path)
            data, status = answer if isinstance(answer, tuple) else (answer, min(responses))
            return jsonify(responses[status]().dump(data)), status

        run.operation = operation
        return run

    return decorate


def _query_values(schema: type[Schema]) -> dict:
    values = {}
    for name, declared in schema().fields.items():
        key = declared.data_key or name
        if key not in request.args:
            continue
        if isinstance(declared, fields.List):
            values[key] = request.args.getlist(key)
        else:
            values[key] = request.args[key]
    return values


def _json_object():
    # get_json raises 400 for malformed JSON and 415 without a JSON content type; the decoder
    # gives up on very deep nesting with a RecursionError, which is no error of the server.
    try:
        return request.get_json()
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply.") from None


@bp.errorhandler(ValidationError)
def invalid(error: ValidationError):
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return (
        jsonify(
            {
                "error": {
                    "code": "invalid",
                    "message": "; ".join(
                        f"{name}: {_first(problem)}" for name, problem in messages.items()
                    ),
                    "fields": messages,
                }
            }
        ),
        422,
    )


def _first(problem) -> str:
    if isinstance(problem, list):
        return _first(problem[0]) if problem else "invalid"
    if isinstance(problem, dict):
        return _first(next(iter(problem.values()))) if problem else "invalid"
    return str(problem)


@bp.after_request
def api_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="helpline"'
    return response


# --- the OpenAPI document ---------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    from helpline.api.openapi import document

    return jsonify(document(current_app))


# --- conversations ----------------------------------------------------------------------------


@bp.get("/conversations")
@endpoint(
    "List conversations, newest first, a page at a time.",
    scope="conversations",
    query=schemas.ConversationListQuery,
    responses={200: schemas.ConversationPage},
)
def conversations(user, query):
    rows, last = api.conversations_page(
        user,
        service=query.get("service"),
        channel=query.get("channel"),
        states=query.get("state"),
        mine=query["mine"],
        limit=query["limit"],
        before_id=query.get("cursor"),
    )
    return {"conversations": rows, "next": last}


@bp.get("/conversations/<int:conversation_id>")
@endpoint(
    "One conversation with its messages (the read is audited).",
    scope="conversations",
    query=schemas.ConversationQuery,
    responses={200: schemas.ConversationDetail},
    errors=(404,),
)
def conversation(user, conversation_id, query):
    return inbox.open_for_staff(conversation_id, user, query["since_seq"])


@bp.post("/conversations/<int:conversation_id>/messages")
@endpoint(
    "Reply to the visitor, or add a private note; a retry with the same client_msg_id is stored"
    " once.",
    scope="conversations",
    body=schemas.ReplyBody,
    responses={201: schemas.MessageOut, 200: schemas.MessageOut},
    errors=(404, 409),
)
def reply(user, conversation_id, body):
    posted = inbox.post_staff_message(
        conversation_id, user, body["client_msg_id"], body["body"], note=body["note"]
    )
    payload = {
        "conversation_id": posted.conversation.id,
        "seq": posted.message.seq,
        "client_msg_id": posted.message.client_msg_id,
        "sender": posted.message.sender,
        "kind": posted.message.kind,
        "event": posted.message.event,
        "body": posted.message.body,
        "author": posted.message.author.display_name if posted.message.author else None,
        "created_at": posted.message.created_at,
    }
    return payload, 201 if posted.created else 200


@bp.post("/conversations/<int:conversation_id>/assign")
@endpoint(
    "Take a waiting conversation (to: null or your id), or transfer it to a colleague.",
    scope="conversations",
    body=schemas.AssignBody,
    responses={200: schemas.ConversationRow},
    errors=(404, 409),
)
def assign(user, conversation_id, body):
    if body["to"] in (None, user.id):
        changed = inbox.claim(conversation_id, user)
    else:
        changed = inbox.transfer(conversation_id, user, body["to"])
    return inbox.summary(changed)


@bp.post("/conversations/<int:conversation_id>/end")
@endpoint(
    "End the conversation: it goes to wrap-up.",
    scope="conversations",
    responses={200: schemas.ConversationRow},
    errors=(404, 409),
)
def end(user, conversation_id):
    return inbox.summary(inbox.end(conversation_id, user))


@bp.post("/conversations/<int:conversation_id>/close")
@endpoint(
    "Close after wrap-up, with a summary and one or more categories.",
    scope="conversations",
    body=schemas.CloseBody,
    responses={200: schemas.ConversationRow},
    errors=(404, 409),
)
def close(user, conversation_id, body):
    closed = inbox.close(conversation_id, user, body["summary"], body["categories"])
    return inbox.summary(closed)


@bp.get("/categories")
@endpoint(
    "The categories to choose from at closing.",
    scope="conversations",
    query=schemas.CategoriesQuery,
    responses={200: schemas.CategoryList},
    errors=(404,),
)
def categories(user, query):
    return {"categories": inbox.categories_offered(user, query.get("service"))}


# --- follow-up --------------------------------------------------------------------------------


@bp.get("/followup/slots")
@endpoint(
    "Free session times of the therapists (or one), earliest first.",
    scope="followup",
    query=schemas.SlotsQuery,
    responses={200: schemas.SlotList},
)
def slots(user, query):
    found = therapists.free_slots(query.get("therapist"), query.get("first_day"), query["days"])
    return {"slots": found}


@bp.post("/conversations/<int:conversation_id>/followups")
@endpoint(
    "Book a follow-up session with a therapist for the conversation's client.",
    scope="conversations",
    body=schemas.BookingBody,
    responses={201: schemas.BookingOut},
    errors=(404, 409),
)
def book(user, conversation_id, body):
    booked = bookings.book(
        conversation_id,
        user,
        body["therapist_id"],
        body["starts_at"],
        body["method"],
        share_transcript=body["share_transcript"],
        number=body["number"],
    )
    return _booking(booked.booking, booked.code), 201


@bp.get("/conversations/<int:conversation_id>/followups")
@endpoint(
    "The conversation's follow-up sessions, moved and cancelled ones included (the read is"
    " audited).",
    scope="conversations",
    responses={200: schemas.FollowupList},
    errors=(404,),
)
def followups(user, conversation_id):
    # The booking page's own read: the same permission, the same audit entry.
    page = bookings.booking_page(conversation_id, user)
    return {"followups": [_followup(booking) for booking in page["bookings"]]}


@bp.post("/followups/<int:booking_id>/reschedule")
@endpoint(
    "Move a booked session to another free time, or therapist; the old booking stays as history.",
    scope="followup",
    body=schemas.RescheduleBody,
    responses={201: schemas.FollowupOut},
    errors=(404, 409),
)
def reschedule(user, booking_id, body):
    moved = bookings.reschedule(booking_id, user, body["starts_at"], body["therapist_id"])
    return _followup(moved), 201


@bp.post("/followups/<int:booking_id>/cancel")
@endpoint(
    "Cancel a booked session before it ends; its time is free again.",
    scope="followup",
    body=schemas.CancelBody,
    responses={200: schemas.FollowupOut},
    errors=(404, 409),
)
def cancel(user, booking_id, body):
    return _followup(bookings.cancel(booking_id, user, body["reason"]))


@bp.post("/followups/<int:booking_id>/outcome")
@endpoint(
    "Record how a session went (the session's therapist, or a supervisor).",
    scope="followup",
    body=schemas.OutcomeBody,
    responses={200: schemas.BookingOut},
    errors=(404, 409),
)
def outcome(user, booking_id, body):
    return _booking(sessions.record_outcome(booking_id, user, body["outcome"], body["note"]))


def _booking(booking: Booking, code: str | None = None) -> dict:
    return {
        "id": booking.id,
        "conversation_id": booking.conversation_id,
        "therapist_id": booking.therapist_id,
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
        "method": booking.method,
        "status": booking.status,
        "transcript_shared": booking.transcript_shared,
        "code": code,
    }


def _followup(booking: Booking) -> dict:
    return {
        "id": booking.id,
        "conversation_id": booking.conversation_id,
        "therapist": {"id": booking.therapist.id, "name": booking.therapist.display_name},
        "starts_at": booking.starts_at,
        "ends_at": booking.ends_at,
        "method": booking.method,
        "status": booking.status,
        "rescheduled_from_id": booking.rescheduled_from_id,
        "transcript_shared": booking.transcript_shared,
    }


# --- reports ----------------------------------------------------------------------------------


@bp.get("/reports")
@endpoint(
    "The report figures of a year, or of a period from-to, for one service or all.",
    scope="reports",
    query=schemas.ReportQuery,
    responses={200: schemas.ReportOut},
    errors=(404,),
)
def reports(user, query):
    if "year" in query:
        first, last = date(query["year"], 1, 1), date(query["year"], 12, 31)
    else:
        first, last = query["first"], query["last"]
    return api.report(first, last, query.get("service"))


# --- the token page ---------------------------------------------------------------------------


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
