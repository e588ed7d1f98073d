"""A message the server acked is stored, even when the server is killed a moment later.

50 chats send at once, visitors and counsellors alike, while the server is killed with SIGKILL
and started again on the same port; the clients connect again and send what was not acked once
more, with the same client_msg_id (docs/protocol.md, Reliability). Then the database must hold
every acked message once, under the seq its ack gave, and every conversation's seqs without a
gap. Real gunicorn processes, real PostgreSQL, real Redis, real python-socketio clients.
"""

import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import socketio
from sqlalchemy import func, select, update

from helpline.extensions import db
from helpline.inbox.models import Conversation, Message, Service
from tests import factories
from tests.servers import Server
from tests.test_two_servers import Peer, sign_in

# Starts real server processes: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

CHATS = 50
CHATS_EACH = 10  # per counsellor
# Sending lasts at least this long on each side of the kill (seconds), and until every sender
# has had ACKED_EACH_SIDE messages acked there, however slow a busy machine makes it.
SENDING_BEFORE_KILL = 2.0
SENDING_AFTER_RESTART = 2.0
ACKED_EACH_SIDE = 3
WAIT_FOR_ACKS = 20.0
PAUSE = 0.02  # between a sender's messages: a busy chat, not a flood
ACK_TIMEOUT = 10.0
GIVE_UP_AFTER = 20.0  # seconds after the restart, for a message still not acked
# Refusals after which the protocol says to send the same message again. A restarted server
# meets a PostgreSQL that may still count the killed server's connections: `server_error`.
RETRY_SAFE = {"server_error", "conversation_changed"}


@dataclass
class Sent:
    """One message as its sender knows it: what was sent, and the ack, once there is one."""

    conversation_id: int
    client_msg_id: str
    body: str
    # The server's life it first went out in (0 before the kill, 1 after the restart), and the
    # one its ack came from.
    first_sent_in: int | None = None
    ack: dict | None = None
    acked_in: int | None = None


class Crash:
    """What every sender shares: which life of the server this is, when the restarted server
    listens, and when to stop sending."""

    def __init__(self):
        self.life = 0
        self.back = threading.Event()
        self.stop = threading.Event()
        self.give_up_at = float("inf")

    def restarted(self) -> None:
        self.life = 1
        self.give_up_at = time.monotonic() + GIVE_UP_AFTER
        self.back.set()


class Sender(threading.Thread):
    """One connection sending message after message, each until it is acked; when the
    connection is lost it waits for the server, connects again and sends the same message."""

    def __init__(
        self,
        crash: Crash,
        peer: Peer,
        connect: Callable[[], Peer],
        message: Callable[[int], tuple[Sent, dict]],
    ):
        super().__init__(daemon=True)
        self.crash, self.connect, self.message = crash, connect, message
        self.sent: list[Sent] = []
        self._acked = threading.Condition()
        self.refusals: list[dict] = []
        self._woken = threading.Event()
        self._gone = False
        self._peer, self._life = self._watched(peer), 0

    def run(self) -> None:
        while not self.crash.stop.is_set():
            sent, payload = self.message(len(self.sent))
            self.sent.append(sent)
            while sent.ack is None and time.monotonic() < self.crash.give_up_at:
                ack = self._send(sent, payload)
                if ack is None:
                    self._reconnect()
                elif ack["ok"]:
                    with self._acked:
                        sent.ack, sent.acked_in = ack, self._life
                        self._acked.notify_all()
                else:
                    self.refusals.append(ack)
                    if ack["error"]["code"] not in RETRY_SAFE:
                        break
                    time.sleep(PAUSE)
            time.sleep(PAUSE)
        self._peer.close()

    def wait_for_acks(self, life: int, deadline: float) -> bool:
        """Wait until ACKED_EACH_SIDE messages first sent in this life of the server are acked
        in it; False if that takes past `deadline` (time.monotonic())."""

        def enough() -> bool:
            acked = sum(m.first_sent_in == m.acked_in == life for m in self.sent)
            return acked >= ACKED_EACH_SIDE

        with self._acked:
            return self._acked.wait_for(enough, max(0.0, deadline - time.monotonic()))

    def _send(self, sent: Sent, payload: dict) -> dict | None:
        """The ack, or None when the connection was lost first."""
        acks = []
        self._woken = woken = threading.Event()

        def answered(ack):
            acks.append(ack)
            woken.set()

        if self._gone:
            return None
        try:
            self._peer.sio.emit(
                "message", payload, namespace=self._peer.namespace, callback=answered
            )
        except socketio.exceptions.SocketIOError:
            return None
        if sent.first_sent_in is None:
            sent.first_sent_in = self._life
        woken.wait(ACK_TIMEOUT)
        return acks[0] if acks else None

    def _reconnect(self) -> None:
        self._peer.close()
        self.crash.back.wait()
        while time.monotonic() < self.crash.give_up_at:
            try:
                self._peer, self._life = self._watched(self.connect()), self.crash.life
                return
            except socketio.exceptions.ConnectionError:
                time.sleep(0.1)

    def _watched(self, peer: Peer) -> Peer:
        def lost(*_reason):
            if self._peer is peer:  # not a connection given up before, closing late
                self._gone = True
                self._woken.set()

        self._gone = False
        peer.sio.on("disconnect", lost, namespace=peer.namespace)
        return peer


