"""The staff's socket event for blocking a visitor (namespace /inbox). See docs/protocol.md."""

from flask_login import current_user

from helpline.abuse import service
from helpline.abuse.schemas import BlockSchema
from helpline.extensions import socketio
from helpline.sockets import acked


@socketio.on("block_visitor", namespace="/inbox")
@acked(BlockSchema(), staff=True)
def block_visitor(payload: dict) -> dict:
    blocked = service.block(
        payload["conversation_id"],
        current_user._get_current_object(),
        payload["hours"],
        payload["reason"],
    )
    return {"block": {"id": blocked.id, "until": blocked.until.isoformat() + "Z"}}
