"""Setting up two-factor sign-in in a real browser, under the strict Content-Security-Policy."""

import re

import pyotp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.browsers import DEMO_ACCOUNTS, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("enrolment"),
        "enrolment",
        (["staff", "reset-2fa", "counsellor@example.org"],),
    )


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "profile", 1200, 900)
    yield driver
    driver.quit()


def test_counsellor_sets_up_two_factor_sign_in_from_the_qr_code_page(server, browser):
    email, password, _ = DEMO_ACCOUNTS["counsellor"]
    browser.get(server.url + "/inbox")
    wait(browser, EC.presence_of_element_located((By.ID, "email")), "no login form")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    qr_code = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, ".qr-code svg")))
    assert qr_code.size["width"] >= 150 and qr_code.size["height"] >= 150
    secret = browser.find_element(By.ID, "secret").text.replace(" ", "")
    browser.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).now())
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    wait(browser, EC.presence_of_element_located((By.ID, "recovery-codes")), "no recovery codes")
    codes = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#recovery-codes li")]
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){2}", c) for c in codes)
    browser.find_element(By.LINK_TEXT, "I have kept them: continue").click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "connection"), "Connected"))

    blocked = [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
    assert blocked == []
