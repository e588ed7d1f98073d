"""Pages of the follow-up sessions: booking, the therapist's agenda and availability, ICS feed,
and the client's page that opens a booked chat with its code."""

from datetime import UTC, datetime
from itertools import groupby
from urllib.parse import urlsplit

from babel.dates import format_datetime
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from icalendar import Calendar, Event
from marshmallow import ValidationError

from helpline.codes import group
from helpline.extensions import csrf, csrf_valid, db, limiter
from helpline.followup import bookings, calendar_feed, sessions, therapists
from helpline.followup.errors import UnknownBookingCode
from helpline.followup.models import Booking  # also makes the tables known to migrations
from helpline.followup.schemas import (
    BookingCodeSchema,
    BookingSchema,
    CancelSchema,
    ExceptionSchema,
    OutcomeSchema,
    RescheduleSchema,
    RuleSchema,
)
from helpline.inbox.errors import InboxError, NotAllowed, NotFound
from helpline.inbox.permissions import can
from helpline.timeutil import to_local, utcnow

bp = Blueprint("followup", __name__, url_prefix="/followup")
# The client's page lives outside /followup/ (a staff path, always English).
visitor_bp = Blueprint("followup_visitor", __name__)
# Registered along with `bp`, so the app factory lists one blueprint per feature.

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OUTCOME_LABELS = {
    "held": "Held",
    "no_show": "No-show",
    "cancelled": "Cancelled",
    "referred": "Referred into treatment",
}
STATUS_LABELS = {**OUTCOME_LABELS, "booked": "Booked", "rescheduled": "Moved"}


@bp.after_request
@visitor_bp.after_request
def never_cache(response: Response) -> Response:
    # Booking codes and the calendar address are shown once; nothing stays in a shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("session_time")
def session_time(moment_utc: datetime) -> str:
    """'Mon 30 Mar 2026 10:00' in local time."""
    return bookings.describe(moment_utc)


@bp.app_template_filter("local_hm")
def local_hm(moment_utc: datetime) -> str:
    return to_local(moment_utc).strftime("%H:%M")


def _me():
    return current_user._get_current_object()


def _limit(setting: str, default: str):
    return lambda: current_app.config.get(setting, default)


def _refused(error: InboxError) -> tuple[list[str], int]:
    """A refusal of the service as a form error; nothing was stored."""
    db.session.rollback()
    if isinstance(error, NotAllowed):
        raise error
    # A slot naming an unknown therapist is a tampered choice, not a missing page.
    return [error.message], 422 if isinstance(error, NotFound) else error.status


def _slot_days(slots: list[therapists.Slot]) -> list[tuple[str, list[dict]]]:
    """Free slots grouped by local day, each labelled with its time and therapist."""
    names = {t.id: t.display_name for t in therapists.therapists()}
    choices = [
        {
            "value": f"{slot.therapist_id}:{slot.starts_at.isoformat()}",
            "time": f"{local_hm(slot.starts_at)}-{local_hm(slot.ends_at)}",
            "therapist": names.get(slot.therapist_id, "?"),
            "day": to_local(slot.starts_at).strftime("%A %d %B %Y"),
        }
        for slot in slots
    ]
    return [(day, list(items)) for day, items in groupby(choices, key=lambda c: c["day"])]


def _public(endpoint: str, **values) -> str:
    return current_app.config["PUBLIC_URL"] + url_for(endpoint, **values)


# --- booking (counsellors) ------------------------------------------------------------------------


def _in_panel() -> bool:
    """Asked by the inbox's booking panel: a fragment for its <dialog>, not a whole page."""
    return request.args.get("panel") == "1"


def _render_book(page: dict, values: dict, errors: dict, status: int = 200):
    conversation = page["conversation"]
    return (
        render_template(
            "followup/_book_panel.html" if _in_panel() else "followup/book.html",
            conversation=conversation,
            bookings=page["bookings"],
            has_number=page["has_number"],
            days=_slot_days(therapists.free_slots()),
            values=values,
            errors=errors,
            status_labels=STATUS_LABELS,
            method=values.get("method") or ("phone" if conversation.channel == "phone" else "chat"),
        ),
        status,
    )


