"""Booking a follow-up from the inbox, in a real browser: the panel opens over the conversation,
books a free time, and sends the code and the link into the chat, which the visitor reads."""

import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.browsers import sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

DRAFT = "Nog even over je vraag van net"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("booking-ui"),
        "booking-ui",
        (["service", "hours", "helpwanted", "always"],),
    )


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "profile", 1280, 900)
    yield driver
    driver.quit()


def bodies(driver) -> list[str]:
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, "#messages .msg__body")]


def test_counsellor_books_in_the_panel_and_sends_the_code_to_the_visitor(server, browser):
    browser.get(server.url + "/chat/helpwanted")
    visitor = browser.current_window_handle
    box = wait(browser, EC.element_to_be_clickable((By.ID, "body")))
    box.send_keys("Kan ik later nog eens praten?", Keys.ENTER)
    wait(browser, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))
    browser.switch_to.new_window("window")
    sign_in(browser, server.url)
    wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued"))).click()
    wait(browser, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    inbox_url = browser.current_url
    wait(browser, EC.element_to_be_clickable((By.ID, "body"))).send_keys(DRAFT)

    browser.find_element(By.ID, "book-followup").click()
    panel = wait(browser, EC.visibility_of_element_located((By.ID, "booking-panel")))
    wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, "#booking-panel #method-chat")))
    panel.find_element(By.ID, "method-chat").click()
    panel.find_element(By.CSS_SELECTOR, "#slots input[type=radio]").click()
    panel.find_element(By.CSS_SELECTOR, "#book-form button[type=submit]").click()
    code = wait(browser, EC.visibility_of_element_located((By.ID, "booking-code"))).text
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert browser.current_url == inbox_url
    words = panel.find_element(By.ID, "client-message").text
    assert f"{server.url}/afspraak" in words and code in words

    panel.find_element(By.ID, "send-booking").click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "send-booking-status"), "Sent"))
    panel.find_element(By.ID, "booking-panel-close").click()
    wait(browser, EC.invisibility_of_element_located((By.ID, "booking-panel")))
    wait(browser, lambda d: any(code in body for body in bodies(d)), "not in the chat")
    assert browser.find_element(By.ID, "body").get_attribute("value") == DRAFT
    assert browser.current_url == inbox_url

    browser.switch_to.window(visitor)
    wait(browser, lambda d: any(code in body for body in bodies(d)), "the visitor got no code")
    sent = next(body for body in bodies(browser) if code in body)
    assert f"Ga dan naar {server.url}/afspraak en vul deze code in: {code}." in sent
