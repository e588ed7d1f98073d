"""The visitor's chat page and the inbox keep every message once, in order, while their
connections are cut again and again and both sides type.

Both Chromium pages reach the server through a proxy. The proxy cuts every connection (as a
restarted server or a lost network does) and each page drops its own now and then (the browser
goes offline for a moment); each time the page connects again by itself and catches up. At the
end each page must show what the database holds: every message once, in seq order (the visitor
without the notes).
"""

import random
import threading
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from sqlalchemy import create_engine, select

from helpline.inbox.models import Message
from tests.browsers import send, sign_in, start_chromium, wait
from tests.servers import CuttingProxy, demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

# The drops, in turn: the proxies cut both pages' connections, or one page goes offline.
DROPS = ("cut", "visitor", "cut", "inbox", "cut") * 13
RECONNECTS = 100  # new connections of the pages, at least, over all the drops
EVERY_NOTE = 5  # of the counsellor's messages, one in this many is a private note
PAUSE = 0.05  # between a page's messages: both type fast
# The page's own drop: engine.io-client closes its connection when the browser goes offline.
GO_OFFLINE = "window.dispatchEvent(new Event('offline'))"
SHOWN = """return [...document.querySelectorAll('#messages > [data-seq]')].map(el => [
  Number(el.dataset.seq), (el.querySelector('.msg__body') || el).textContent]);"""
UNACKED = "#messages .msg--pending, #messages .msg--failed"


@pytest.fixture
def server(tmp_path, redis_url):
    # Live events go through Redis, as in production: an ack can overtake the live event of
    # an earlier message on its way to a page.
    yield from demo_server(
        tmp_path,
        "reconnect",
        (["service", "hours", "helpwanted", "always"],),
        REDIS_URL=redis_url,
        VISITOR_MESSAGES_PER_MINUTE="100000",
    )


@pytest.fixture
def lines(server):
    """The visitor's and the counsellor's way to the server: a proxy each."""
    made = {"visitor": CuttingProxy(server.port), "inbox": CuttingProxy(server.port)}
    yield made
    for line in made.values():
        line.close()


@pytest.fixture
def pages(tmp_path):
    """The visitor's and the counsellor's Chromium; both quit after the test."""
    started = []
    try:
        for name, width in (("visitor", 420), ("inbox", 1200)):
            started.append(start_chromium(tmp_path / name, width, 900))
        yield tuple(started)
    finally:
        for driver in started:
            driver.quit()


class Typist(threading.Thread):
    """Types numbered messages into one page's composer until stopped; holds `lock` around
    every use of the page, so the page can be taken offline in between."""

    def __init__(self, driver, who: str, every_note: int = 0):
        super().__init__(daemon=True)
        self.driver, self.who, self.every_note = driver, who, every_note
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.typed = 0
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                with self.lock:
                    self._type(f"{self.who} {self.typed}")
                self.typed += 1
                time.sleep(PAUSE)
        except Exception as error:  # shown by the test, which would otherwise just time out
            self.error = error

    def _type(self, text: str) -> None:
        note = self.every_note and self.typed % self.every_note == self.every_note - 1
        if note:
            self.driver.find_element(By.ID, "note").click()
        send(self.driver, text)
        if note:
            self.driver.find_element(By.ID, "note").click()

    def go_offline(self) -> None:
        with self.lock:
            self.driver.execute_script(GO_OFFLINE)


