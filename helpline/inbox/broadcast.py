"""Socket rooms and emits. Called by the service only after its transaction has committed.

Rooms: on /chat, `conv:<id>` holds the visitor's connections. On /inbox, `queue:<service id>`
holds the staff who may watch that service's queue (`can(user, "watch_queue", service)`),
`staff:<user id>` one person's connections and `conv:<id>` the staff who have that conversation
open. A message goes to its conversation's rooms and to its assignee only, so the cost of a
message does not grow with the number of staff online; a therapist, in no queue room, receives
only their own conversations.
"""

from helpline.extensions import socketio

CHAT = "/chat"
INBOX = "/inbox"


def conversation_room(conversation_id: int) -> str:
    return f"conv:{conversation_id}"


def staff_room(user_id: int) -> str:
    return f"staff:{user_id}"


def queue_room(service_id: int) -> str:
    return f"queue:{service_id}"


def to_visitor(
    conversation_id: int, event: str, payload: dict, skip_sid: str | None = None
) -> None:
    socketio.emit(
        event, payload, to=conversation_room(conversation_id), namespace=CHAT, skip_sid=skip_sid
    )


def to_viewers(conversation_id: int, event: str, payload: dict) -> None:
    socketio.emit(event, payload, to=conversation_room(conversation_id), namespace=INBOX)


def to_staff(event: str, payload: dict, user_id: int) -> None:
    socketio.emit(event, payload, to=staff_room(user_id), namespace=INBOX)


def to_queue(service_id: int, event: str, payload: dict, assignee_id: int | None = None) -> None:
    """To the staff watching a service's queue, and its assignee (each connection once)."""
    rooms = [queue_room(service_id)]
    if assignee_id is not None:
        rooms.append(staff_room(assignee_id))
    socketio.emit(event, payload, to=rooms, namespace=INBOX)


def to_assignee_and_viewers(conversation, event: str, payload: dict) -> None:
    """To a conversation's assignee and the staff who have it open (each connection once)."""
    rooms = [conversation_room(conversation.id)]
    if conversation.assignee_id is not None:
        rooms.append(staff_room(conversation.assignee_id))
    socketio.emit(event, payload, to=rooms, namespace=INBOX)
