"""Silent monitoring: a supervisor follows a colleague's active conversation read-only, and may
whisper to its counsellor. Nothing here ever sends to the visitor (/chat).

A watch is one supervisor socket following one conversation. It is a row, so that every server
can tell the counsellor who is watching. The socket's disconnect ends its watches (signing out
disconnects it). A server that dies cannot report its disconnects: each server renews the
watches of its own sockets every WATCHERS_RENEW_SECONDS, and a watch left unrenewed for
STALE_AFTER renewals is no longer listed and is ended by the next renewal of any server.
"""

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from helpline.auth.models import StaffUser
from helpline.errors import log_unexpected
from helpline.extensions import db, socketio
from helpline.inbox import audit, broadcast, find, messages, signals, summaries
from helpline.inbox.errors import InvalidState
from helpline.inbox.models import Conversation, ConversationWatcher
from helpline.inbox.payloads import message_payload
from helpline.inbox.permissions import require
from helpline.timeutil import utcnow

# A watch starts on a conversation a colleague is having; a whisper reaches them until they
# have finished its wrap-up.
WATCHED_STATES = ("active",)
WHISPERED_STATES = ("active", "wrap_up")
STALE_AFTER = 3


def watch(conversation_id: int, user: StaffUser, sid: str, since_seq: int = 0) -> dict:
    """Follow a colleague's active conversation from socket `sid` (audited), and open it from
    `since_seq` as the counsellor would. Watching again from the same socket only catches up."""
    conversation = find.by_id(conversation_id)
    require(user, "monitor", conversation)
    if conversation.state not in WATCHED_STATES or conversation.assignee_id in (None, user.id):
        raise InvalidState("Only a colleague's active conversation can be watched.")
    if _start(conversation, user, sid):
        _watches().add(sid, conversation_id)
        _keep_renewing(current_app._get_current_object())
        announce_watchers([conversation_id])
    return summaries.open_for_staff(conversation_id, user, since_seq)


def _start(conversation: Conversation, user: StaffUser, sid: str) -> bool:
    """Record the watch of `sid`; False when that socket watches already."""
    exists = select(ConversationWatcher.id).where(
        ConversationWatcher.sid == sid, ConversationWatcher.conversation_id == conversation.id
    )
    if db.session.scalar(exists) is not None:
        return False
    db.session.add(ConversationWatcher(sid=sid, conversation_id=conversation.id, user_id=user.id))
    audit.record(user, "watch.start", conversation)
    try:
        db.session.commit()
    except IntegrityError:  # the same socket asked twice at once
        db.session.rollback()
        return False
    return True


def unwatch(conversation_id: int, sid: str) -> None:
    """Stop following a conversation from socket `sid` (audited); nothing if it did not."""
    _end(
        ConversationWatcher.sid == sid,
        ConversationWatcher.conversation_id == conversation_id,
        reason="stopped",
    )


def disconnected(sid: str) -> None:
    """End every watch of a socket that has gone."""
    _end(ConversationWatcher.sid == sid, reason="disconnected")


def expire(now: datetime | None = None) -> None:
    """End the watches no server has renewed for a while: their server died."""
    _end(ConversationWatcher.renewed_at < _fresh_since(now or utcnow()), reason="expired")


