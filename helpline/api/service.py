"""Rules of the staff API: personal tokens, what each role may reach, and the pages of lists.

A token reads `hl_<prefix>_<secret>`. Only its keyed hash is stored; the prefix is kept in clear
so people can tell their tokens apart in a list. A token acts as its user, so the inbox's own
permissions apply to everything it does; the scopes below only keep whole areas from roles that
have no business there.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select, update

from helpline.api.models import ApiToken
from helpline.auth.models import StaffUser
from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.inbox import audit, summaries
from helpline.inbox.errors import InboxError, NotFound
from helpline.inbox.models import Conversation, Service
from helpline.inbox.permissions import can, require
from helpline.reports import figures
from helpline.timeutil import utcnow

TOKEN_FORMAT = re.compile(r"^hl_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
# Writing last_used_at on every request would make every read a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Areas of the API, and the action that reaches each (see helpline.inbox.permissions).
SCOPES = {
    "conversations": "api_conversations",
    "followup": "api_followup",
    "reports": "view_reports",
}
DEFAULT_STATES = ("queued", "active", "wrap_up")


class Unauthenticated(InboxError):
    code = "unauthenticated"
    status = 401
    default_message = "Send a valid API token: Authorization: Bearer hl_…"


@dataclass
class NewToken:
    """A token just made: the full value exists only here, to be shown once."""

    token: ApiToken
    value: str


# --- tokens -----------------------------------------------------------------------------------


def create_token(user: StaffUser, name: str) -> NewToken:
    """A new personal token of `user`; its value is returned once and never stored."""
    require(user, "manage_api_tokens")
    prefix = secrets.token_hex(4)
    value = f"hl_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(user_id=user.id, name=name.strip(), prefix=prefix, token_hash=_hash(value))
    db.session.add(token)
    audit.audit_change(user, "api_token.create", {"prefix": prefix})
    db.session.commit()
    return NewToken(token, value)


def tokens_of(user: StaffUser) -> list[ApiToken]:
    """A user's tokens, the working ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id)
        )
    )


def revoke_token(user: StaffUser, token_id: int) -> ApiToken:
    """Stop one of the user's own tokens from working (admins may stop anyone's)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or not can(user, "revoke_api_token", token):
        raise NotFound("That token does not exist.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.audit_change(user, "api_token.revoke", {"prefix": token.prefix})
        db.session.commit()
    return token


def authenticate(header: str | None, now: datetime | None = None) -> StaffUser:
    """The active user whose working token is in an `Authorization: Bearer` header."""
    scheme, _, value = (header or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not TOKEN_FORMAT.match(value):
        raise Unauthenticated()
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(value)))
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("This API token is unknown or has been revoked.")
    if not token.user.is_active:
        raise Unauthenticated("The account of this API token is switched off.")
    _touch(token, now or utcnow())
    return token.user


def require_scope(user: StaffUser, scope: str) -> None:
    """Raise NotAllowed unless the user may reach this area of the API."""
    require(user, SCOPES[scope])


# --- reading ----------------------------------------------------------------------------------


def conversations_page(
    user: StaffUser,
    *,
    service: str | None = None,
    channel: str | None = None,
    states: list[str] | None = None,
    mine: bool = False,
    limit: int = 50,
    before_id: int | None = None,
) -> tuple[list[dict], int | None]:
    """A page of inbox rows, newest conversation first, and the last id when more follow.

    Ordered by id alone so that a client walking the pages sees every row exactly once, however
    the conversations move between states in the meantime.
    """
    require(user, "list_conversations")
    mine = mine or not can(user, "watch_queue")
    query = select(Conversation).where(Conversation.state.in_(states or DEFAULT_STATES))
    if service:
        query = query.join(Service, Service.id == Conversation.service_id).where(
            Service.slug == service
        )
    if channel:
        query = query.where(Conversation.channel == channel)
    if mine:
        query = query.where(Conversation.assignee_id == user.id)
    if before_id is not None:
        query = query.where(Conversation.id < before_id)
    found = list(db.session.scalars(query.order_by(Conversation.id.desc()).limit(limit + 1)))
    page = found[:limit]
    return summaries.summaries(page), page[-1].id if len(found) > limit else None


def report(first: date, last: date, service: str | None) -> dict:
    """The report figures of a period as plain JSON values."""
    try:
        result = figures.report(figures.Period(first, last), service)
    except LookupError as error:
        raise NotFound("Unknown service.") from error
    return {
        "period": {"first": first.isoformat(), "last": last.isoformat()},
        "service": result.service,
        "moments": _plain(result.moments),
        "people": _plain(result.people),
        "categories": _plain(result.categories),
        "growth": _plain(result.growth),
        "funnel": _plain(result.funnel),
        "survey": _plain(result.survey),
        "times": _plain(result.times),
        "abandoned": _plain(result.abandoned),
        "week": _plain(result.week),
        "hours_available": _plain(result.hours_available),
    }


# --- internals --------------------------------------------------------------------------------


def _hash(value: str) -> str:
    return keyed_hash("api-token", value)


def _touch(token: ApiToken, now: datetime) -> None:
    if token.last_used_at is not None and token.last_used_at > now - LAST_USED_RESOLUTION:
        return
    # Conditional, so requests of the same minute on other workers write at most once.
    db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token.id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _plain(value):
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