@bp.route("/book/<int:conversation_id>", methods=["GET", "POST"])
@login_required
def book(conversation_id: int):
    me = _me()
    page = bookings.booking_page(conversation_id, me)
    if request.method == "GET":
        return _render_book(page, {}, {})
    values = request.form.to_dict()
    try:
        chosen = BookingSchema().load(values)
    except ValidationError as error:
        return _render_book(page, values, error.messages, 422)
    therapist_id, starts_at = chosen["slot"]
    try:
        booked = bookings.book(
            conversation_id,
            me,
            therapist_id,
            starts_at,
            chosen["method"],
            share_transcript=chosen["share_transcript"],
            number=chosen["number"],
        )
    except InboxError as error:
        messages, status = _refused(error)
        return _render_book(page, values, {"form": messages}, status)
    starts = to_local(booked.booking.starts_at)
    return render_template(
        "followup/_booked_panel.html" if _in_panel() else "followup/booked.html",
        booking=booked.booking,
        code=group(booked.code) if booked.code else None,
        entry_url=_public("followup_visitor.booked_chat"),
        when_nl=format_datetime(
            starts, "EEEE d MMMM 'om' HH:mm", tzinfo=starts.tzinfo, locale="nl"
        ),
        when_en=format_datetime(
            starts, "EEEE d MMMM 'at' HH:mm", tzinfo=starts.tzinfo, locale="en"
        ),
    )


def _render_reschedule(booking: Booking, errors: dict, status: int = 200):
    return (
        render_template(
            "followup/reschedule.html",
            booking=booking,
            days=_slot_days(therapists.free_slots()),
            values={},
            errors=errors,
            back=request.values.get("back", ""),
        ),
        status,
    )


@bp.route("/bookings/<int:booking_id>/reschedule", methods=["GET", "POST"])
@login_required
def reschedule(booking_id: int):
    me = _me()
    booking = bookings.booking_for(booking_id, me, "reschedule_followup")
    if request.method == "GET":
        return _render_reschedule(booking, {})
    try:
        therapist_id, starts_at = RescheduleSchema().load(request.form.to_dict())["slot"]
    except ValidationError as error:
        return _render_reschedule(booking, error.messages, 422)
    try:
        moved = bookings.reschedule(booking_id, me, starts_at, therapist_id)
    except InboxError as error:
        messages, status = _refused(error)
        return _render_reschedule(booking, {"form": messages}, status)
    flash(f"The session was moved to {bookings.describe(moved.starts_at)}.")
    return _back(moved.conversation_id)


@bp.route("/bookings/<int:booking_id>/cancel", methods=["POST"])
@login_required
def cancel(booking_id: int):
    me = _me()
    booking = bookings.booking_for(booking_id, me, "cancel_followup")
    conversation_id = booking.conversation_id
    try:
        reason = CancelSchema().load(request.form.to_dict())["reason"]
        bookings.cancel(booking_id, me, reason)
    except ValidationError as error:
        return _back_with_error(conversation_id, [m for ms in error.messages.values() for m in ms])
    except InboxError as error:
        messages, status = _refused(error)
        return _back_with_error(conversation_id, messages, status)
    flash(f"The session of {bookings.describe(booking.starts_at)} was cancelled.")
    return _back(conversation_id)


def _to_agenda() -> bool:
    return request.form.get("back") == "agenda" or not can(_me(), "book_followup")


def _back(conversation_id: int):
    if _to_agenda():
        return redirect(url_for(".agenda"), 303)
    return redirect(url_for(".book", conversation_id=conversation_id), 303)


def _back_with_error(conversation_id: int, messages: list[str], status: int = 422):
    if _to_agenda():
        return _render_agenda(messages, status)
    page = bookings.booking_page(conversation_id, _me())
    return _render_book(page, {}, {"form": messages}, status)


# --- the therapist's agenda -----------------------------------------------------------------------


