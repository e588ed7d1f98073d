"""The live /inbox sockets of staff members: the rooms each may join, and ending them all when
that person's sessions end (sign-out, deactivation, a new password, a 2FA reset).

Every server records its staff sockets in the database. When someone's sessions end, the server
that hears it disconnects each of their sockets by id: python-socketio's message queue hands a
disconnect of a socket held elsewhere to the server that holds it, which takes it out of every
room at once. (Rooms are per server and there is no way to list another server's members, so the
sockets are listed here.)
"""

from flask import Flask
from flask_socketio import disconnect
from sqlalchemy import delete, select

from helpline.auth.models import StaffUser
from helpline.auth.signals import sessions_ended
from helpline.extensions import db
from helpline.inbox import board, broadcast, staff_status
from helpline.inbox.models import Service, StaffConnection
from helpline.inbox.permissions import can


def rooms_of(user: StaffUser) -> list[str]:
    """The /inbox rooms a staff member's socket joins: their own, and the queues they watch."""
    services = db.session.scalars(select(Service).order_by(Service.id))
    queues = [broadcast.queue_room(s.id) for s in services if can(user, "watch_queue", s)]
    return [broadcast.staff_room(user.id), *queues]


def opened(user: StaffUser, sid: str, board_only: bool = False) -> bool:
    """Record a new socket of `user` (an inbox, or only a board); False when their session
    ended in the meantime."""
    token = user.session_token
    db.session.add(StaffConnection(sid=sid, user_id=user.id, board_only=board_only))
    db.session.commit()
    # A sign-out that listed the sockets before this one was recorded is seen here instead.
    db.session.refresh(user)
    if user.session_token != token or not user.is_active:
        closed(sid)
        return False
    if not board_only:
        staff_status.came_online(user)
        board.changed()
    return True


def board_only(sid: str) -> bool:
    """Whether this socket is a supervisor board's."""
    return bool(
        db.session.scalar(select(StaffConnection.board_only).where(StaffConnection.sid == sid))
    )


def closed(sid: str) -> None:
    """Forget a socket that has gone; the last one of its person ends their status period."""
    user_id = db.session.scalar(
        delete(StaffConnection).where(StaffConnection.sid == sid).returning(StaffConnection.user_id)
    )
    db.session.commit()
    if user_id is None:
        return
    still = db.session.scalar(
        select(StaffConnection.sid)
        .where(StaffConnection.user_id == user_id, StaffConnection.board_only.is_(False))
        .limit(1)
    )
    if still is None:
        staff_status.went_offline(user_id)
    else:
        db.session.rollback()
        board.changed()


@sessions_ended.connect
def end_connections(sender: Flask, user_id: int, **extra) -> None:
    """Disconnect every live /inbox socket of a staff member, on every server."""
    sids = list(
        db.session.scalars(select(StaffConnection.sid).where(StaffConnection.user_id == user_id))
    )
    db.session.execute(delete(StaffConnection).where(StaffConnection.user_id == user_id))
    db.session.commit()
    staff_status.went_offline(user_id)
    for sid in sids:
        disconnect(sid=sid, namespace=broadcast.INBOX)
