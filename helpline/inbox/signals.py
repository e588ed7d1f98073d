"""Signals the inbox sends, so channels can add their own rules without the inbox knowing them.

`closing` is sent inside the closing transaction (receivers change rows in db.session; the
commit includes them). `claiming` is sent before a claim is written: a receiver may refuse it
by raising an InboxError. `claimed` and `message_posted` are sent after commit.
`summarising` asks channels for what the inbox list shows of their conversations: each
receiver returns a dict from conversation id to extra fields. `visitor_viewing` asks for what the
visitor's page shows besides the conversation's state: each receiver returns a dict of fields.
"""

from blinker import Namespace

_signals = Namespace()

closing = _signals.signal("conversation-closing")
message_posted = _signals.signal("message-posted")
claiming = _signals.signal("conversation-claiming")
claimed = _signals.signal("conversation-claimed")
summarising = _signals.signal("conversations-summarising")
visitor_viewing = _signals.signal("visitor-viewing")
