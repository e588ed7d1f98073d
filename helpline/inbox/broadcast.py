"""Socket rooms and emits. Called by the service only after its transaction has committed.

Rooms: on /chat, `conv:<id>` holds the visitor's connections. On /inbox, `staff` holds every
staff connection, `staff:<user id>` one person's connections and `conv:<id>` the staff who have
that conversation open. A message goes to its conversation's rooms and to its assignee only, so
the cost of a message does not grow with the number of staff online.
"""

from helpline.extensions import socketio

CHAT = "/chat"
INBOX = "/inbox"


def conversation_room(conversation_id: int) -> str:
    return f"conv:{conversation_id}"


def staff_room(user_id: int | None = None) -> str:
    return "staff" if user_id is None else f"staff:{user_id}"


def to_visitor(
    conversation_id: int, event: str, payload: dict, skip_sid: str | None = None
) -> None:
    socketio.emit(
        event, payload, to=conversation_room(conversation_id), namespace=CHAT, skip_sid=skip_sid
    )


def to_viewers(conversation_id: int, event: str, payload: dict) -> None:
    socketio.emit(event, payload, to=conversation_room(conversation_id), namespace=INBOX)


def to_staff(event: str, payload: dict, user_id: int | None = None) -> None:
    socketio.emit(event, payload, to=staff_room(user_id), namespace=INBOX)
