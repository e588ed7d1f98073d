"""Canned responses: managed per service by supervisors and admins, filled in for the inbox.

A response's text may hold variables in braces, filled in for the counsellor who inserts it:
{counsellor} their name, {service} the service's name, {hours} its opening hours in words.
"""

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpline.auth.models import StaffUser
from helpline.canned.models import CannedResponse
from helpline.extensions import db
from helpline.inbox import audit, find, hours
from helpline.inbox.errors import InboxError, NotFound
from helpline.inbox.models import Conversation, Service
from helpline.inbox.permissions import require

VARIABLES = ("counsellor", "service", "hours")
DEFAULT_LANGUAGE = "nl"
_VARIABLE = re.compile(r"\{([^{}]*)\}")


class InvalidResponse(InboxError):
    """A canned response the rules refuse; `field` says which part of the form is wrong."""

    code = "invalid_canned_response"
    status = 422
    default_message = "This canned response cannot be saved."

    def __init__(self, message: str | None = None, field: str = "text"):
        super().__init__(message)
        self.field = field


def unknown_variables(text: str) -> list[str]:
    """The variables in `text` that are not in VARIABLES, in order of appearance."""
    found = dict.fromkeys(name for name in _VARIABLE.findall(text) if name not in VARIABLES)
    return list(found)


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each known variable replaced by its value."""
    return _VARIABLE.sub(lambda match: values.get(match[1], match[0]), text)


def values_for(user: StaffUser, service: Service, language: str) -> dict[str, str]:
    """What each variable says for this counsellor and service, in `language`."""
    return {
        "counsellor": user.display_name,
        "service": service.name,
        "hours": hours.in_words(service.opening_hours, language),
    }


def of_service(service: Service) -> list[CannedResponse]:
    """A service's responses by shortcut, Dutch before English."""
    return list(
        db.session.scalars(
            select(CannedResponse)
            .where(CannedResponse.service_id == service.id)
            .order_by(CannedResponse.shortcut, CannedResponse.language.desc())
        )
    )


def offered(user: StaffUser, conversation_id: int) -> dict:
    """The responses the composer of this conversation offers, filled in for `user`."""
    conversation = find.by_id(conversation_id)
    require(user, "use_canned_responses", conversation)
    service = conversation.service
    filled = {language: values_for(user, service, language) for language in hours.LANGUAGES}
    return {
        "service": service.slug,
        "language": language_of(conversation),
        "responses": [
            {
                "id": response.id,
                "shortcut": response.shortcut,
                "title": response.title,
                "language": response.language,
                "text": fill(response.text, filled[response.language]),
            }
            for response in of_service(service)
        ],
    }


def language_of(conversation: Conversation) -> str:
    """The language the conversation is held in where known, else Dutch."""
    return conversation.language or DEFAULT_LANGUAGE


def create(user: StaffUser, service_slug: str, fields: dict) -> CannedResponse:
    """Add a response (one language's version) to a service."""
    require(user, "manage_canned_responses")
    service = find.get_service(service_slug)
    response = CannedResponse(service_id=service.id)
    _apply(response, fields)
    db.session.add(response)
    _store(user, "canned.create", response)
    return response


def update(user: StaffUser, response_id: int, fields: dict) -> CannedResponse:
    """Change a response's shortcut, title, language or text."""
    require(user, "manage_canned_responses")
    response = get(response_id)
    _apply(response, fields)
    _store(user, "canned.update", response)
    return response


def remove(user: StaffUser, response_id: int) -> None:
    """Delete a response; messages it was used in keep their text."""
    require(user, "manage_canned_responses")
    response = get(response_id)
    detail = _described(response)
    db.session.delete(response)
    audit.audit_change(user, "canned.delete", detail)


def get(response_id: int) -> CannedResponse:
    """The response with this id, or NotFound."""
    response = db.session.get(CannedResponse, response_id)
    if response is None:
        raise NotFound("That canned response does not exist any more.")
    return response


def _apply(response: CannedResponse, fields: dict) -> None:
    unknown = unknown_variables(fields["text"])
    if unknown:
        db.session.rollback()
        names = ", ".join("{" + name + "}" for name in unknown)
        known = ", ".join("{" + name + "}" for name in VARIABLES)
        raise InvalidResponse(f"Unknown variable {names}: use only {known}.")
    for name in ("shortcut", "title", "language", "text"):
        setattr(response, name, fields[name])


def _store(user: StaffUser, action: str, response: CannedResponse) -> None:
    """Commit the response with its audit entry; a taken shortcut is refused readably."""
    try:
        audit.audit_change(user, action, _described(response))
    except IntegrityError as error:
        db.session.rollback()
        raise InvalidResponse(
            "This service already has a response with that shortcut in that language.",
            field="shortcut",
        ) from error


def _described(response: CannedResponse) -> dict:
    db.session.flush()
    return {
        "canned_response": response.id,
        "service": response.service_id,
        "shortcut": response.shortcut,
        "language": response.language,
    }
