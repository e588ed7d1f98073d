"""Finding a service or a conversation: by its slug, its id, or the token a visitor holds."""

from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import lazyload

from helpline.codes import derived_token, keyed_hash
from helpline.extensions import db
from helpline.inbox import hours
from helpline.inbox.errors import NotFound
from helpline.inbox.models import Conversation, Service
from helpline.timeutil import utcnow


def get_service(slug: str) -> Service:
    """The service with this slug, or NotFound."""
    service = db.session.scalar(select(Service).where(Service.slug == slug))
    if service is None:
        raise NotFound("Unknown service.")
    return service


def is_open(service: Service, now: datetime | None = None) -> bool:
    """True when the service's chat is open at `now`."""
    return service.chat_enabled and within_hours(service, now)


def within_hours(service: Service, now: datetime | None = None) -> bool:
    """True inside the service's opening hours (the phone line keeps them without a chat)."""
    moment = now or utcnow()
    return hours.is_open(service.opening_hours, moment, current_app.config["TIMEZONE"])


def by_id(conversation_id: int) -> Conversation:
    """The conversation with this id, or NotFound."""
    conversation = db.session.get(Conversation, conversation_id, options=_alone)
    if conversation is None:
        raise NotFound()
    return conversation


def by_token(token: str) -> Conversation:
    """The conversation a visitor holds the token of, or NotFound."""
    conversation = db.session.scalar(_by_token_hash, {"token_hash": token_hash(token)})
    if conversation is None:
        raise NotFound()
    return conversation


# A conversation is found on its own, without its service and assignee: every message finds its
# conversation and needs neither, and what does need them loads them when it reads them (the
# assignee of a counsellor's own message is the signed-in user, loaded already).
_alone = [lazyload(Conversation.service), lazyload(Conversation.assignee)]

# Built once: every message a visitor sends finds its conversation with it.
_by_token_hash = (
    select(Conversation).where(Conversation.token_hash == bindparam("token_hash")).options(*_alone)
)


def token_hash(token: str) -> str:
    """What the database keeps of a conversation token: a dump of it opens no chat."""
    return keyed_hash("conversation", token)


def chat_token(secret: str) -> str:
    """A chat's token, made again from what the visitor (and only they) hold: a retried first
    message, or a booking code entered again, gets the same token back."""
    return derived_token("conversation", secret)
