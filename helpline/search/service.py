"""Searching conversations: only among those the searcher may open, a page at a time, audited.

What was said is matched by full-text search on PostgreSQL and by LIKE on SQLite (matching.py);
codes by their keyed hashes, as they are stored. A purged conversation's words are gone: it is
found by its other filters only, and without an excerpt.
"""

from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import ColumnElement, func, or_, select

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.followup.bookings import code_hash as booking_code_hash
from helpline.followup.models import Booking
from helpline.forms.models import FormSubmission
from helpline.forms.service import reply_code_hash
from helpline.inbox import audit, summaries
from helpline.inbox.models import Category, Conversation, ConversationCategory, Message, Service
from helpline.inbox.permissions import conversations_allowed, require
from helpline.search.matching import excerpt, said
from helpline.timeutil import to_utc

# What people wrote, and staff's private notes; not events such as "Anna joined".
WORDS = ("text", "note")


@dataclass
class Search:
    """The filters of one search (each None: not filtered on) and which page."""

    text: str | None = None
    reply_code: str | None = None
    booking_code: str | None = None
    category: int | None = None
    service: str | None = None
    channel: str | None = None
    state: str | None = None
    first: date | None = None
    last: date | None = None
    limit: int = 20
    before_id: int | None = None


@dataclass
class Found:
    """A page of conversations found, newest first, and where the next page starts (or None)."""

    conversations: list[dict]
    next: int | None


def search(user: StaffUser, wanted: Search) -> Found:
    """The conversations `user` may open that match every filter, newest first (audited)."""
    require(user, "search_conversations")
    query = select(Conversation).where(
        conversations_allowed(user, "view_conversation"), *conditions(wanted)
    )
    if wanted.before_id is not None:
        query = query.where(Conversation.id < wanted.before_id)
    found = list(db.session.scalars(query.order_by(Conversation.id.desc()).limit(wanted.limit + 1)))
    page, more = found[: wanted.limit], len(found) > wanted.limit
    rows = summaries.summaries(page)
    excerpts = snippets(page, wanted.text)
    for row in rows:
        row["snippet"] = excerpts.get(row["id"])
    detail = {"filters": described(wanted), "hits": len(page), "more": more}
    audit.record(user, "conversation.search", None, detail | {"shown": [c.id for c in page]})
    db.session.commit()
    return Found(rows, page[-1].id if more else None)


def conditions(wanted: Search) -> list[ColumnElement[bool]]:
    """The SQL conditions on Conversation for the filters given."""
    found = []
    if wanted.text:
        found.append(Conversation.purged_at.is_(None))
        found.append(Conversation.id.in_(_said_in(wanted.text)))
    if wanted.reply_code:
        digest = reply_code_hash(wanted.reply_code)
        found.append(
            Conversation.id.in_(
                select(FormSubmission.conversation_id).where(FormSubmission.code_hash == digest)
            )
        )
    if wanted.booking_code:
        found.append(_booked_with(booking_code_hash(wanted.booking_code)))
    if wanted.category is not None:
        found.append(Conversation.id.in_(_tagged_with(wanted.category)))
    if wanted.service:
        found.append(
            Conversation.service_id.in_(select(Service.id).where(Service.slug == wanted.service))
        )
    if wanted.channel:
        found.append(Conversation.channel == wanted.channel)
    if wanted.state:
        found.append(Conversation.state == wanted.state)
    if wanted.first:
        found.append(Conversation.created_at >= to_utc(wanted.first, time.min))
    if wanted.last:
        found.append(Conversation.created_at < to_utc(wanted.last + timedelta(days=1), time.min))
    return found


def _said_in(text: str):
    return select(Message.conversation_id).where(Message.kind.in_(WORDS), said(Message.body, text))


def _booked_with(digest: str) -> ColumnElement[bool]:
    # The conversation the session was booked for, and the chat the client opened with the code.
    return or_(
        Conversation.id.in_(select(Booking.conversation_id).where(Booking.code_hash == digest)),
        Conversation.id.in_(
            select(Booking.chat_conversation_id).where(
                Booking.code_hash == digest, Booking.chat_conversation_id.is_not(None)
            )
        ),
    )


def _tagged_with(category_id: int):
    family = select(Category.id).where(
        or_(Category.id == category_id, Category.parent_id == category_id)
    )
    return select(ConversationCategory.conversation_id).where(
        ConversationCategory.category_id.in_(family)
    )


def snippets(conversations: list[Conversation], text: str | None) -> dict[int, str]:
    """An excerpt per conversation: of its newest message that matches `text` (or of its newest
    message), around the words looked for. None for a purged conversation."""
    ids = [c.id for c in conversations if c.purged_at is None]
    if not ids:
        return {}
    matching = [said(Message.body, text)] if text else []
    newest = (
        select(
            Message.conversation_id,
            Message.body,
            func.row_number()
            .over(partition_by=Message.conversation_id, order_by=Message.seq.desc())
            .label("newest"),
        )
        .where(Message.conversation_id.in_(ids), Message.kind.in_(WORDS), *matching)
        .subquery()
    )
    rows = db.session.execute(
        select(newest.c.conversation_id, newest.c.body).where(newest.c.newest == 1)
    )
    return {conversation_id: excerpt(body, text) for conversation_id, body in rows if body}


def described(wanted: Search) -> dict:
    """The filters as the audit log keeps them: which kinds of filter, never the words or codes
    looked for (docs/privacy.md)."""
    kept = {
        name: value
        for name in ("service", "channel", "state", "category", "before_id")
        if (value := getattr(wanted, name)) is not None
    }
    kept |= {
        key: value.isoformat()
        for key, value in (("from", wanted.first), ("to", wanted.last))
        if value is not None
    }
    kept |= {name: True for name in ("text", "reply_code", "booking_code") if getattr(wanted, name)}
    return kept
