"""Canned responses in the inbox composer, in a real browser: "/", search, Enter inserts, send."""

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.axe import assert_accessible
from tests.browsers import sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

# The demo's `welkom` of Helpwanted, as `flask seed --demo` stores it, filled in for Anna.
WELCOME = "Hoi, je chat met Anna van Helpwanted. Fijn dat je contact opneemt!"
WELCOME_EN = "Hi, you're chatting with Anna from Helpwanted."
HOURS = "De chat van Helpwanted is open dag en nacht."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("canned"),
        "canned",
        (["service", "hours", "helpwanted", "always"],),
    )


@pytest.fixture
def open_browser(tmp_path):
    drivers = []

    def start(width: int = 1280, height: int = 900):
        driver = start_chromium(tmp_path / f"profile-{len(drivers)}", width, height)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


def keys(driver, *sequence) -> None:
    """Type into whatever has focus, as a person at the keyboard does."""
    ActionChains(driver).send_keys(*sequence).perform()


def bodies(driver) -> list[str]:
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, "#messages .msg__body")]


def focused_id(driver) -> str:
    return driver.switch_to.active_element.get_attribute("id")


def highlighted(driver) -> str:
    """The text of the option the search field points at with aria-activedescendant."""
    search = driver.find_element(By.ID, "canned-search")
    option = driver.find_element(By.ID, search.get_attribute("aria-activedescendant"))
    assert option.get_attribute("aria-selected") == "true"
    return option.text


def script_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_counsellor_inserts_a_canned_response_with_slash_edits_it_and_the_visitor_gets_it(
    server, open_browser
):
    visitor = open_browser(420, 860)
    visitor.get(server.url + "/chat/helpwanted")
    box = wait(visitor, EC.element_to_be_clickable((By.ID, "body")))
    box.send_keys("Iemand dreigt mijn foto te delen", Keys.ENTER)
    wait(visitor, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))

    anna = open_browser()
    sign_in(anna, server.url)
    wait(anna, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued"))).click()
    wait(anna, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(anna, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    composer = anna.find_element(By.ID, "body")
    composer.click()

    keys(anna, "/")
    listbox = wait(anna, EC.visibility_of_element_located((By.ID, "canned-list")))
    assert focused_id(anna) == "canned-search"
    assert composer.get_attribute("value") == ""  # the "/" opened the list, it was not typed
    wait(anna, lambda d: len(listbox.find_elements(By.CSS_SELECTOR, "[role=option]")) >= 4)
    assert anna.find_element(By.ID, "canned-open").get_attribute("aria-expanded") == "true"
    assert_accessible(anna)  # the list open

    keys(anna, "tijden")
    wait(anna, lambda d: "/tijden" in highlighted(d))
    assert HOURS in highlighted(anna)
    keys(anna, Keys.BACKSPACE * 6, "welk")
    wait(anna, lambda d: "/welkom" in highlighted(d))
    keys(anna, Keys.ARROW_DOWN)
    wait(anna, lambda d: "/welkom" in highlighted(d))  # the only match: down stays on it
    assert WELCOME in highlighted(anna)
    keys(anna, Keys.ENTER)

    wait(anna, EC.invisibility_of_element_located((By.ID, "canned")))
    assert focused_id(anna) == "body"
    assert composer.get_attribute("value").startswith(WELCOME)
    assert not any(WELCOME in body for body in bodies(anna))  # inserted, never sent by itself

    keys(anna, " Wat is er gebeurd?", Keys.ENTER)
    wait(anna, lambda d: any(body.endswith("Wat is er gebeurd?") for body in bodies(d)))
    sent = next(body for body in bodies(anna) if body.endswith("Wat is er gebeurd?"))
    assert sent.startswith(WELCOME)
    assert composer.get_attribute("value") == ""
    wait(visitor, lambda d: sent in bodies(d), "the visitor did not get the reply")

    # The button opens the same list; English is one click away; Escape closes it.
    anna.find_element(By.ID, "canned-open").click()
    wait(anna, EC.visibility_of_element_located((By.ID, "canned-list")))
    anna.find_element(By.CSS_SELECTOR, "#canned [data-language=en]").click()
    keys(anna, "welk")
    wait(anna, lambda d: WELCOME_EN in highlighted(d))
    keys(anna, Keys.ESCAPE)
    wait(anna, EC.invisibility_of_element_located((By.ID, "canned")))
    assert focused_id(anna) == "body"
    assert composer.get_attribute("value") == ""
    assert script_errors(anna) == []


def test_the_supervisors_page_and_its_refusals_pass_axe(server, open_browser):
    sam = open_browser()
    sign_in(sam, server.url, "supervisor")
    sam.get(server.url + "/admin/canned-responses?service=stopitnow")
    assert sam.find_element(By.TAG_NAME, "h1").text == "Canned responses"
    assert "/welkom" in sam.find_element(By.CSS_SELECTOR, ".canned-list").text
    sam.find_element(By.CSS_SELECTOR, ".canned-item__edit summary").click()
    assert_accessible(sam)

    sam.find_element(By.ID, "new-shortcut").send_keys("naam")
    sam.find_element(By.ID, "new-title").send_keys("Naam")
    sam.find_element(By.ID, "new-text").send_keys("Hoi {naam}")
    sam.find_element(By.CSS_SELECTOR, ".canned-form--new button[type=submit]").click()
    error = wait(sam, EC.visibility_of_element_located((By.ID, "new-text-error")))
    assert "Unknown variable {naam}" in error.text
    assert_accessible(sam)
