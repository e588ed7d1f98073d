"""Abuse kept out without identifying anyone: limits on new chats, a cap on each queue, blocks."""

import logging
import secrets
import subprocess
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import socketio as python_socketio
import time_machine
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from sqlalchemy import func, select, update

from helpline import create_app
from helpline.abuse import store
from helpline.abuse.models import VisitorBlock
from helpline.codes import keyed_hash
from helpline.extensions import db, socketio
from helpline.inbox.models import AuditEntry, Conversation, Service
from tests import factories
from tests.browsers import start_chromium, wait
from tests.servers import BIN, ROOT, Server, flask_command
from tests.test_privacy import everything_stored

HOME = "198.51.100.7"
SCHOOL = "203.0.113.40"


class VisitorAt(factories.Visitor):
    """A visitor whose connections come from one address."""

    def __init__(self, app, address: str, browser_token: str | None = None):
        self.address = address
        super().__init__(app, browser_token)
        self.sio.disconnect(namespace=self.NS)
        self.reconnect()

    def reconnect(self) -> None:
        self.close()
        http = self.app.test_client()
        http.environ_base["REMOTE_ADDR"] = self.address
        self.sio = socketio.test_client(self.app, namespace=self.NS, flask_test_client=http)

    def start_new_chat(self, body: str = "hallo") -> dict:
        self.token = None
        return self.say(body)


@pytest.fixture
def visitor_at(app):
    made = []

    def connect(address: str = HOME, browser_token: str | None = None) -> VisitorAt:
        made.append(VisitorAt(app, address, browser_token))
        return made[-1]

    yield connect
    for v in made:
        v.close()


def waiting_chats() -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.state == "queued")
    )


def error_code(ack: dict) -> str | None:
    return None if ack["ok"] else ack["error"]["code"]


# --- queue flood ----------------------------------------------------------------------------


def test_one_browser_cannot_flood_the_queue_even_after_reconnecting(app, visitor_at):
    flooder = visitor_at()

    first = [flooder.start_new_chat() for _ in range(30)]
    flooder.reconnect()
    second = [flooder.start_new_chat() for _ in range(30)]

    limit = app.config["CHAT_NEW_PER_BROWSER"]
    assert [a["ok"] for a in first[:limit]] == [True] * limit
    assert {error_code(a) for a in first[limit:] + second} == {"too_many_chats"}
    assert waiting_chats() == limit


def test_new_browser_tokens_from_one_address_are_limited_by_the_address(app, visitor_at):
    app.config["CHAT_NEW_PER_ADDRESS"] = 4

    acks = [visitor_at(SCHOOL).start_new_chat() for _ in range(6)]
    elsewhere = visitor_at(HOME).start_new_chat()

    assert [a["ok"] for a in acks] == [True] * 4 + [False] * 2
    assert error_code(acks[-1]) == "too_many_chats"
    assert elsewhere["ok"]
    assert waiting_chats() == 5


def test_a_family_sharing_an_address_can_each_start_a_chat_by_default(app, visitor_at):
    acks = [visitor_at(HOME).start_new_chat() for _ in range(6)]

    assert all(a["ok"] for a in acks)


def test_a_retried_first_message_is_not_counted_as_a_new_chat(app, visitor_at):
    app.config["CHAT_NEW_PER_BROWSER"] = 1
    person = visitor_at()

    first = person.start_new_chat()
    retried = person.emit(
        "message",
        {
            "service": "helpwanted",
            "visitor": person.browser,
            "client_msg_id": factories.messages_of(person.conversation().id)[0].client_msg_id,
            "body": "hallo",
        },
    )

    assert first["ok"] and retried["ok"] and retried["duplicate"]
    assert retried["token"] == first["token"]


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_counting_new_chats_is_atomic_under_concurrency(app, redis_url, kind):
    if kind == "redis":
        marks = store.RedisStore(redis_url, f"{app.config['SOCKETIO_CHANNEL']}:")
    else:
        marks = store.MemoryStore()
    start = threading.Barrier(8)
    counted: list[int] = []

    def count() -> None:
        start.wait()
        for _ in range(50):
            counted.append(marks.count("new:browser:same", 60))

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(counted) == list(range(1, 401))