@pytest.fixture
def server(app, database_url_for_tests, redis_url, tmp_path):
    env = {
        "DATABASE_URL": database_url_for_tests,
        "REDIS_URL": redis_url,
        "SOCKETIO_CHANNEL": f"acked-{uuid.uuid4().hex}",
        "SECRET_KEY": "acked-is-stored-secret",
        # Every client here is one address sending as fast as its acks come back.
        "LOGIN_RATE_LIMIT": "100 per minute",
        "CHAT_NEW_PER_ADDRESS": "1000",
        "VISITOR_MESSAGES_PER_MINUTE": "100000",
    }
    first = Server(env, log_path=tmp_path / "first.log")
    try:
        yield first.start()
    finally:
        first.stop()


def open_chat(url: str, number: int) -> tuple[Peer, str]:
    """A visitor who opened a chat: their connection and the conversation's token."""
    visitor = Peer(url, "/chat")
    first = {"service": "helpwanted", "visitor": secrets.token_urlsafe(32), "body": "Hallo"}
    ack = visitor.call("message", first | {"client_msg_id": f"v{number:02}-opening"})
    assert ack["ok"], ack
    return visitor, ack["token"]


def open_chats(url: str, staff: list[Peer]) -> list[tuple[Peer, str, int]]:
    """CHATS chats, opened at once and claimed, CHATS_EACH by each counsellor; for each the
    visitor's connection, token and conversation id."""
    db.session.execute(
        update(Service).where(Service.slug == "helpwanted").values(chat_queue_limit=CHATS)
    )
    db.session.commit()
    with ThreadPoolExecutor(CHATS) as pool:
        visitors = list(pool.map(lambda number: open_chat(url, number), range(CHATS)))
    opened = dict(
        db.session.execute(
            select(Message.client_msg_id, Message.conversation_id).where(
                Message.client_msg_id.like("v%-opening")
            )
        ).all()
    )
    conversation_ids = [opened[f"v{number:02}-opening"] for number in range(CHATS)]

    def claim_for(counsellor: int) -> None:
        for conversation_id in conversation_ids[counsellor :: len(staff)]:
            ack = staff[counsellor].call("claim", {"conversation_id": conversation_id})
            assert ack["ok"], ack

    with ThreadPoolExecutor(len(staff)) as pool:
        list(pool.map(claim_for, range(len(staff))))
    return [(v, token, c) for (v, token), c in zip(visitors, conversation_ids, strict=True)]


def visitor_sender(crash: Crash, url: str, number: int, chat: tuple[Peer, str, int]) -> Sender:
    visitor, token, conversation_id = chat

    def message(n: int) -> tuple[Sent, dict]:
        sent = Sent(conversation_id, f"v{number:02}-{n:05}", f"visitor {number}: {n}")
        return sent, {"token": token, "client_msg_id": sent.client_msg_id, "body": sent.body}

    return Sender(crash, visitor, lambda: Peer(url, "/chat"), message)


def counsellor_sender(
    crash: Crash, url: str, number: int, peer: Peer, cookie: str, conversations: list[int]
) -> Sender:
    def message(n: int) -> tuple[Sent, dict]:
        conversation_id = conversations[n % len(conversations)]
        sent = Sent(conversation_id, f"c{number:02}-{n:05}", f"counsellor {number}: {n}")
        payload = {"conversation_id": conversation_id, "client_msg_id": sent.client_msg_id}
        return sent, payload | {"body": sent.body}

    return Sender(crash, peer, lambda: Peer(url, "/inbox", {"Cookie": cookie}), message)


def stored_messages(conversation_ids: list[int]) -> dict[tuple[int, str], tuple[int, str]]:
    """(conversation id, client_msg_id) to (seq, body), for every message with an id."""
    rows = db.session.execute(
        select(Message.conversation_id, Message.client_msg_id, Message.seq, Message.body).where(
            Message.conversation_id.in_(conversation_ids), Message.client_msg_id.is_not(None)
        )
    )
    return {(c, m): (seq, body) for c, m, seq, body in rows}


