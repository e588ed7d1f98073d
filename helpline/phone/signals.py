"""Signals the phone line sends, so features can add to a call without the channel knowing them.

`talk_ended` is sent after commit when a caller's talk with a counsellor is over and the caller
may still be on the line: each receiver may return TwiML for what the caller hears next, or None.
Without an answer, the caller hears goodbye.
"""

from blinker import Namespace

_signals = Namespace()

talk_ended = _signals.signal("phone-talk-ended")