def test_with_redis_the_new_chat_limit_holds_across_server_processes(
    app, database_url_for_tests, redis_url
):
    shared = {
        "SQLALCHEMY_DATABASE_URI": database_url_for_tests,
        "TESTING": True,
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": redis_url,
        "SOCKETIO_CHANNEL": app.config["SOCKETIO_CHANNEL"],
        "VISITOR_SWEEP_SECONDS": 0,
        "CHAT_NEW_PER_BROWSER": 2,
    }
    one, two = create_app(shared), create_app(shared)
    browser = "b" * 43

    acks = [VisitorAt(server, HOME, browser).start_new_chat() for server in (one, two, one, two)]

    assert [a["ok"] for a in acks] == [True, True, False, False]
    for server in (one, two):
        with server.app_context():
            db.engine.dispose()


def test_without_redis_new_chats_are_let_in_and_the_log_says_why(
    app, database_url_for_tests, caplog
):
    from tests.servers import free_port

    unreachable = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url_for_tests,
            "TESTING": True,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}/0",
            "VISITOR_SWEEP_SECONDS": 0,
        }
    )

    # Alembic's logging set-up (the migrations run before the PostgreSQL tests) disables
    # loggers that existed then, the app's among them.
    unreachable.logger.disabled = False
    ack = VisitorAt(unreachable, HOME).start_new_chat()

    assert ack["ok"]
    assert "Redis unreachable (ConnectionError)" in caplog.text
    assert HOME not in caplog.text and keyed_hash("address", HOME) not in caplog.text
    with unreachable.app_context():
        db.engine.dispose()


# --- queue cap ------------------------------------------------------------------------------


def limit_queue(slug: str, places: int) -> None:
    db.session.execute(update(Service).where(Service.slug == slug).values(chat_queue_limit=places))
    db.session.commit()


def test_a_full_queue_sends_a_new_visitor_to_the_form_and_leaves_waiting_chats_alone(
    app, visitor_at, counsellor
):
    limit_queue("helpwanted", 2)
    first, second = visitor_at(HOME), visitor_at(SCHOOL)
    first.start_new_chat()
    second.start_new_chat()

    third = visitor_at("192.0.2.9").start_new_chat()
    still_heard = first.say("ben je er nog?")

    assert error_code(third) == "queue_full"
    assert "form" in third["error"]["message"]
    assert still_heard["ok"]
    assert waiting_chats() == 2
    counsellor().claim(first.conversation().id)
    assert visitor_at("192.0.2.10").start_new_chat()["ok"]


def test_the_queue_cap_is_per_service(app, visitor_at):
    limit_queue("helpwanted", 1)
    visitor_at(HOME).start_new_chat()

    other = visitor_at(SCHOOL).say("hallo", service="stopitnow")

    assert other["ok"]


# --- blocking a visitor ---------------------------------------------------------------------


def block(staff, conversation_id: int, hours: int = 24, reason: str = "Threatens staff") -> dict:
    return staff.emit(
        "block_visitor", {"conversation_id": conversation_id, "hours": hours, "reason": reason}
    )


def test_blocked_visitor_can_neither_send_nor_start_a_new_chat_and_is_not_told_who(
    app, visitor_at, counsellor
):
    person = visitor_at()
    person.say("hallo")
    anna = counsellor("Anna")
    conversation_id = person.conversation().id
    anna.claim(conversation_id)

    blocked = block(anna, conversation_id)
    sent = person.say("nog een bericht")
    person.reconnect()
    again = person.start_new_chat()

    assert blocked["ok"]
    assert error_code(sent) == error_code(again) == "blocked"
    for refusal in (sent, again):
        assert "Anna" not in refusal["error"]["message"]
        assert "form" in refusal["error"]["message"]
    assert waiting_chats() == 0
    assert db.session.scalar(select(func.count()).select_from(Conversation)) == 1
    assert [m.body for m in factories.messages_of(conversation_id)][:1] == ["hallo"]
    assert "nog een bericht" not in everything_stored()


