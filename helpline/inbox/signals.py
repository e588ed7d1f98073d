"""Signals the inbox sends, so channels can add their own rules without the inbox knowing them.

`closing` is sent inside the closing transaction (receivers change rows in db.session; the
commit includes them). `message_posted` is sent after commit.
"""

from blinker import Namespace

_signals = Namespace()

closing = _signals.signal("conversation-closing")
message_posted = _signals.signal("message-posted")
