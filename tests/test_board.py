"""The supervisor board: queues, long waits, who is online in which status, and today's
contacts, from one service function, followed live by supervisors and admins only."""

import time
from datetime import timedelta

from sqlalchemy import update

from helpline.extensions import db, socketio
from helpline.inbox import board
from helpline.inbox.models import Conversation
from helpline.timeutil import utcnow
from tests import factories
from tests.test_inbox import open_chats


class BoardPage(factories.Staff):
    """The board page's own socket: it follows the board, and is no inbox."""

    def __init__(self, app, user):
        self.app = app
        self.user = user
        self.user_id = user.id
        self.http = app.test_client()
        with self.http.session_transaction() as session:
            factories.signed_in_session(session, user)
        self.sio = socketio.test_client(
            app, namespace=self.NS, flask_test_client=self.http, auth={"board": True}
        )

    def next_board(self, timeout: float = 5.0) -> dict:
        """The next board sent live (waits for the throttled update)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            boards = self.received("board_changed")
            if boards:
                return boards[-1]
            time.sleep(0.05)
        raise AssertionError("no board_changed arrived")


def queue_of(shown: dict, service: str, channel: str) -> dict:
    return next(q for q in shown["queues"] if (q["service"], q["channel"]) == (service, channel))


def test_the_board_page_is_for_supervisors_and_admins(app):
    for role, status in (("counsellor", 403), ("therapist", 403), ("supervisor", 200)):
        http = app.test_client()
        factories.sign_in(http, factories.staff_user(role.title(), role=role))
        page = http.get("/board")
        assert page.status_code == status
    assert b'<th scope="col" class="num">Longest wait</th>' in page.data


def test_a_counsellor_cannot_watch_the_board(app, counsellor):
    anna = counsellor()
    page = BoardPage(app, anna.user)

    assert page.emit("watch_board", {})["error"]["code"] == "forbidden"
    page.close()


def test_the_board_shows_queues_long_waits_staff_and_todays_contacts(app, visitor, counsellor):
    open_chats(visitor, 2)
    open_chats(visitor, 1, "stopitnow")
    anna, ben = counsellor("Anna", max_chats=2), counsellor("Ben")
    anna.claim(3)
    ben.emit("set_status", {"status": "away"})
    db.session.execute(
        update(Conversation)
        .where(Conversation.id == 1)
        .values(waiting_since=utcnow() - timedelta(seconds=300))
    )
    db.session.commit()

    shown = board.board()

    helpwanted = queue_of(shown, "helpwanted", "chat")
    assert helpwanted["waiting"] == 2
    assert helpwanted["longest_wait_seconds"] >= 300
    assert queue_of(shown, "stopitnow", "chat")["waiting"] == 0
    assert [(w["id"], w["over_threshold"]) for w in shown["waiting"]] == [(1, True), (2, False)]
    staff = {s["name"]: (s["status"], s["active_chats"], s["max_chats"]) for s in shown["staff"]}
    assert staff == {"Anna": ("available", 1, 2), "Ben": ("away", 0, 3)}
    today = {t["service"]: (t["chat"], t["total"]) for t in shown["today"]}
    assert today["helpwanted"] == (2, 2) and today["stopitnow"] == (1, 1)


def test_the_threshold_comes_from_the_configuration(app, visitor):
    open_chats(visitor, 1)
    app.config["BOARD_WAIT_WARNING_SECONDS"] = 0
    with app.app_context():
        shown = board.board()

    assert shown["threshold_seconds"] == 0
    assert shown["waiting"][0]["over_threshold"] is True


def test_a_supervisor_on_the_board_page_is_not_shown_online(app, counsellor):
    sam = factories.staff_user("Sam", role="supervisor")
    page = BoardPage(app, sam)

    shown = page.emit("watch_board", {})["board"]

    assert shown["staff"] == []
    page.close()


def test_the_board_follows_a_new_chat_and_a_status_change_live(app, visitor, counsellor):
    page = BoardPage(app, factories.staff_user("Sam", role="supervisor"))
    assert page.emit("watch_board", {})["ok"] is True
    anna = counsellor("Anna")
    page.next_board()

    visitor().say("Hallo")
    assert queue_of(page.next_board(), "helpwanted", "chat")["waiting"] == 1

    anna.emit("set_status", {"status": "on_break"})
    assert [s["status"] for s in page.next_board()["staff"]] == ["on_break"]
    page.close()
    time.sleep(0.1)


def test_the_inbox_socket_cannot_join_the_board_room(app, counsellor):
    sam = counsellor("Sam", role="supervisor")

    refused = sam.emit("watch_board", {})

    assert refused["error"]["code"] == "invalid_state"
