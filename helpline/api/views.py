"""The staff JSON API, /api/v1: conversations, categories, follow-up sessions and reports.

Each endpoint declares its schemas once, in `@endpoint` (endpoints.py); the page where staff
manage their API tokens is token_page.py.
"""

from datetime import date

from flask import Blueprint, Response, current_app, jsonify
from marshmallow import ValidationError

from helpline.api import commands, schemas
from helpline.api import service as api
from helpline.api.endpoints import endpoint
from helpline.api.token_page import pages_bp
from helpline.extensions import csrf
from helpline.followup import bookings, sessions, therapists
from helpline.followup.models import Booking
from helpline.inbox import conversations as inbox_conversations
from helpline.inbox import messages, summaries
from helpline.search import service as search
from helpline.search.schemas import SearchPage, SearchQuery

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.record_once(lambda state: state.app.register_blueprint(pages_bp))
csrf.exempt(bp)
bp.cli.add_command(commands.token)


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


@bp.get("/conversations/search")
@endpoint(
    "Search the conversations you may open: by words said, reply code, booking code, category"
    " and dates, newest first, a page at a time (every search is audited).",
    scope="conversations",
    query=SearchQuery,
    responses={200: SearchPage},
)
def search_conversations(user, query):
    return search.search(user, query)


@bp.get("/conversations/<int:conversation_id>")
@endpoint(
    "One conversation with its messages (the read is audited).",
    scope="conversations",
    query=schemas.ConversationQuery,
    responses={200: schemas.ConversationDetail},
    errors=(404,),
)
def conversation(user, conversation_id, query):
    return summaries.open_for_staff(conversation_id, user, query["since_seq"])


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
    posted = messages.post_staff_message(
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
        "author": posted.message.author_name,
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
        changed = inbox_conversations.claim(conversation_id, user)
    else:
        changed = inbox_conversations.transfer(conversation_id, user, body["to"], note=body["note"])
    return summaries.summary(changed)


@bp.post("/conversations/<int:conversation_id>/end")
@endpoint(
    "End the conversation: it goes to wrap-up.",
    scope="conversations",
    responses={200: schemas.ConversationRow},
    errors=(404, 409),
)
def end(user, conversation_id):
    return summaries.summary(inbox_conversations.end(conversation_id, user))


@bp.post("/conversations/<int:conversation_id>/close")
@endpoint(
    "Close after wrap-up, with a summary and one or more categories.",
    scope="conversations",
    body=schemas.CloseBody,
    responses={200: schemas.ConversationRow},
    errors=(404, 409),
)
def close(user, conversation_id, body):
    closed = inbox_conversations.close(conversation_id, user, body["summary"], body["categories"])
    return summaries.summary(closed)


@bp.get("/categories")
@endpoint(
    "The categories to choose from at closing.",
    scope="conversations",
    query=schemas.CategoriesQuery,
    responses={200: schemas.CategoryList},
    errors=(404,),
)
def categories(user, query):
    return {"categories": inbox_conversations.categories_offered(user, query.get("service"))}


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
