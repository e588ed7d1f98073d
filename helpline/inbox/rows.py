"""What an inbox row shows to tell conversations apart: who the visitor is (a label), what was
said last (a preview, only for those who may read it) and since when the visitor waits.

Each rule is written here once; `summaries` puts them on the rows, `announce` on the live
updates of a row.
"""

from datetime import datetime

from sqlalchemy import and_, bindparam, func, select

from helpline.auth.models import StaffUser
from helpline.extensions import db
from helpline.inbox.models import Conversation, Message
from helpline.inbox.permissions import can

# Backgrounds for the visitor's letter, each at least 4.5:1 against its white letter (WCAG AA).
PALETTE = (
    "#1f5f8b",  # blue
    "#8a3b12",  # rust
    "#2e6b30",  # green
    "#6b3fa0",  # purple
    "#a1283c",  # crimson
    "#0f6a6a",  # teal
    "#735700",  # olive
    "#9c2f6e",  # plum
)
# No I, O or Q: they read as 1 and 0. 23 letters and 8 colours: neighbouring conversations
# differ in both, and a pair repeats only after 184 conversations.
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
PREVIEW_CHARS = 80


def visitor_label(conversation_id: int, age_band: str | None = None) -> dict:
    """The visitor as staff tell them apart: "Visitor 12 · 16-17", a letter and a colour, all
    derived from the conversation's number (never from what the visitor said or is)."""
    name = f"Visitor {conversation_id}"
    if age_band:
        name = f"{name} · {age_band}"
    return {
        "name": name,
        "letter": LETTERS[conversation_id % len(LETTERS)],
        "colour": PALETTE[conversation_id % len(PALETTE)],
    }


def may_preview(user: StaffUser | None, conversation: Conversation) -> bool:
    """Whether `user` may see the last message on the conversation's row."""
    return user is not None and can(user, "preview_messages", conversation)


def preview_of(sender: str, body: str) -> dict:
    """The preview of a message: who wrote it and the start of its text, on one line."""
    text = " ".join(body.split())
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1].rstrip() + "…"
    return {"sender": sender, "text": text}


def previews(conversations: list[Conversation]) -> dict[int, dict | None]:
    """The preview of each conversation's last text (reply or visitor's words; never a note or
    an event); None where there is none, or its words were purged."""
    ids = [c.id for c in conversations if c.purged_at is None]
    found: dict[int, dict | None] = {c.id: None for c in conversations}
    if ids:
        for conversation_id, sender, body in db.session.execute(_last_texts, {"ids": ids}):
            found[conversation_id] = preview_of(sender, body)
    return found


def with_previews(
    rows: list[dict], conversations: list[Conversation], viewer: StaffUser | None
) -> list[dict]:
    """Add `preview` to the rows whose conversation `viewer` may preview (the others get none)."""
    shown = [c for c in conversations if may_preview(viewer, c)]
    found = previews(shown)
    return [row | {"preview": found[row["id"]]} if row["id"] in found else row for row in rows]


def waiting_since(conversations: list[Conversation]) -> dict[int, datetime | None]:
    """Since when each visitor waits: since the first of their messages that nobody answered
    yet (a reply answers; a note does not), or, in the queue, since they were queued. Nobody
    waits once the conversation has ended."""
    found: dict[int, datetime | None] = {c.id: None for c in conversations}
    talking = [c.id for c in conversations if c.state == "active"]
    if talking:
        found.update(db.session.execute(_unanswered, {"ids": talking}).all())
    for c in conversations:
        if c.state == "queued":
            found[c.id] = c.waiting_since
    return found


# Built once: each row's last text, and each visitor's first unanswered message.
_ids = bindparam("ids", expanding=True)
_last_text_seq = (
    select(Message.conversation_id, func.max(Message.seq).label("seq"))
    .where(Message.conversation_id.in_(_ids), Message.kind == "text")
    .group_by(Message.conversation_id)
    .subquery()
)
_last_texts = select(Message.conversation_id, Message.sender, Message.body).join(
    _last_text_seq,
    and_(
        Message.conversation_id == _last_text_seq.c.conversation_id,
        Message.seq == _last_text_seq.c.seq,
    ),
)
_last_reply = (
    select(Message.conversation_id, func.max(Message.seq).label("seq"))
    .where(
        Message.conversation_id.in_(_ids),
        Message.sender == "counsellor",
        Message.kind == "text",
    )
    .group_by(Message.conversation_id)
    .subquery()
)
_unanswered = (
    select(Message.conversation_id, func.min(Message.created_at))
    .outerjoin(_last_reply, _last_reply.c.conversation_id == Message.conversation_id)
    .where(
        Message.conversation_id.in_(_ids),
        Message.sender == "visitor",
        Message.kind == "text",
        Message.seq > func.coalesce(_last_reply.c.seq, 0),
    )
    .group_by(Message.conversation_id)
)