def renew(sids: list[str], now: datetime | None = None) -> None:
    """The sockets `sids` (this server's) still watch what they watched."""
    db.session.execute(
        update(ConversationWatcher)
        .where(ConversationWatcher.sid.in_(sids))
        .values(renewed_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _end(*where, reason: str) -> None:
    rows = list(db.session.scalars(select(ConversationWatcher).where(*where)))
    if not rows:
        return
    for row in rows:
        watcher = db.session.get(StaffUser, row.user_id)
        conversation = db.session.get(Conversation, row.conversation_id)
        audit.record(watcher, "watch.end", conversation, {"reason": reason})
        _watches().discard(row.sid, row.conversation_id)
    ids = [row.id for row in rows]
    db.session.execute(delete(ConversationWatcher).where(ConversationWatcher.id.in_(ids)))
    db.session.commit()
    announce_watchers({row.conversation_id for row in rows})


def watchers(conversation_ids: Iterable[int], now: datetime | None = None) -> dict[int, list]:
    """Who watches each of these conversations (each person once, first come first)."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    query = (
        select(ConversationWatcher.conversation_id, StaffUser.id, StaffUser.display_name)
        .join(StaffUser, StaffUser.id == ConversationWatcher.user_id)
        .where(ConversationWatcher.conversation_id.in_(ids))
        .order_by(ConversationWatcher.started_at, ConversationWatcher.id)
    )
    if current_app.config["WATCHERS_RENEW_SECONDS"]:
        query = query.where(ConversationWatcher.renewed_at >= _fresh_since(now or utcnow()))
    found: dict[int, list] = {}
    for conversation_id, user_id, name in db.session.execute(query):
        people = found.setdefault(conversation_id, [])
        if all(p["id"] != user_id for p in people):
            people.append({"id": user_id, "name": name})
    return found


@signals.summarising.connect
def watchers_in_rows(conversations: list[Conversation], **extra) -> dict[int, dict]:
    """An inbox row names who watches its conversation (`watchers`, absent when nobody)."""
    return {
        conversation_id: {"watchers": people}
        for conversation_id, people in watchers(c.id for c in conversations).items()
    }


def announce_watchers(conversation_ids: Iterable[int]) -> None:
    """Tell each conversation's counsellor, and those who have it open, who watches it now."""
    found = watchers(conversation_ids)
    for conversation_id in conversation_ids:
        conversation = db.session.get(Conversation, conversation_id)
        payload = {"conversation_id": conversation_id, "watchers": found.get(conversation_id, [])}
        broadcast.to_assignee_and_viewers(conversation, "watchers", payload)


def whisper(conversation_id: int, user: StaffUser, client_msg_id: str, body: str):
    """A supervisor's private note to the counsellor: stored once (audited) before it is acked,
    shown to the staff who have the conversation open and to its counsellor, never sent to
    the visitor. Returns the `messages.Posted`."""

    def read() -> Conversation:
        conversation = find.by_id(conversation_id)
        require(user, "whisper", conversation)
        if conversation.state not in WHISPERED_STATES or conversation.assignee_id in (
            None,
            user.id,
        ):
            raise InvalidState("A whisper goes to the counsellor who has the conversation.")
        return conversation

    posted = messages.post_staff(read, user, client_msg_id, body, "whisper", event="whisper")
    if posted.created:
        # Also when the counsellor is looking at another of their chats.
        payload = message_payload(posted.message, posted.conversation)
        broadcast.to_staff("whisper", payload, posted.conversation.assignee_id)
    return posted


# --- this server's watching sockets, renewed while they watch ---------------------------------


class Watches:
    """The watching sockets this server process holds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.of_sid: dict[str, set[int]] = {}
        self.renewing = False

    def add(self, sid: str, conversation_id: int) -> None:
        """`sid` watches a conversation."""
        with self.lock:
            self.of_sid.setdefault(sid, set()).add(conversation_id)

    def discard(self, sid: str, conversation_id: int) -> None:
        """`sid` no longer watches a conversation."""
        with self.lock:
            watched = self.of_sid.get(sid, set())
            watched.discard(conversation_id)
            if not watched:
                self.of_sid.pop(sid, None)

    def sids(self) -> list[str]:
        """The sockets that watch something."""
        with self.lock:
            return list(self.of_sid)


def _watches(app: Flask | None = None) -> Watches:
    return (app or current_app).extensions.setdefault("watches", Watches())


def _fresh_since(now: datetime) -> datetime:
    return now - timedelta(seconds=STALE_AFTER * current_app.config["WATCHERS_RENEW_SECONDS"])


def _keep_renewing(app: Flask) -> None:
    """Renew this server's watches, and end those of dead servers, while it holds any."""
    interval = app.config["WATCHERS_RENEW_SECONDS"]
    held = _watches(app)
    with held.lock:
        if not interval or held.renewing:
            return
        held.renewing = True

    def run() -> None:
        while True:
            socketio.sleep(interval)
            sids = held.sids()
            with held.lock:
                if not held.of_sid:
                    held.renewing = False
                    return
            with app.app_context():
                try:
                    renew(sids)
                    expire()
                except Exception:
                    db.session.rollback()
                    log_unexpected(app.logger, "renewing the watches failed")
                finally:
                    db.session.remove()

    socketio.start_background_task(run)
