"""A contact form in the inbox, in a real browser: its answers read as questions and chosen words,
and its button moves it to wrap-up without talk of ending a chat."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from tests.browsers import sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("form-inbox"),
        "form-inbox",
        (["service", "hours", "helpwanted", "always"],),
    )


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "profile", 1280, 900)
    yield driver
    driver.quit()


def test_counsellor_reads_the_form_s_answers_and_finishes_it_for_wrap_up(server, browser):
    browser.get(server.url + "/form/helpwanted")
    wait(browser, EC.element_to_be_clickable((By.ID, "f-about-someone_else"))).click()
    Select(browser.find_element(By.ID, "f-age_band")).select_by_value("12_15")
    browser.find_element(By.ID, "f-what_happened").send_keys("Iemand dreigt foto's te delen.")
    browser.find_element(By.CSS_SELECTOR, ".form-actions button[type=submit]").click()
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".codes, .code-value")))
    browser.switch_to.new_window("window")
    sign_in(browser, server.url)

    wait(browser, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued"))).click()
    first = wait(
        browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "#messages .msg__body"))
    )
    assert "How old is the person it is about?\n12\N{EN DASH}15 years" in first.text
    assert "Who is it about?\nAbout someone else" in first.text
    assert "12_15" not in first.text and "someone_else" not in first.text
    wait(browser, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))

    finish = browser.find_element(By.ID, "end")
    assert finish.is_displayed() and finish.text == "Finish and wrap up"
    shown = [b.text for b in browser.find_elements(By.TAG_NAME, "button") if b.is_displayed()]
    assert "End chat" not in shown
    finish.click()
    browser.switch_to.alert.accept()
    wait(browser, EC.visibility_of_element_located((By.ID, "wrap-up")))
