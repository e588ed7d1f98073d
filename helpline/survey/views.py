"""The visitor's survey page (Dutch by default)."""

from flask import Blueprint, Response, render_template, request
from marshmallow import ValidationError

from helpline.extensions import limiter
from helpline.survey import service
from helpline.survey.models import QUESTIONS
from helpline.survey.schemas import SurveyForm

bp = Blueprint("survey", __name__)


@bp.after_request
def never_cache(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/enquete/<ticket>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def survey(ticket: str):
    conversation = service.conversation_of(ticket)
    if service.is_answered(conversation.id):
        return render_template("survey/thanks.html", service=conversation.service, already=True)
    try:
        service.refuse_before_end(conversation)
    except service.NotEnded:
        return render_template(
            "survey/thanks.html", service=conversation.service, not_ended=True
        ), 409
    if request.method == "GET":
        return render_template(
            "survey/survey.html",
            service=conversation.service,
            ticket=ticket,
            questions=QUESTIONS,
            values={},
            errors={},
        )
    try:
        answers = SurveyForm().load(request.form.to_dict())
    except ValidationError as error:
        return render_template(
            "survey/survey.html",
            service=conversation.service,
            ticket=ticket,
            questions=QUESTIONS,
            values=request.form,
            errors=error.messages,
        ), 422
    try:
        service.answer(ticket, answers)
    except service.AlreadyAnswered:
        return render_template("survey/thanks.html", service=conversation.service, already=True)
    except service.NotEnded:
        return render_template(
            "survey/thanks.html", service=conversation.service, not_ended=True
        ), 409
    return render_template("survey/thanks.html", service=conversation.service, already=False)
