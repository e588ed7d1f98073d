"""Refusals a visitor gets when a new chat or a message is kept out. None says who decided."""

from helpline.inbox.errors import InboxError


class Blocked(InboxError):
    code = "blocked"
    status = 403
    default_message = "You cannot chat with us now. You can still use the contact form."


class TooManyChats(InboxError):
    code = "too_many_chats"
    status = 429
    default_message = "Many chats were started from here in a short while. Please try again later."


class QueueFull(InboxError):
    code = "queue_full"
    status = 503
    default_message = "Everyone is busy and the queue is full. Please use the contact form."
