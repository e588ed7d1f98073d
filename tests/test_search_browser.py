"""A counsellor searches in a real browser, clicks a result, and the inbox opens that
conversation."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.axe import assert_accessible
from tests.browsers import send, sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

SENT = (By.CSS_SELECTOR, ".msg--mine .msg__status")


@pytest.fixture
def server(tmp_path):
    yield from demo_server(tmp_path, "search", (["service", "hours", "helpwanted", "always"],))


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "profile", 1200, 900)
    yield driver
    driver.quit()


def chat(driver, url: str, text: str) -> None:
    """A new visitor (nothing kept from before) opens a chat with `text`."""
    driver.get(url + "/chat/helpwanted")
    driver.execute_script("localStorage.clear(); sessionStorage.clear();")
    driver.get(url + "/chat/helpwanted")
    send(driver, text)
    wait(driver, EC.text_to_be_present_in_element(SENT, "Verzonden"), "the chat was not stored")


def test_a_search_result_opens_its_conversation_in_the_inbox_and_so_does_a_link(server, browser):
    chat(browser, server.url, "Ik heb een vraag over school")
    chat(browser, server.url, "Mijn foto's zijn gedeeld")
    sign_in(browser, server.url)

    browser.find_element(By.LINK_TEXT, "Search").click()
    wait(browser, EC.presence_of_element_located((By.ID, "text"))).send_keys("foto")
    browser.find_element(By.CSS_SELECTOR, ".search-form button[type=submit]").click()
    results = wait(
        browser,
        EC.presence_of_all_elements_located((By.CSS_SELECTOR, ".search-result")),
        "no search results",
    )
    assert len(results) == 1
    assert_accessible(browser)
    assert "Mijn foto's zijn gedeeld" in results[0].text
    found_id = int(results[0].get_attribute("id").removeprefix("result-"))
    results[0].find_element(By.CSS_SELECTOR, ".search-result__open").click()

    wait(browser, EC.text_to_be_present_in_element((By.ID, "connection"), "Connected"))
    wait(
        browser,
        EC.text_to_be_present_in_element((By.ID, "messages"), "Mijn foto's zijn gedeeld"),
        "the inbox did not open the conversation found",
    )
    assert browser.find_element(By.ID, "conv").is_displayed()
    assert "Helpwanted · Chat" in browser.find_element(By.ID, "conv-meta").text
    assert "vraag over school" not in browser.find_element(By.ID, "messages").text

    # A #c= link opens another conversation in the open inbox: the chat opened just before.
    browser.execute_script("location.hash = 'c=' + arguments[0]", found_id - 1)
    wait(
        browser,
        EC.text_to_be_present_in_element((By.ID, "messages"), "Ik heb een vraag over school"),
        "a #c= link did not open its conversation",
    )


def test_the_search_page_is_accessible_empty_and_with_refused_filters(server, browser):
    sign_in(browser, server.url)

    browser.get(server.url + "/inbox/search")
    wait(browser, EC.presence_of_element_located((By.ID, "text")))
    assert_accessible(browser)

    browser.get(server.url + "/inbox/search?from=2026-02-30&reply_code=ABC&limit=0")
    wait(browser, EC.presence_of_element_located((By.ID, "reply_code-error")))
    assert_accessible(browser)
