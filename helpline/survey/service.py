"""The survey after a contact: three yes/no questions and a comment, answered once.

A visitor reaches it through a signed ticket naming their conversation (not the token they
chat with, so a ticket in a log or a browser history opens nothing else); a caller answers by
keypad right after the call.
"""

from datetime import datetime

from flask import current_app, has_request_context, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from helpline.extensions import db
from helpline.inbox import signals
from helpline.inbox.errors import InboxError
from helpline.inbox.models import Conversation, Message
from helpline.survey.models import QUESTIONS, SurveyAnswer
from helpline.timeutil import utcnow

TICKET_DAYS = 14


class AlreadyAnswered(InboxError):
    code = "already_answered"
    default_message = "This survey has been answered already. Thank you!"


class UnknownTicket(InboxError):
    code = "unknown_ticket"
    status = 404
    default_message = "This survey link is not valid (any more)."


class NotEnded(InboxError):
    code = "not_ended"
    default_message = "The survey opens when the conversation has ended."


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="survey")


def ticket_for(conversation: Conversation) -> str:
    """The survey ticket of a conversation."""
    return _serializer().dumps(conversation.id)


def conversation_of(ticket: str) -> Conversation:
    """The conversation a ticket was made for, if the ticket is genuine and recent."""
    try:
        conversation_id = _serializer().loads(ticket, max_age=TICKET_DAYS * 86400)
    except BadSignature as error:
        raise UnknownTicket() from error
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise UnknownTicket()
    return conversation


def link_for(conversation: Conversation) -> str:
    """The visitor's link to the survey of a conversation, relative to the site."""
    ticket = ticket_for(conversation)
    if has_request_context():
        return url_for("survey.survey", ticket=ticket)
    # A state change outside a request (the visitor's grace period running out) has no URL
    # adapter of its own.
    return current_app.url_map.bind("").build("survey.survey", {"ticket": ticket})


def refuse_before_end(conversation: Conversation) -> None:
    """A chat's survey opens once the chat has ended."""
    if conversation.channel == "chat" and conversation.state in ("queued", "active"):
        raise NotEnded()


def is_answered(conversation_id: int) -> bool:
    """True when the conversation's survey was answered."""
    return (
        db.session.scalar(
            select(SurveyAnswer.id).where(SurveyAnswer.conversation_id == conversation_id)
        )
        is not None
    )


def answer(ticket: str, answers: dict, now: datetime | None = None) -> SurveyAnswer:
    """Store the answers of a visitor's survey, once."""
    conversation = conversation_of(ticket)
    refuse_before_end(conversation)
    row = SurveyAnswer(
        conversation_id=conversation.id,
        service_id=conversation.service_id,
        channel=conversation.channel,
        answered_at=now or utcnow(),
        comment=(answers.get("comment") or "").strip() or None,
        **{question: answers.get(question) for question in QUESTIONS},
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise AlreadyAnswered() from error
    return row


def answer_by_keypad(
    conversation_id: int, question: str, yes: bool, now: datetime | None = None
) -> None:
    """One keypad answer of a caller; a repeated report of the same key changes nothing."""
    if question not in QUESTIONS:
        raise ValueError(question)
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        return
    existing = db.session.scalar(
        select(SurveyAnswer.id).where(SurveyAnswer.conversation_id == conversation_id)
    )
    if existing is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    SurveyAnswer(
                        conversation_id=conversation_id,
                        service_id=conversation.service_id,
                        channel=conversation.channel,
                        answered_at=now or utcnow(),
                        **{question: yes},
                    )
                )
            db.session.commit()
            return
        except IntegrityError:
            pass
    db.session.execute(
        update(SurveyAnswer)
        .where(SurveyAnswer.conversation_id == conversation_id)
        .values({question: yes})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


@signals.visitor_viewing.connect
def offer_survey(conversation: Conversation) -> dict:
    """The link to the survey, until it is answered: once a chat has ended, or once a form's
    sender has an answer (or the conversation is closed)."""
    if conversation.channel == "chat":
        offered = conversation.state in ("wrap_up", "closed")
    elif conversation.channel == "form":
        offered = conversation.state == "closed" or _answered(conversation.id)
    else:
        offered = False
    if not offered or is_answered(conversation.id):
        return {}
    return {"survey_url": link_for(conversation)}


def _answered(conversation_id: int) -> bool:
    """A counsellor has written to the sender."""
    answer = select(Message.id).where(
        Message.conversation_id == conversation_id,
        Message.sender == "counsellor",
        Message.kind == "text",
    )
    return db.session.scalar(answer.limit(1)) is not None
