"""The survey by keypad after a call: three yes/no questions, each answered with 1 or 2."""

from flask import Blueprint, abort, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from helpline.extensions import csrf, db, limiter
from helpline.inbox.models import Conversation
from helpline.phone import schemas as phone_schemas
from helpline.phone import twiml
from helpline.phone.calls import talk_over
from helpline.phone.signals import talk_ended
from helpline.phone.views import webhook
from helpline.survey import service as survey
from helpline.survey.models import QUESTIONS

# Twilio's webhook under the phone line's prefix: signed, so neither CSRF nor rate limits apply.
bp = Blueprint("keypad_survey", __name__, url_prefix="/phone")
csrf.exempt(bp)
limiter.exempt(bp)


class SurveyStep(Schema):
    """The query of the survey's Gather action: which question, and whether it was repeated."""

    class Meta:
        unknown = EXCLUDE

    question = fields.String(data_key="q", required=True, validate=validate.OneOf(QUESTIONS))
    again = fields.Boolean(load_default=False)


@talk_ended.connect
def first_question(conversation: Conversation) -> str | None:
    """A caller of a service with the keypad survey hears its first question after the talk."""
    if not conversation.service.phone_survey:
        return None
    return twiml.survey_question(QUESTIONS[0], intro=True)


def survey_key(call_sid: str, question: str, digits: str, again: bool) -> str:
    """A key for one survey question after the talk: 1 yes, 2 no; another key asks once more.

    Each answer is stored at once, so a caller who hangs up midway keeps what they gave.
    """
    conversation = talk_over(call_sid)
    if conversation is None or not conversation.service.phone_survey:
        db.session.rollback()
        return twiml.goodbye()
    if digits in ("1", "2"):
        survey.answer_by_keypad(conversation.id, question, digits == "1")
    elif not again:
        db.session.rollback()
        return twiml.survey_question(question, again=True)
    db.session.rollback()
    following = QUESTIONS[QUESTIONS.index(question) + 1 :]
    if following:
        return twiml.survey_question(following[0])
    return twiml.goodbye(twiml.SURVEY_THANKS)


@bp.post("/survey")
@webhook(phone_schemas.MenuChoice())
def answer(params: dict) -> str:
    try:
        step = SurveyStep().load(request.args)
    except ValidationError:
        abort(400, "The survey question is missing or unknown.")
    return survey_key(params["call_sid"], step["question"], params["digits"], step["again"])