def test_a_block_closes_the_visitors_other_waiting_chats_so_they_cannot_write_there(
    app, visitor_at, counsellor
):
    flooder = visitor_at()
    flooder.start_new_chat("een")
    first_id = flooder.conversation().id
    flooder.start_new_chat("twee")
    other_token = flooder.token
    anna = counsellor()
    anna.claim(first_id)

    block(anna, first_id)
    flooder.token = other_token
    sent = flooder.say("nog eentje")

    assert error_code(sent) == "blocked"
    assert waiting_chats() == 0


def test_a_block_includes_the_address_so_a_new_browser_there_is_kept_out(
    app, visitor_at, counsellor
):
    person = visitor_at(SCHOOL)
    person.say("hallo")
    anna = counsellor()
    conversation_id = person.conversation().id
    anna.claim(conversation_id)

    block(anna, conversation_id, hours=1)
    same_place = visitor_at(SCHOOL).start_new_chat()
    elsewhere = visitor_at(HOME).start_new_chat()

    assert error_code(same_place) == "blocked"
    assert elsewhere["ok"]


def test_a_block_ends_the_conversation_for_wrap_up(app, visitor_at, counsellor):
    person = visitor_at()
    person.say("hallo")
    anna = counsellor()
    conversation_id = person.conversation().id
    anna.claim(conversation_id)

    block(anna, conversation_id)

    db.session.rollback()
    assert person.conversation().state == "wrap_up"


def test_block_lifts_itself_at_its_time(app, visitor_at, counsellor):
    person = visitor_at(SCHOOL)
    person.say("hallo")
    anna = counsellor()
    conversation_id = person.conversation().id
    anna.claim(conversation_id)
    block(anna, conversation_id, hours=1)

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=50)):
        still = visitor_at(HOME, person.browser).start_new_chat()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61)):
        later = visitor_at(HOME, person.browser).start_new_chat()

    assert error_code(still) == "blocked"
    assert later["ok"]


def test_only_the_conversations_counsellor_or_a_supervisor_may_block(app, visitor_at, counsellor):
    person = visitor_at()
    person.say("hallo")
    conversation_id = person.conversation().id
    anna, bert = counsellor("Anna"), counsellor("Bert")
    therapist, supervisor = counsellor("Tess", role="therapist"), counsellor("Sam", "supervisor")
    anna.claim(conversation_id)

    refused = [block(staff, conversation_id) for staff in (bert, therapist)]
    allowed = block(supervisor, conversation_id)

    assert [error_code(a) for a in refused] == ["forbidden", "forbidden"]
    assert allowed["ok"]


def test_a_block_needs_a_reason_and_one_of_the_offered_durations(app, visitor_at, counsellor):
    person = visitor_at()
    person.say("hallo")
    conversation_id = person.conversation().id
    anna = counsellor()
    anna.claim(conversation_id)

    no_reason = block(anna, conversation_id, reason="")
    blanks = block(anna, conversation_id, reason="   a   ")
    odd_time = block(anna, conversation_id, hours=5)
    forever = block(anna, conversation_id, hours=10**9)

    refusals = (no_reason, blanks, odd_time, forever)
    assert [error_code(a) for a in refusals] == ["invalid"] * 4
    assert db.session.scalar(select(func.count()).select_from(VisitorBlock)) == 0


def test_a_block_is_audited_and_keeps_no_address_or_browser_token(
    app, visitor_at, counsellor, caplog
):
    caplog.set_level(logging.DEBUG)
    person = visitor_at(SCHOOL)
    person.say("hallo")
    conversation_id = person.conversation().id
    anna = counsellor()
    anna.claim(conversation_id)

    block(anna, conversation_id, reason="Sends threats")

    db.session.rollback()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "visitor.block"))
    assert (entry.actor_id, entry.conversation_id) == (anna.user_id, conversation_id)
    stored = everything_stored()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secrets_of_visitor = (SCHOOL, keyed_hash("address", SCHOOL), person.browser)
    for secret in secrets_of_visitor:
        assert secret not in stored
        assert secret not in logged


