"""What the follow-up rules refuse, as domain errors the error handlers turn into responses."""

from helpline.inbox.errors import InboxError


class SlotTaken(InboxError):
    code = "slot_taken"
    default_message = "That time has just been booked; choose another."


class OutsideAvailability(InboxError):
    code = "outside_availability"
    status = 422
    default_message = "The therapist is not available at that time."


class SlotInPast(InboxError):
    code = "slot_in_past"
    status = 422
    default_message = "That time has passed; choose a time in the future."


class NoNumber(InboxError):
    code = "no_number"
    status = 422
    default_message = "There is no number to call: enter the number the client gave."


class UnknownBookingCode(InboxError):
    code = "unknown_code"
    status = 422
    default_message = "We do not know this code, or the session is not now."
