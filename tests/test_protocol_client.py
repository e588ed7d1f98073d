"""The Python client of docs/protocol.md, run as written against a real server whose connections
are cut again and again while a visitor and a counsellor write."""

import importlib.util
import re
import secrets
import subprocess
import sys
import threading
import time

import pytest
import socketio

from tests.servers import ROOT, CuttingProxy, demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

PROTOCOL = ROOT / "docs" / "protocol.md"
COUNSELLOR = ("counsellor@example.org", "demo-counsellor", "DEMOCOUNSELLORDEMOCOUNSELLORDEMO")
SUPERVISOR = ("supervisor@example.org", "demo-supervisor", "DEMOSUPERVISORDEMOSUPERVISORDEMO")
CUTS = 5


def documented(name: str) -> str:
    """The code block of docs/protocol.md whose first line is the comment `# <name>: ...`."""
    blocks = re.findall(r"^```python\n(.*?)^```$", PROTOCOL.read_text(), re.S | re.M)
    found = [block for block in blocks if block.startswith(f"# {name}:")]
    assert len(found) == 1, f"docs/protocol.md needs one python block starting '# {name}:'"
    return found[0]


def output_after(name: str) -> str:
    """The plain block that follows the code block `name` in docs/protocol.md: its output."""
    text = PROTOCOL.read_text()
    block = documented(name)
    after = text[text.index(block) + len(block) + len("```\n") :]
    return re.search(r"^```\n(.*?)^```$", after, re.S | re.M).group(1)


@pytest.fixture
def server(tmp_path):
    yield from demo_server(
        tmp_path,
        "protocol",
        (["service", "hours", "helpwanted", "always"],),
        # The visitor here writes faster than a person; the limit is not what this is about.
        VISITOR_MESSAGES_PER_MINUTE="100000",
    )


