"""Floods kept out without identifying anyone: new chats limited per browser and per (hashed)
address, and a cap on each service's queue past which visitors are offered the form."""

import threading

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from sqlalchemy import update

from helpline import create_app
from helpline.abuse import store
from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.inbox.models import Service
from tests import factories
from tests.addresses import (
    HOME,
    SCHOOL,
    VisitorAt,
    error_code,
    open_chat_through_proxy,
    waiting_chats,
)
from tests.browsers import start_chromium, wait

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


# --- on a real server behind a proxy, and in the chat page ------------------------------------


@pytest.mark.slow
def test_behind_the_proxy_each_visitor_is_counted_at_their_own_address(proxied_server):
    first = open_chat_through_proxy(proxied_server.url, "192.0.2.10", "stopitnow")
    neighbour = open_chat_through_proxy(proxied_server.url, "192.0.2.11", "stopitnow")
    again = open_chat_through_proxy(proxied_server.url, "192.0.2.10", "stopitnow")

    assert first["ok"] and neighbour["ok"]
    assert error_code(again) == "too_many_chats"


@pytest.mark.slow
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