def test_supervisor_sees_running_blocks_and_lifts_one(app, visitor_at, counsellor):
    person = visitor_at(SCHOOL)
    person.say("hallo")
    conversation_id = person.conversation().id
    anna = counsellor("Anna")
    anna.claim(conversation_id)
    block(anna, conversation_id, hours=168, reason="Keeps sending insults")
    sam = counsellor("Sam", "supervisor")

    page = sam.http.get("/inbox/blocks").get_data(as_text=True)
    not_for_anna = anna.http.get("/inbox/blocks")
    block_id = db.session.scalar(select(VisitorBlock.id))
    lifted = sam.http.post(f"/inbox/blocks/{block_id}/lift", follow_redirects=True)
    back = visitor_at(SCHOOL, person.browser).start_new_chat()

    assert "Keeps sending insults" in page and "Anna" in page and f"#{conversation_id}" in page
    assert not_for_anna.status_code == 403
    assert lifted.status_code == 200 and "No visitor is blocked now" in lifted.get_data(True)
    assert back["ok"]
    db.session.rollback()
    actions = [a for _, a in factories.audit_actions(conversation_id)]
    assert "visitor.lift_block" in actions


def test_a_counsellor_cannot_lift_a_block(app, visitor_at, counsellor):
    person = visitor_at()
    person.say("hallo")
    conversation_id = person.conversation().id
    anna = counsellor()
    anna.claim(conversation_id)
    block(anna, conversation_id)
    block_id = db.session.scalar(select(VisitorBlock.id))

    refused = anna.http.post(f"/inbox/blocks/{block_id}/lift")

    assert refused.status_code == 403
    assert error_code(visitor_at(HOME, person.browser).start_new_chat()) == "blocked"


def conversations() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Conversation))


def test_a_blocked_caller_hears_a_neutral_goodbye_and_nothing_is_stored(app, counsellor):
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number="+31800000001")
    )
    db.session.commit()
    caller = factories.Caller(app, number="+31612340001")
    caller.call()
    conversation_id = db.session.scalar(select(Conversation.id))
    supervisor = counsellor("Sam", "supervisor")

    blocked = block(supervisor, conversation_id, hours=24, reason="Abusive calls")
    again = factories.Caller(app, number="+31612340001").call().get_data(as_text=True)
    other = factories.Caller(app, number="+31612340002").call().get_data(as_text=True)

    assert blocked["ok"], blocked
    assert "contactformulier" in again and "<Hangup" in again and "Sam" not in again
    assert "contactformulier" not in other
    assert conversations() == 2


def test_a_caller_with_a_withheld_number_cannot_be_blocked(app, counsellor):
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number="+31800000001")
    )
    db.session.commit()
    factories.Caller(app, number="anonymous").call()
    conversation_id = db.session.scalar(select(Conversation.id))

    refused = block(counsellor("Sam", "supervisor"), conversation_id)

    assert error_code(refused) == "invalid_state"


def test_a_form_sender_cannot_be_blocked_as_they_cannot_be_recognised(app, client, counsellor):
    from tests.test_forms import helpwanted_answers

    client.post("/form/helpwanted", data=helpwanted_answers())
    conversation_id = db.session.scalar(select(Conversation.id))
    anna = counsellor()
    anna.claim(conversation_id)

    refused = block(anna, conversation_id)

    assert error_code(refused) == "invalid_state"


# --- on a real server behind a proxy, and in the chat page ------------------------------------


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory):
    """A gunicorn server behind one (pretended) proxy, one new chat per address, and a
    Helpwanted queue of one place."""
    name = f"abuse-{uuid.uuid4().hex[:12]}"
    database = tmp_path_factory.mktemp(name) / "helpline.db"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "test",
        "SOCKETIO_CHANNEL": name,
        "REDIS_URL": "",
        "PROXY_FIX": "1",
        "CHAT_NEW_PER_ADDRESS": "1",
    }
    # The Dutch page needs the compiled catalogue (the .mo is not in git).
    subprocess.run(
        [str(BIN / "pybabel"), "-q", "compile", "-d", "translations"], cwd=ROOT, check=True
    )
    flask_command(["db", "upgrade"], env)
    flask_command(["seed", "--demo"], env)
    for slug in ("helpwanted", "stopitnow"):
        flask_command(["service", "hours", slug, "always"], env)
    flask_command(["service", "queue-limit", "helpwanted", "1"], env)
    with Server(env) as running:
        yield running
    database.unlink(missing_ok=True)