def assert_seqs_without_gaps(conversation_ids: list[int]) -> None:
    """Every conversation's seqs are 1 up to its last seq, each once."""
    for conversation_id in conversation_ids:
        seqs = list(
            db.session.scalars(
                select(Message.seq)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.seq)
            )
        )
        last_seq = db.session.get(Conversation, conversation_id).last_seq
        assert seqs == list(range(1, last_seq + 1)), conversation_id


def chatting(crash: Crash, url: str) -> tuple[list[Sender], list[int]]:
    """CHATS chats, claimed by counsellors CHATS_EACH each, and for each visitor and each
    counsellor a sender, not started yet; and the conversations' ids."""
    counsellors = [
        factories.staff_user(f"Counsellor{k}", max_chats=CHATS_EACH)
        for k in range(CHATS // CHATS_EACH)
    ]
    with ThreadPoolExecutor(len(counsellors)) as pool:
        cookies = list(pool.map(lambda user: sign_in(url, user.email), counsellors))
    staff = [Peer(url, "/inbox", {"Cookie": cookie}) for cookie in cookies]
    chats = open_chats(url, staff)
    conversation_ids = [conversation_id for _, _, conversation_id in chats]
    senders = [visitor_sender(crash, url, n, chat) for n, chat in enumerate(chats)] + [
        counsellor_sender(crash, url, k, peer, cookies[k], conversation_ids[k :: len(staff)])
        for k, peer in enumerate(staff)
    ]
    return senders, conversation_ids


def send_through_a_kill(crash: Crash, senders: list[Sender], server: Server, log: Path) -> None:
    """The senders send; the server is killed while they do and started again on its port;
    they go on until each has had messages acked by the new server, then stop."""
    for sender in senders:
        sender.start()
    time.sleep(SENDING_BEFORE_KILL)
    deadline = time.monotonic() + WAIT_FOR_ACKS
    assert all(sender.wait_for_acks(0, deadline) for sender in senders)
    server.kill()
    with Server(server.env, port=server.port, log_path=log):
        crash.restarted()
        time.sleep(SENDING_AFTER_RESTART)
        deadline = time.monotonic() + WAIT_FOR_ACKS
        # Every sender came back and went on: its new messages are acked by the new server.
        went_on = all(sender.wait_for_acks(1, deadline) for sender in senders)
        crash.stop.set()
        for sender in senders:
            sender.join(timeout=GIVE_UP_AFTER + ACK_TIMEOUT)
    assert went_on and not any(sender.is_alive() for sender in senders)


def summary(sent: list[Sent], refused: Counter) -> str:
    """What the run did, in numbers."""
    acked_before = sum(m.acked_in == 0 for m in sent)
    in_flight = [m for m in sent if m.first_sent_in == 0 and m.acked_in == 1]
    stored_unanswered = sum(m.ack["duplicate"] for m in in_flight)
    return (
        f"{len(sent)} messages sent, {acked_before} acked before the kill, "
        f"{len(in_flight)} in flight at the kill ({stored_unanswered} of them stored before it, "
        f"{len(in_flight) - stored_unanswered} not), "
        f"{len(sent) - acked_before - len(in_flight)} sent after the restart; "
        f"refusals: {dict(refused)}"
    )


@pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
def test_every_acked_message_is_stored_once_after_the_server_is_killed(app, server, tmp_path):
    crash = Crash()
    senders, conversation_ids = chatting(crash, server.url)
    send_through_a_kill(crash, senders, server, tmp_path / "restarted.log")
    sent = [message for sender in senders for message in sender.sent]
    acked = [message for message in sent if message.ack is not None]
    refused = Counter(r["error"]["code"] for sender in senders for r in sender.refusals)
    db.session.rollback()
    stored = stored_messages(conversation_ids)

    # Each acked message is stored once, under the seq and with the text its ack gave.
    lost_or_changed = [
        (m.conversation_id, m.client_msg_id, m.ack["seq"])
        for m in acked
        if stored.get((m.conversation_id, m.client_msg_id)) != (m.ack["seq"], m.body)
    ]
    assert lost_or_changed == []
    duplicated = db.session.execute(
        select(Message.conversation_id, Message.client_msg_id)
        .where(Message.conversation_id.in_(conversation_ids), Message.client_msg_id.is_not(None))
        .group_by(Message.conversation_id, Message.client_msg_id)
        .having(func.count() > 1)
    ).all()
    assert duplicated == []
    assert_seqs_without_gaps(conversation_ids)
    # And every message was acked in the end, by the old server or the new one.
    assert [m.client_msg_id for m in sent if m.ack is None] == [], refused
    print("\n" + summary(sent, refused))
    # The kill caught messages on their way, as it is meant to.
    assert any(m.first_sent_in == 0 and m.acked_in == 1 for m in sent)
