"""Staff presence in real browsers: a colleague away is not offered for a transfer, a
hand-over note reaches the receiver with an unread count, and the board follows a new chat."""

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from tests.browsers import sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp")
NOTE = "Ze is 15 en wil weten hoe ze de foto laat verwijderen."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("presence-ui"),
        "presence-ui",
        (["service", "hours", "helpwanted", "always"],),
    )


@pytest.fixture
def open_browser(tmp_path):
    started = []

    def start():
        driver = start_chromium(tmp_path / f"profile-{len(started)}", 1280, 900)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.quit()


def board_cell(driver, row: int, column: int) -> str:
    return driver.find_element(
        By.CSS_SELECTOR, f"#board-queues tr:nth-child({row}) > :nth-child({column})"
    ).text


def colleague_option(driver, name: str):
    for option in driver.find_elements(By.CSS_SELECTOR, "#transfer-to option"):
        if option.text.startswith(name):
            return option
    return None


def set_status(driver, label: str) -> None:
    Select(driver.find_element(By.ID, "my-status")).select_by_visible_text(label)
    wait(driver, EC.text_to_be_present_in_element((By.ID, "notices"), f"Your status: {label}."))


def test_away_colleague_is_not_offered_a_note_reaches_the_receiver_and_the_board_is_live(
    server, open_browser
):
    ali = open_browser()
    sign_in(ali, server.url, "admin")
    ali.get(server.url + "/board")
    wait(ali, EC.text_to_be_present_in_element((By.ID, "connection"), "Connected"))
    wait(ali, lambda d: board_cell(d, 1, 1) == "Helpwanted" and board_cell(d, 1, 3) == "0")

    anna, sam = open_browser(), open_browser()
    sign_in(anna, server.url, "counsellor")
    sign_in(sam, server.url, "supervisor")
    visitor = open_browser()
    visitor.get(server.url + "/chat/helpwanted")
    box = wait(visitor, EC.element_to_be_clickable((By.ID, "body")))
    box.send_keys("Iemand dreigt mijn foto te delen")
    box.send_keys(Keys.ENTER)

    # The board follows the new chat without a reload.
    wait(ali, lambda d: board_cell(d, 1, 3) == "1", "the board did not show the waiting chat")
    assert "Sam" in ali.find_element(By.ID, "board-staff").text
    ali.save_screenshot(str(SCREENSHOTS / "presence-board.png"))

    set_status(sam, "Away")
    wait(anna, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row"))).click()
    wait(anna, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(anna, EC.visibility_of_element_located((By.ID, "transfer-box")))
    anna.find_element(By.ID, "transfer-to").click()
    wait(anna, lambda d: colleague_option(d, "Sam") is not None, "Sam is not in the list")
    offered = colleague_option(anna, "Sam")
    assert "away" in offered.text
    assert not offered.is_enabled()

    set_status(sam, "Available")
    anna.find_element(By.ID, "handover-note").click()  # leaves the list, which reloads on focus
    anna.find_element(By.ID, "transfer-to").click()
    wait(anna, lambda d: colleague_option(d, "Sam").is_enabled(), "Sam is still not offered")
    anna.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    Select(anna.find_element(By.ID, "transfer-to")).select_by_value(
        colleague_option(anna, "Sam").get_attribute("value")
    )
    anna.find_element(By.ID, "handover-note").send_keys(NOTE)
    anna.find_element(By.ID, "transfer").click()

    wait(sam, lambda d: d.title.startswith("(1)"), "the transfer did not raise Sam's count")
    assert "1 unread" in sam.find_element(By.CSS_SELECTOR, "#list .row").text
    sam.find_element(By.CSS_SELECTOR, "#list .row").click()
    wait(sam, EC.visibility_of_element_located((By.ID, "handover")))
    sam.save_screenshot(str(SCREENSHOTS / "presence-handover.png"))
    assert sam.find_element(By.ID, "handover-heading").text == "Hand-over note from Anna"
    assert sam.find_element(By.ID, "handover-body").text == NOTE
    wait(sam, lambda d: not d.title.startswith("("), "opening did not mark the transfer read")