def connect_through_proxy(url: str, forwarded_for: str) -> python_socketio.Client:
    client = python_socketio.Client()
    client.connect(url, headers={"X-Forwarded-For": forwarded_for}, namespaces=["/chat"])
    return client


def start_chat(client: python_socketio.Client, service: str) -> dict:
    payload = {
        "service": service,
        "visitor": secrets.token_urlsafe(32),
        "client_msg_id": factories.new_id(),
        "body": "hallo",
    }
    return client.call("message", payload, namespace="/chat", timeout=10)


def open_chat_through_proxy(url: str, forwarded_for: str, service: str) -> dict:
    client = connect_through_proxy(url, forwarded_for)
    try:
        return start_chat(client, service)
    finally:
        client.disconnect()


def test_behind_the_proxy_each_visitor_is_counted_at_their_own_address(proxied_server):
    first = open_chat_through_proxy(proxied_server.url, "192.0.2.10", "stopitnow")
    neighbour = open_chat_through_proxy(proxied_server.url, "192.0.2.11", "stopitnow")
    again = open_chat_through_proxy(proxied_server.url, "192.0.2.10", "stopitnow")

    assert first["ok"] and neighbour["ok"]
    assert error_code(again) == "too_many_chats"


def test_the_chat_page_shows_a_full_queue_with_the_form(proxied_server, tmp_path):
    waiting = open_chat_through_proxy(proxied_server.url, "192.0.2.20", "helpwanted")
    assert waiting["ok"]
    browser = start_chromium(tmp_path / "profile", 1000, 800)
    try:
        browser.get(proxied_server.url + "/chat/helpwanted")
        box = wait(browser, EC.element_to_be_clickable((By.ID, "body")))
        box.send_keys("Is er iemand?")
        box.send_keys(Keys.ENTER)
        refused = wait(browser, EC.visibility_of_element_located((By.ID, "refused-panel")))

        assert "de wachtrij is vol" in refused.text
        form = refused.find_element(By.CSS_SELECTOR, "a[href^='/form/helpwanted']")
        assert form.text == "Naar het contactformulier"
        assert not browser.find_element(By.ID, "composer").is_displayed()
    finally:
        browser.quit()


def test_counsellor_blocks_a_visitor_from_the_inbox_with_a_reason_and_a_duration(
    proxied_server, tmp_path
):
    from tests.test_browser import sign_in

    person = connect_through_proxy(proxied_server.url, "192.0.2.30")
    try:
        assert start_chat(person, "stopitnow")["ok"]
        browser = start_chromium(tmp_path / "profile", 1400, 900)
        try:
            sign_in(browser, proxied_server.url)
            rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#list .row--queued"))
            rows[-1].click()  # the newest waiting chat
            wait(browser, EC.element_to_be_clickable((By.ID, "claim"))).click()
            wait(browser, EC.element_to_be_clickable((By.ID, "block"))).click()
            dialog = wait(browser, EC.visibility_of_element_located((By.ID, "block-dialog")))
            dialog.find_element(By.ID, "block-confirm").click()
            error = wait(browser, EC.visibility_of_element_located((By.ID, "block-error")))
            assert "reason" in error.text
            dialog.find_element(By.CSS_SELECTOR, "input[name=hours][value='1']").click()
            dialog.find_element(By.ID, "block-reason").send_keys("Dreigt de hulpverlener")
            dialog.find_element(By.ID, "block-confirm").click()
            wait(browser, EC.text_to_be_present_in_element((By.ID, "notices"), "blocked until"))
            wait(browser, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Wrap-up"))
        finally:
            browser.quit()
        again = start_chat(person, "stopitnow")
    finally:
        person.disconnect()

    assert error_code(again) == "blocked"
