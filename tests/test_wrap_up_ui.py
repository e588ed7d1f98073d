"""Wrap-up in the staff inbox, in a real browser: categories by keyboard, summary, correction."""

from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from tests.browsers import sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp")
SUMMARY = "Dreiging met delen van foto; uitgelegd hoe te melden."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("wrap-up"),
        "wrap-up",
        (["service", "hours", "helpwanted", "always"],),
    )


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "profile", 1280, 900)
    yield driver
    driver.quit()


def keys(driver, *sequence) -> None:
    """Type into whatever has focus, as a person at the keyboard does."""
    ActionChains(driver).send_keys(*sequence).perform()


def ticked(driver) -> list[str]:
    return [
        box.find_element(By.XPATH, "../span").text
        for box in driver.find_elements(By.CSS_SELECTOR, "#category-choices input")
        if box.is_selected()
    ]


def tags(driver, selector: str) -> list[str]:
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, f"{selector} .tag")]


def open_chat_as_visitor(driver, url: str) -> None:
    driver.get(url + "/chat/helpwanted")
    box = wait(driver, EC.element_to_be_clickable((By.ID, "body")))
    box.send_keys("Iemand dreigt mijn foto te delen")
    box.send_keys(Keys.ENTER)
    wait(driver, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))


def test_counsellor_closes_with_keyboard_chosen_categories_then_corrects_them(server, browser):
    open_chat_as_visitor(browser, server.url)
    browser.switch_to.new_window("window")
    sign_in(browser, server.url)
    wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued"))).click()
    wait(browser, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    follow_up = browser.find_element(By.ID, "book-followup")
    assert follow_up.is_displayed()
    # It opens the booking panel inside the inbox (tests/test_booking_ui.py), not another page.
    assert follow_up.tag_name == "button"

    browser.find_element(By.ID, "end").click()
    browser.switch_to.alert.accept()
    form = wait(browser, EC.visibility_of_element_located((By.ID, "wrap-up")))
    assert not browser.find_elements(By.ID, "close-form")
    first = wait(
        browser,
        EC.element_to_be_clickable((By.CSS_SELECTOR, "#category-choices input")),
        "no categories to choose from",
    )
    numbers = [el.text for el in form.find_elements(By.CSS_SELECTOR, ".category-choice__key")]
    assert numbers[:3] == ["1", "2", "3"]
    submit = browser.find_element(By.ID, "wrap-up-submit")
    assert not submit.is_enabled()

    # Number keys tick the numbered categories; arrows move and Space unticks.
    first.send_keys("1")
    keys(browser, "2", "3")
    assert ticked(browser) == ["Sextortion", "Sexting", "Concern about another person"]
    keys(browser, Keys.ARROW_UP, Keys.SPACE)
    assert ticked(browser) == ["Sextortion", "Concern about another person"]
    assert not submit.is_enabled(), "closing needs a summary too"
    keys(browser, Keys.TAB)
    summary = browser.switch_to.active_element
    while summary.get_attribute("id") != "summary":
        keys(browser, Keys.TAB)
        summary = browser.switch_to.active_element
    keys(browser, "1", "2")  # digits in the summary are text, not shortcuts
    keys(browser, Keys.BACKSPACE, Keys.BACKSPACE, SUMMARY)
    assert browser.find_element(By.ID, "summary-count").text == f"{len(SUMMARY)} / 2000"
    assert len(ticked(browser)) == 2
    assert submit.is_enabled()
    browser.save_screenshot(str(SCREENSHOTS / "wrap-up-form.png"))

    ctrl_enter = ActionChains(browser).key_down(Keys.CONTROL).send_keys(Keys.ENTER)
    ctrl_enter.key_up(Keys.CONTROL).perform()
    closed = wait(browser, EC.visibility_of_element_located((By.ID, "closed-info")))
    wait(browser, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Closed"))
    assert tags(browser, "#closed-categories") == ["Sextortion", "Concern about another person"]
    assert browser.find_element(By.ID, "closed-summary").text == SUMMARY
    assert not browser.find_element(By.ID, "wrap-up").is_displayed()
    assert not browser.find_element(By.ID, "book-followup").is_displayed()

    # The referral section: a take-down request, dated today by default.
    Select(browser.find_element(By.ID, "referral-kind")).select_by_visible_text(
        "Take-down request to a platform"
    )
    assert browser.find_element(By.ID, "referral-date").get_attribute("value")
    browser.find_element(By.ID, "referral-note").send_keys("Instagram, via het meldformulier")
    browser.find_element(By.ID, "referral-add").click()
    referral = wait(
        browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "#referrals .referral"))
    )
    assert "Take-down request to a platform" in referral.text
    assert "Instagram, via het meldformulier" in referral.text
    assert not browser.find_element(By.ID, "referrals-empty").is_displayed()
    browser.save_screenshot(str(SCREENSHOTS / "wrap-up-closed.png"))

    # Correcting: the same form, with what was chosen, sends `recategorise`.
    closed.find_element(By.ID, "recategorise").click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "wrap-up-submit"), "Save corrections"))
    wait(browser, lambda d: len(ticked(d)) == 2, "the chosen categories are not ticked")
    wait(browser, lambda d: d.switch_to.active_element.get_attribute("type") == "checkbox")
    keys(browser, "3", "2")
    assert ticked(browser) == ["Sextortion", "Sexting"]
    assert browser.find_element(By.ID, "summary").get_attribute("value") == SUMMARY
    browser.save_screenshot(str(SCREENSHOTS / "wrap-up-correcting.png"))
    browser.find_element(By.ID, "wrap-up-submit").click()
    wait(browser, EC.visibility_of_element_located((By.ID, "closed-info")))
    wait(browser, lambda d: tags(d, "#closed-categories") == ["Sextortion", "Sexting"])

    # The closed conversation's row carries its categories as tags.
    Select(browser.find_element(By.CSS_SELECTOR, "#filters select[name=state]")).select_by_value(
        "closed"
    )
    wait(browser, lambda d: tags(d, "#list .row") == ["Sextortion", "Sexting"])
    browser.save_screenshot(str(SCREENSHOTS / "wrap-up-corrected.png"))
