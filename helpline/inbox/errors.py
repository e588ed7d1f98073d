"""Domain errors of the inbox; each surface turns them into its own kind of 4xx answer."""


class InboxError(Exception):
    """Base: a request the rules of the inbox refuse."""

    code = "refused"
    status = 409
    default_message = "This cannot be done."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class NotFound(InboxError):
    code = "not_found"
    status = 404
    default_message = "Conversation not found."


class ConversationEnded(InboxError):
    code = "conversation_ended"
    default_message = "This conversation has ended."


class ConversationChanged(InboxError):
    code = "conversation_changed"
    default_message = "The conversation changed while this was sent; please try again."


class AlreadyAssigned(InboxError):
    code = "already_assigned"
    default_message = "Another counsellor already has this conversation."


class ChatLimitReached(InboxError):
    code = "chat_limit"
    default_message = "You have reached your limit of concurrent chats."


class NotAllowed(InboxError):
    code = "forbidden"
    status = 403
    default_message = "You are not allowed to do that."


class ServiceClosed(InboxError):
    code = "service_closed"
    default_message = "The chat is closed now."


class InvalidInput(InboxError):
    code = "invalid"
    status = 422
    default_message = "The request is not valid."


class InvalidState(InboxError):
    code = "invalid_state"
    default_message = "The conversation is not in a state that allows this."


class RateLimited(InboxError):
    code = "rate_limited"
    status = 429
    default_message = "Too many messages at once; wait a moment."
