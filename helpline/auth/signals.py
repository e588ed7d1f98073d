"""Signals of staff accounts, so the live inbox can act on them without auth knowing it.

`sessions_ended` is sent after commit whenever every session of a staff member stops being
valid (sign-out, deactivation, a new password, a 2FA reset): receivers take that person's live
sockets out of every room, on every server. Sent with `user_id`.
"""

from blinker import Namespace

_signals = Namespace()

sessions_ended = _signals.signal("staff-sessions-ended")