def _render_agenda(errors: list[str] | None = None, status: int = 200):
    me = _me()
    now = utcnow()
    listed = sessions.agenda(me, now=now)
    return (
        render_template(
            "followup/agenda.html",
            me=me,
            upcoming=[s for s in listed if s["booking"].ends_at >= now],
            recent=[s for s in listed if s["booking"].ends_at < now][::-1],
            outcomes=OUTCOME_LABELS,
            status_labels=STATUS_LABELS,
            now=now,
            errors=errors or [],
        ),
        status,
    )


@bp.route("/agenda")
@login_required
def agenda():
    return _render_agenda()


@bp.route("/bookings/<int:booking_id>/call", methods=["POST"])
@login_required
def call_client(booking_id: int):
    try:
        sessions.call_client(booking_id, _me())
    except InboxError as error:
        messages, status = _refused(error)
        return _render_agenda(messages, status)
    flash("Calling: your phone rings first, then the client is called from the service's number.")
    return redirect(url_for(".agenda"), 303)


@bp.route("/bookings/<int:booking_id>/outcome", methods=["POST"])
@login_required
def outcome(booking_id: int):
    me = _me()
    bookings.booking_for(booking_id, me, "record_outcome")
    try:
        chosen = OutcomeSchema().load(request.form.to_dict())
        recorded = sessions.record_outcome(booking_id, me, chosen["outcome"], chosen["note"])
    except ValidationError as error:
        return _render_agenda([m for ms in error.messages.values() for m in ms], 422)
    except InboxError as error:
        messages, status = _refused(error)
        return _render_agenda(messages, status)
    flash(
        f"Outcome of {bookings.describe(recorded.starts_at)}: {OUTCOME_LABELS[chosen['outcome']]}."
    )
    return redirect(url_for(".agenda"), 303)


@bp.route("/bookings/<int:booking_id>/transcript")
@login_required
def transcript(booking_id: int):
    messages = sessions.transcript(booking_id, _me())
    return render_template(
        "followup/transcript.html",
        booking=db.session.get(Booking, booking_id),
        messages=messages,
    )


# --- availability ---------------------------------------------------------------------------------


def _render_availability(therapist, forms: dict | None = None, status: int = 200):
    me = _me()
    return (
        render_template(
            "followup/availability.html",
            me=me,
            therapist=therapist,
            therapists=therapists.therapists() if can(me, "manage_availability") else [],
            current=therapists.availability(therapist.id),
            days=_slot_days(therapists.free_slots(therapist.id)),
            weekdays=WEEKDAYS,
            forms=forms or {},
        ),
        status,
    )


def _chosen_therapist():
    """The therapist of the page: oneself, or for a lead the one asked for (or the first)."""
    me = _me()
    wanted = request.values.get("therapist", type=int)
    if wanted is None and can(me, "manage_availability"):
        people = therapists.therapists()
        if not people:
            return None
        wanted = people[0].id
    if wanted is None and can(me, "manage_availability", me):
        wanted = me.id
    if wanted is None:
        raise NotAllowed("The availability pages are for therapists and supervisors.")
    return therapists.therapist_managed_by(me, wanted)


@bp.route("/availability")
@login_required
def availability():
    therapist = _chosen_therapist()
    if therapist is None:
        return render_template("followup/no_therapists.html")
    return _render_availability(therapist)


def _to_availability(therapist_id: int):
    return redirect(url_for(".availability", therapist=therapist_id), 303)


@bp.route("/availability/rules", methods=["POST"])
@login_required
def add_rule():
    therapist = _chosen_therapist()
    values = request.form.to_dict()
    try:
        rule = RuleSchema().load(values)
        therapists.add_rule(_me(), therapist.id, **rule)
    except ValidationError as error:
        return _render_availability(therapist, {"rule": (values, error.messages)}, 422)
    except InboxError as error:
        messages, status = _refused(error)
        return _render_availability(therapist, {"rule": (values, {"form": messages})}, status)
    flash(f"Added: {WEEKDAYS[rule['weekday']]}s {rule['starts']:%H:%M}-{rule['ends']:%H:%M}.")
    return _to_availability(therapist.id)


