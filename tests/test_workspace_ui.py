"""A counsellor works two chats at once in a real browser: rows that tell them apart, a message
in the background chat noticed, drafts kept, and the keyboard for everything."""

import secrets
import uuid

import pytest
import socketio
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.browsers import sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

DRAFT = "Een half antwoord, nog niet verstuurd"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("workspace"),
        "workspace",
        (["service", "hours", "helpwanted", "always"],),
    )


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "profile", 1280, 900)
    yield driver
    driver.quit()


class ChatVisitor:
    """A visitor's chat, written from a python-socketio client."""

    def __init__(self, url: str):
        self.browser = secrets.token_urlsafe(32)
        self.token = None
        self.sio = socketio.Client(reconnection=False)
        self.sio.connect(url, namespaces=["/chat"], transports=["websocket"])

    def say(self, body: str) -> None:
        payload = {"client_msg_id": str(uuid.uuid4()), "body": body}
        if self.token:
            payload["token"] = self.token
        else:
            payload |= {"service": "helpwanted", "visitor": self.browser}
        ack = self.sio.call("message", payload, namespace="/chat", timeout=10)
        assert ack["ok"], ack
        self.token = ack["token"]

    def close(self) -> None:
        self.sio.disconnect()


def keys(driver, *sequence) -> None:
    ActionChains(driver).send_keys(*sequence).perform()


def alt(driver, key: str) -> None:
    ActionChains(driver).key_down(Keys.ALT).send_keys(key).key_up(Keys.ALT).perform()


def focused_id(driver) -> str:
    return driver.switch_to.active_element.get_attribute("id")


def row_ids(driver) -> list[str]:
    return [b.get_attribute("data-id") for b in driver.find_elements(By.CSS_SELECTOR, "#list .row")]


def title(driver) -> str:
    return driver.find_element(By.ID, "conv-title").text


def composer(driver) -> str:
    return driver.find_element(By.ID, "body").get_attribute("value")


def script_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_a_counsellor_works_two_chats_from_the_keyboard(server, browser):
    first, second = ChatVisitor(server.url), ChatVisitor(server.url)
    try:
        first.say("Iemand dreigt mijn foto te delen")
        second.say("Hoi, ik heb een vraag over sexting")
        sign_in(browser, server.url)
        wait(browser, lambda d: len(row_ids(d)) == 2, "the two waiting chats are not listed")
        rows = browser.find_elements(By.CSS_SELECTOR, "#list .row")
        assert [r.find_element(By.CSS_SELECTOR, ".visitor__name").text for r in rows] == [
            "Visitor 1",
            "Visitor 2",
        ]
        # Nobody has a waiting chat yet: its words stay off the list.
        assert not browser.find_elements(By.CSS_SELECTOR, "#list .row__preview")

        # N claims the next waiting chat; with Alt it works from the reply box too.
        browser.find_element(By.ID, "list-heading").click()
        keys(browser, "n")
        wait(browser, lambda d: "Visitor 1" in title(d) and focused_id(d) == "body")
        wait(browser, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
        alt(browser, "n")
        wait(browser, lambda d: "Visitor 2" in title(d), "Alt+N did not open the next chat")
        wait(browser, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
        wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#list .row--active")) == 2)
        assert "Helpwanted" in browser.find_element(By.ID, "conv-meta").text
        assert row_ids(browser) == ["2", "1"]  # the latest activity first

        # A draft stays with its conversation while switching.
        browser.find_element(By.ID, "body").send_keys(DRAFT)
        alt(browser, "j")
        wait(browser, lambda d: "Visitor 1" in title(d), "Alt+J did not move to the next row")
        assert composer(browser) == "" and focused_id(browser) == "body"

        # A reply puts this chat first; a message in the background chat raises its row again
        # and is announced, without its words.
        browser.find_element(By.ID, "body").send_keys("Hoi, ik ben Anna", Keys.ENTER)
        wait(browser, lambda d: row_ids(d) == ["1", "2"], "the replied chat is not first")
        second.say("Ben je er nog?")
        wait(browser, lambda d: row_ids(d) == ["2", "1"], "the background chat's row did not rise")
        preview = browser.find_element(By.CSS_SELECTOR, "#list .row[data-id='2'] .row__preview")
        assert preview.text == "Ben je er nog?"
        announcer = browser.find_element(By.ID, "announcer")
        wait(
            browser,
            lambda d: (
                "New message in Visitor 2 (Helpwanted)" in announcer.get_attribute("textContent")
            ),
        )
        assert "Ben je er nog?" not in announcer.get_attribute("textContent")

        alt(browser, "k")
        wait(browser, lambda d: "Visitor 2" in title(d))
        assert composer(browser) == DRAFT

        # ... and a reload.
        browser.refresh()
        wait(browser, EC.text_to_be_present_in_element((By.ID, "connection"), "Connected"))
        wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row[data-id='2']")))
        browser.find_element(By.CSS_SELECTOR, "#list .row[data-id='2']").click()
        wait(browser, lambda d: composer(d) == DRAFT, "the draft is gone after a reload")
        browser.find_element(By.ID, "body").send_keys(Keys.ENTER)
        wait(browser, lambda d: composer(d) == "")
        stored = browser.execute_script("return Object.keys(sessionStorage)")
        assert not [key for key in stored if key.endswith(".2")], stored

        # ? lists the shortcuts; R goes to the reply box.
        browser.find_element(By.ID, "list-heading").click()
        keys(browser, "?")
        dialog = wait(browser, EC.visibility_of_element_located((By.ID, "shortcuts")))
        assert "Next conversation" in dialog.text
        keys(browser, Keys.ESCAPE)
        wait(browser, EC.invisibility_of_element_located((By.ID, "shortcuts")))
        browser.find_element(By.ID, "list-heading").click()
        keys(browser, "r")
        assert focused_id(browser) == "body"

        # Ending the chat moves focus into the wrap-up form, beside a readable transcript.
        alt(browser, "e")
        browser.switch_to.alert.accept()
        wait(
            browser,
            lambda d: d.execute_script(
                "return document.getElementById('wrap-up').contains(document.activeElement)"
            ),
            "focus did not move into the wrap-up form",
        )
        messages = browser.find_element(By.ID, "messages")
        form = browser.find_element(By.ID, "wrap-up")
        assert messages.size["height"] > 240 and messages.size["width"] > 250  # was 110 px tall
        assert form.location["x"] >= messages.location["x"] + messages.size["width"]
        assert script_errors(browser) == []
    finally:
        first.close()
        second.close()
