"""Headless Debian Chromium for the browser tests: one starter, one wait."""

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20


def start_chromium(profile: Path, width: int, height: int) -> webdriver.Chrome:
    """A fresh headless Chromium with its own profile (no storage shared with another)."""
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
    return webdriver.Chrome(service=ChromeService(executable_path=CHROMEDRIVER), options=options)


def wait(driver, condition, message: str = ""):
    """Wait up to WAIT seconds for `condition`, failing with `message`."""
    return WebDriverWait(driver, WAIT).until(condition, message)