@bp.route("/availability/exceptions", methods=["POST"])
@login_required
def add_exception():
    therapist = _chosen_therapist()
    values = request.form.to_dict()
    try:
        exception = ExceptionSchema().load(values)
        therapists.add_exception(_me(), therapist.id, **exception)
    except ValidationError as error:
        return _render_availability(therapist, {"exception": (values, error.messages)}, 422)
    except InboxError as error:
        messages, status = _refused(error)
        return _render_availability(therapist, {"exception": (values, {"form": messages})}, status)
    flash(f"Added an exception on {exception['day']:%a %d %b %Y}.")
    return _to_availability(therapist.id)


@bp.route("/availability/rules/<int:rule_id>/delete", methods=["POST"])
@login_required
def remove_rule(rule_id: int):
    therapist = _chosen_therapist()
    therapists.remove_rule(_me(), rule_id)
    flash("The weekly block was removed; sessions booked in it stay booked.")
    return _to_availability(therapist.id)


@bp.route("/availability/exceptions/<int:exception_id>/delete", methods=["POST"])
@login_required
def remove_exception(exception_id: int):
    therapist = _chosen_therapist()
    therapists.remove_exception(_me(), exception_id)
    flash("The exception was removed.")
    return _to_availability(therapist.id)


# --- the calendar feed ----------------------------------------------------------------------------


@bp.route("/calendar/rotate", methods=["POST"])
@login_required
def rotate_calendar():
    token = calendar_feed.rotate_calendar_token(_me())
    return render_template(
        "followup/calendar_url.html", url=_public(".calendar", token=token), me=_me()
    )


@bp.route("/calendar/<token>.ics")
@limiter.limit(_limit("CALENDAR_RATE_LIMIT", "120 per hour"))
def calendar(token: str):
    therapist = calendar_feed.calendar_owner(token)
    if therapist is None:
        abort(404)
    host = urlsplit(current_app.config["PUBLIC_URL"]).hostname or "helpline"
    feed = Calendar()
    feed.add("prodid", "-//Helpline//Follow-up sessions//EN")
    feed.add("version", "2.0")
    feed.add("x-wr-calname", "Follow-up sessions")
    for booking in calendar_feed.calendar_sessions(therapist):
        event = Event()
        event.add("uid", f"booking-{booking.id}@{host}")
        changed = booking.outcome_at or booking.cancelled_at or booking.booked_at
        event.add("dtstamp", changed.replace(tzinfo=UTC))
        event.add("dtstart", booking.starts_at.replace(tzinfo=UTC))
        event.add("dtend", booking.ends_at.replace(tzinfo=UTC))
        event.add("summary", f"Follow-up session ({booking.method})")
        moved = booking.status in ("cancelled", "rescheduled")
        event.add("status", "CANCELLED" if moved else "CONFIRMED")
        feed.add_component(event)
    return Response(feed.to_ical(), mimetype="text/calendar; charset=utf-8")


# --- the client's entry to a booked chat ----------------------------------------------------------


@visitor_bp.route("/afspraak", methods=["GET"])
def booked_chat():
    return render_template("followup/booked_chat.html", errors=[])


@visitor_bp.route("/afspraak", methods=["POST"])
@csrf.exempt  # checked below, so that an expired page says so in the visitor's language
# Only failed attempts count: they are what guessing looks like.
@limiter.limit(
    _limit("BOOKING_CODE_RATE_LIMIT", "10 per hour"),
    deduct_when=lambda response: response.status_code != 303,
)
def open_booked_chat():
    if not csrf_valid():
        errors = [_("The page had expired. Please enter your code again.")]
        return render_template("followup/booked_chat.html", errors=errors), 400
    try:
        code = BookingCodeSchema().load(request.form.to_dict())["code"]
        conversation, token = sessions.open_booked_chat(code)
    except (ValidationError, UnknownBookingCode):
        errors = [
            _(
                "We do not know this code, or your appointment is not now. The chat opens "
                "15 minutes before the agreed time."
            )
        ]
        return render_template("followup/booked_chat.html", errors=errors), 422
    lang = {"lang": "en"} if request.args.get("lang") == "en" else {}
    # The fragment never reaches a server; the chat page stores the token and drops it.
    target = url_for("chat.chat", slug=conversation.service.slug, **lang)
    return redirect(f"{target}#resume={token}", 303)
