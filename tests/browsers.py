"""Headless Debian Chromium for the browser tests: one starter, one wait."""

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from helpline.commands import DEMO_STAFF
from tests.factories import totp_code
from tests.servers import refuse_in_fast_run

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20
# role: (e-mail, password, TOTP secret) of the accounts `flask seed --demo` creates.
DEMO_ACCOUNTS = {role: (email, password, secret) for email, _, role, password, secret in DEMO_STAFF}


def start_chromium(profile: Path, width: int, height: int) -> webdriver.Chrome:
    """A fresh headless Chromium with its own profile (no storage shared with another)."""
    refuse_in_fast_run("Chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    # Keeps the console, where Chromium reports what the Content-Security-Policy blocked.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=ChromeService(executable_path=CHROMEDRIVER), options=options)


def wait(driver, condition, message: str = ""):
    """Wait up to WAIT seconds for `condition`, failing with `message`."""
    return WebDriverWait(driver, WAIT).until(condition, message)


def send(driver, text: str) -> None:
    """Type `text` into the page's composer and send it with Enter."""
    box = driver.find_element(By.ID, "body")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def sign_in(driver, url: str, who: str = "counsellor", check=None) -> None:
    """Sign in to the inbox as a demo account of `flask seed --demo` (password, then the code
    from its TOTP secret) and wait until the inbox is connected; `check(driver)`, when given,
    runs on the login page and on the code page."""
    email, password, secret = DEMO_ACCOUNTS[who]
    driver.get(url + "/inbox")
    wait(driver, EC.presence_of_element_located((By.ID, "email")), "no login form")
    if check:
        check(driver)
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver, EC.presence_of_element_located((By.ID, "code")), "no sign-in code form")
    if check:
        check(driver)
    driver.find_element(By.ID, "code").send_keys(totp_code(email, secret))
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver, EC.text_to_be_present_in_element((By.ID, "connection"), "Connected"))