@pytest.fixture
def client(tmp_path):
    """docs/protocol.md's helpline_client.py, imported from a file of its own."""
    path = tmp_path / "helpline_client.py"
    path.write_text(documented("helpline_client.py"))
    spec = importlib.util.spec_from_file_location("helpline_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cut_off(proxy: CuttingProxy, sio: socketio.Client, namespace: str) -> str:
    """Cut every connection through `proxy`; returns the client's connection id before."""
    before = sio.get_sid(namespace)
    proxy.cut()
    return before


def reconnected(sio: socketio.Client, namespace: str, before: str, timeout: float = 20) -> bool:
    """The client is connected again, on a connection other than `before`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sio.get_sid(namespace) not in (None, before):
            return True
        time.sleep(0.05)
    return False


def keep_writing(stop: threading.Event, send) -> tuple[threading.Thread, list]:
    """A started thread that sends numbered messages about ten times a second until `stop`,
    and the list its acks collect in."""
    acks = []

    def write() -> None:
        while not stop.is_set():
            acks.append(send(len(acks)))
            time.sleep(0.1)

    thread = threading.Thread(target=write)
    thread.start()
    return thread, acks


def chat_while_cutting(lines: tuple, staff, visitor, conversation_id: int) -> tuple:
    """The visitor and the counsellor write while both their connections are cut CUTS times,
    each time once both are back by themselves; returns the acks of each."""
    stop = threading.Event()
    writers = [
        keep_writing(stop, lambda n: visitor.send(f"visitor {n}")),
        # Every third a note, which the visitor never receives: gaps in the visitor's seqs.
        keep_writing(stop, lambda n: staff.send(conversation_id, f"staff {n}", note=n % 3 == 2)),
    ]
    try:
        for _ in range(CUTS):
            time.sleep(0.7)
            staff_was = cut_off(lines[0], staff.sio, "/inbox")
            visitor_was = cut_off(lines[1], visitor.sio, "/chat")
            assert reconnected(staff.sio, "/inbox", staff_was), "the staff client stayed away"
            assert reconnected(visitor.sio, "/chat", visitor_was), "the visitor stayed away"
        time.sleep(1)
    finally:
        stop.set()
        for thread, _ in writers:
            thread.join(timeout=120)
    return writers[0][1], writers[1][1]


def write_to_the_absent(lines: tuple, staff, visitor, conversation_id: int) -> list[str]:
    """Each side writes once while the other is cut off, and then nobody writes: only catching
    up after the reconnect brings it. Returns what was written."""
    staff_was = cut_off(lines[0], staff.sio, "/inbox")
    asked = visitor.send("Are you still there?")
    assert reconnected(staff.sio, "/inbox", staff_was), "the staff client stayed away"
    assert staff.transcripts[conversation_id].wait_for(asked["seq"])
    visitor_was = cut_off(lines[1], visitor.sio, "/chat")
    answered = staff.send(conversation_id, "Yes, I am here.")
    assert reconnected(visitor.sio, "/chat", visitor_was), "the visitor stayed away"
    assert visitor.transcript.wait_for(answered["seq"])
    return ["Are you still there?", "Yes, I am here."]


def server_copy(url: str, client, conversation_id: int, token: str) -> tuple[list, list]:
    """The conversation as the server has it: for staff, and for the visitor."""
    staff = socketio.Client(http_session=client.sign_in(url, *SUPERVISOR))
    staff.connect(url, namespaces=["/inbox"])
    visitor = socketio.Client()
    visitor.connect(url, namespaces=["/chat"])
    try:
        opened = staff.call(
            "open", {"conversation_id": conversation_id, "since_seq": 0}, namespace="/inbox"
        )
        resumed = visitor.call("resume", {"token": token, "last_seq": 0}, namespace="/chat")
    finally:
        staff.disconnect()
        visitor.disconnect()
    return opened["messages"], resumed["messages"]


def shown(messages: list[dict]) -> list[tuple[int, str]]:
    return [(m["seq"], m["body"]) for m in messages]


def test_documented_client_reconnects_by_itself_and_ends_with_every_message_once_in_order(
    server, client
):
    lines = CuttingProxy(server.port), CuttingProxy(server.port)  # the staff's, the visitor's
    staff = client.StaffClient(lines[0].url, client.sign_in(lines[0].url, *COUNSELLOR))
    visitor = client.VisitorClient(lines[1].url, "helpwanted", secrets.token_urlsafe(32))
    try:
        assert visitor.send("Someone is threatening to share a photo of me.")["ok"]
        (waiting,) = staff.call("list", {"states": ["queued"]})["conversations"]
        assert staff.call("claim", {"conversation_id": waiting["id"]})["ok"]
        transcript = staff.open(waiting["id"])

        visitor_acks, staff_acks = chat_while_cutting(lines, staff, visitor, waiting["id"])
        last_words = write_to_the_absent(lines, staff, visitor, waiting["id"])

        assert all(ack["ok"] for ack in visitor_acks + staff_acks)
        sent = ["Someone is threatening to share a photo of me.", *last_words]
        sent += [f"visitor {n}" for n in range(len(visitor_acks))]
        sent += [f"staff {n}" for n in range(len(staff_acks))]
        for_staff, for_visitor = server_copy(server.url, client, waiting["id"], visitor.token)
        assert sorted(m["body"] for m in for_staff if m["kind"] != "event") == sorted(sent)
        assert transcript.wait_for(for_staff[-1]["seq"])
        assert visitor.transcript.wait_for(for_visitor[-1]["seq"])
        assert shown(transcript.messages) == shown(for_staff)
        assert shown(visitor.transcript.messages) == shown(for_visitor)
    finally:
        staff.sio.disconnect()
        visitor.sio.disconnect()
        for line in lines:
            line.close()


def test_documented_example_prints_what_the_document_shows(server, client, tmp_path):
    (tmp_path / "example.py").write_text(documented("example.py"))
    run = subprocess.run(
        [sys.executable, "example.py", server.url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == output_after("example.py")
