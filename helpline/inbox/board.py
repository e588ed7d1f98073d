"""The supervisor board: queues, who is online in which status, long waits and today's
contacts, computed from the database in one place and pushed live to the `board` room.

Every change that moves a figure calls `changed()` after its commit. The board is then
recomputed and sent at most once per BOARD_EMIT_SECONDS per server process, in a background
task, so a burst of changes costs one computation and no request waits for it.
"""

import threading
import time as clock
from collections import Counter
from datetime import datetime, time

from flask import Flask, current_app
from sqlalchemy import func, select

from helpline.auth.models import StaffUser
from helpline.extensions import db, socketio
from helpline.inbox import broadcast, summaries
from helpline.inbox.errors import InvalidState
from helpline.inbox.models import (
    CHANNELS,
    ContactMoment,
    Conversation,
    Service,
    StaffConnection,
    StaffStatusPeriod,
)
from helpline.inbox.permissions import require
from helpline.timeutil import iso, local_today, to_utc, utcnow

ROOM = "board"


def for_staff(user: StaffUser, *, board_page: bool) -> dict:
    """The board for someone who may watch it, from the board page's own socket (only those
    are counted as watching)."""
    require(user, "view_board")
    if not board_page:
        raise InvalidState("Open the board page to follow the board.")
    return board()


def board(now: datetime | None = None) -> dict:
    """Everything the board shows, as of `now`."""
    now = now or utcnow()
    threshold = current_app.config["BOARD_WAIT_WARNING_SECONDS"]
    services = list(db.session.scalars(select(Service).order_by(Service.id)))
    waiting = _waiting(services, now, threshold)
    return {
        "generated_at": iso(now),
        "threshold_seconds": threshold,
        "queues": _queues(services, waiting),
        "waiting": waiting,
        "staff": _staff_online(),
        "today": _today(services),
    }


def _waiting(services: list[Service], now: datetime, threshold: int) -> list[dict]:
    """Every waiting conversation, longest waiting first."""
    names = {s.id: s for s in services}
    since = func.coalesce(Conversation.waiting_since, Conversation.created_at)
    rows = db.session.execute(
        select(Conversation.id, Conversation.service_id, Conversation.channel, since)
        .where(Conversation.state == "queued")
        .order_by(since, Conversation.id)
    )
    waiting = []
    for conversation_id, service_id, channel, started in rows:
        seconds = max(0, int((now - started).total_seconds()))
        waiting.append(
            {
                "id": conversation_id,
                "service": names[service_id].slug,
                "service_name": names[service_id].name,
                "channel": channel,
                "waiting_since": iso(started),
                "waiting_seconds": seconds,
                "over_threshold": seconds >= threshold,
            }
        )
    return waiting


def _queues(services: list[Service], waiting: list[dict]) -> list[dict]:
    """Queue length and longest wait per service and channel."""
    queues = []
    for service in services:
        for channel in CHANNELS:
            here = [w for w in waiting if w["service"] == service.slug and w["channel"] == channel]
            queues.append(
                {
                    "service": service.slug,
                    "service_name": service.name,
                    "channel": channel,
                    "waiting": len(here),
                    # The list is longest first.
                    "longest_since": here[0]["waiting_since"] if here else None,
                    "longest_wait_seconds": here[0]["waiting_seconds"] if here else None,
                }
            )
    return queues


def _staff_online() -> list[dict]:
    """Staff with an inbox open: their status and how many chats they have."""
    online = select(StaffConnection.user_id).where(StaffConnection.board_only.is_(False))
    people = db.session.scalars(
        select(StaffUser).where(StaffUser.id.in_(online)).order_by(StaffUser.display_name)
    ).all()
    load = summaries.chats_per_counsellor()
    periods = dict(
        db.session.execute(
            select(StaffStatusPeriod.user_id, StaffStatusPeriod.status).where(
                StaffStatusPeriod.ended_at.is_(None)
            )
        ).all()
    )
    return [
        {
            "id": person.id,
            "name": person.display_name,
            "role": person.role,
            "status": periods.get(person.id),
            "active_chats": load.get(person.id, 0),
            "max_chats": person.max_chats,
        }
        for person in people
    ]


def _today(services: list[Service]) -> list[dict]:
    """Contact moments since local midnight, per service and channel."""
    midnight = to_utc(local_today(), time(0))
    counted = Counter(
        {
            (service_id, channel): count
            for service_id, channel, count in db.session.execute(
                select(ContactMoment.service_id, ContactMoment.channel, func.count())
                .where(ContactMoment.started_at >= midnight)
                .group_by(ContactMoment.service_id, ContactMoment.channel)
            )
        }
    )
    rows = []
    for service in services:
        per_channel = {channel: counted[(service.id, channel)] for channel in CHANNELS}
        rows.append(
            {
                "service": service.slug,
                "service_name": service.name,
                **per_channel,
                "total": sum(per_channel.values()),
            }
        )
    return rows


# --- live updates -------------------------------------------------------------------------------


class _Throttle:
    """One pending board update per app and process, sent no sooner than `interval` after the
    last one."""

    def __init__(self, interval: float):
        self.interval = interval
        self.lock = threading.Lock()
        self.pending = False
        self.last = 0.0


def changed() -> None:
    """Something on the board changed (after commit): send the board soon, once, if a board
    is open anywhere."""
    app = current_app._get_current_object()
    if not _watched():
        return
    throttle = app.extensions.get("board_throttle")
    if throttle is None:
        throttle = app.extensions.setdefault(
            "board_throttle", _Throttle(app.config["BOARD_EMIT_SECONDS"])
        )
    with throttle.lock:
        if throttle.pending:
            return
        throttle.pending = True
    socketio.start_background_task(_send_later, app, throttle)


def _watched() -> bool:
    """Whether a board page is open on any server (on a connection of its own, so the
    caller's session and transaction are left as they are)."""
    with db.engine.connect() as connection:
        return (
            connection.execute(
                select(StaffConnection.sid).where(StaffConnection.board_only.is_(True)).limit(1)
            ).first()
            is not None
        )


def _send_later(app: Flask, throttle: _Throttle) -> None:
    wait = throttle.last + throttle.interval - clock.monotonic()
    if wait > 0:
        socketio.sleep(wait)
    with throttle.lock:
        throttle.pending = False
        throttle.last = clock.monotonic()
    with app.app_context():
        try:
            payload = board()
        finally:
            db.session.remove()
        socketio.emit("board_changed", payload, to=ROOM, namespace=broadcast.INBOX)
