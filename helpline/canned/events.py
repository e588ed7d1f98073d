"""Socket event of the staff inbox for canned responses (namespace /inbox). See docs/protocol.md."""

from flask_login import current_user

from helpline.canned import service
from helpline.extensions import socketio
from helpline.inbox.schemas import ConversationRef
from helpline.sockets import acked

NS = "/inbox"


@socketio.on("canned_responses", namespace=NS)
@acked(ConversationRef(), staff=True)
def canned_responses(payload: dict) -> dict:
    return service.offered(current_user._get_current_object(), payload["conversation_id"])