def start_claimed_chat(visitor_url: str, inbox_url: str, visitor, inbox) -> None:
    """The visitor opens a chat; the counsellor claims it and has it open."""
    visitor.get(visitor_url + "/chat/helpwanted")
    send(visitor, "Hallo")
    wait(
        visitor,
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".msg--mine .msg__status"), "Verzonden"),
        "the visitor's first message was not acknowledged",
    )
    sign_in(inbox, inbox_url)
    wait(inbox, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued"))).click()
    wait(inbox, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(inbox, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    wait(inbox, lambda d: not d.find_element(By.ID, "note").is_selected())


def connects_again(line: CuttingProxy, handshakes_before: int, timeout: float = 45) -> None:
    """Wait until the page behind `line` makes a new connection. Socket.IO's back-off waits at most
    5 s between tries; the margin is for a CI machine whose two cores run the suite's servers and
    browsers at once (what this test checks is that nothing is lost or repeated, not how fast)."""
    deadline = time.monotonic() + timeout
    while line.handshakes <= handshakes_before:
        assert time.monotonic() < deadline, "a page did not connect again"
        time.sleep(0.02)


def drop_again_and_again(lines: dict[str, CuttingProxy], typists: dict[str, Typist]) -> int:
    """Every drop in DROPS, each once the pages it dropped have connected again after the one
    before; returns how many new connections the pages made."""
    rng = random.Random(7)
    before = sum(line.handshakes for line in lines.values())
    for drop in DROPS:
        dropped = list(lines) if drop == "cut" else [drop]
        handshakes = {page: lines[page].handshakes for page in dropped}
        if drop == "cut":
            for line in lines.values():
                line.cut()
        else:
            typists[drop].go_offline()
        for page in dropped:
            connects_again(lines[page], handshakes[page])
        # The new connection comes up, catches up, and messages flow.
        time.sleep(rng.uniform(0.1, 0.4))
    return sum(line.handshakes for line in lines.values()) - before


def stored(database_url: str) -> list[tuple[int, str, str]]:
    """(seq, kind, body) of every message of the one conversation, in seq order."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Message.seq, Message.kind, Message.body).order_by(Message.seq)
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def meant_for(messages: list[tuple[int, str, str]], kinds: set[str]) -> list[tuple[int, str]]:
    """(seq, text) of what a page must show; an event's text is the page's own (None here)."""
    return [
        (seq, None if kind == "event" else body) for seq, kind, body in messages if kind in kinds
    ]


def shown(driver, events: set[int]) -> list[tuple[int, str]]:
    """(seq, text) of every message the page shows, in the page's order; None for events."""
    return [(seq, None if seq in events else text) for seq, text in driver.execute_script(SHOWN)]


def settled(driver, events: set[int], want: list, timeout: float = 15) -> list:
    """What the page shows once it shows `want`, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (got := shown(driver, events)) != want and time.monotonic() < deadline:
        time.sleep(0.2)
    return got


@pytest.mark.timeout(300)
def test_both_pages_show_every_message_once_in_order_after_a_hundred_reconnects(
    server, lines, pages
):
    visitor, inbox = pages
    start_claimed_chat(lines["visitor"].url, lines["inbox"].url, visitor, inbox)
    typists = {
        "visitor": Typist(visitor, "visitor"),
        "inbox": Typist(inbox, "counsellor", EVERY_NOTE),
    }
    for typist in typists.values():
        typist.start()
    try:
        reconnects = drop_again_and_again(lines, typists)
    finally:
        for typist in typists.values():
            typist.stop.set()
            typist.join(timeout=30)
    for typist in typists.values():
        assert typist.error is None, typist.error
    assert reconnects >= RECONNECTS

    for driver in pages:
        wait(
            driver,
            lambda d: not d.find_elements(By.CSS_SELECTOR, UNACKED),
            "a message was not sent",
        )
    messages = stored(server.env["DATABASE_URL"])
    typed = sum(typist.typed for typist in typists.values())
    texts = [body for _, kind, body in messages if kind != "event"]
    assert len(texts) == len(set(texts)) == typed + 1  # and the visitor's "Hallo"
    events = {seq for seq, kind, _ in messages if kind == "event"}
    for driver, kinds in ((inbox, {"text", "note", "event"}), (visitor, {"text", "event"})):
        want = meant_for(messages, kinds)
        got = settled(driver, events, want)
        missing = sorted(set(want) - set(got))
        assert got == want, f"missing {missing}; {len(got)} shown of {len(want)}"
    print(f"\n{len(messages)} messages, {typed} typed, {reconnects} reconnects")
