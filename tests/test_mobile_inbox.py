"""The staff inbox on a phone (390 px wide): list and conversation as separate views."""

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.axe import assert_accessible
from tests.browsers import send, sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 390, 844
SCREENSHOTS = Path("/tmp")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("mobile"),
        "mobile",
        (["service", "hours", "helpwanted", "always"],),
    )


@pytest.fixture
def browsers(tmp_path):
    started = []

    def start(width: int, height: int):
        driver = start_chromium(tmp_path / f"profile-{len(started)}", width, height)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.quit()


def as_phone(driver) -> None:
    """A 390 by 844 viewport: headless Chromium keeps windows at least 500 px wide, so the
    DevTools device metrics set the size the page lays out in."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True},
    )


def page_width(driver) -> int:
    return driver.execute_script("return document.documentElement.scrollWidth")


def in_viewport(driver, element_id: str) -> bool:
    """Whether the element lies wholly inside the window, without scrolling the page."""
    return driver.execute_script(
        "const box = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return box.width > 0 && box.top >= 0 && box.bottom <= window.innerHeight"
        "  && box.left >= 0 && box.right <= window.innerWidth;",
        element_id,
    )


def bodies(driver) -> list[str]:
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, "#messages .msg__body")]


def test_a_counsellor_on_a_phone_opens_a_chat_replies_and_goes_back_to_the_list(server, browsers):
    visitor = browsers(420, 860)
    visitor.get(server.url + "/chat/helpwanted")
    send(visitor, "Iemand dreigt mijn foto te delen")
    wait(visitor, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))

    phone = browsers(WIDTH, HEIGHT)
    as_phone(phone)
    sign_in(phone, server.url)
    # The window's inner width, without scrollbars: what the page lays out in.
    width = phone.execute_script("return document.documentElement.clientWidth")
    assert width <= WIDTH
    row = wait(phone, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued")))
    assert not phone.find_element(By.ID, "back-to-list").is_displayed()
    assert page_width(phone) <= width
    assert_accessible(phone)

    row.click()
    wait(phone, lambda d: "Iemand dreigt mijn foto te delen" in bodies(d))
    assert not phone.find_element(By.ID, "list").is_displayed(), "the list is still beside it"
    assert phone.find_element(By.ID, "back-to-list").is_displayed()
    wait(phone, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(phone, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    assert in_viewport(phone, "body"), "the composer is not on the first screen"
    assert in_viewport(phone, "send")
    send(phone, "Hoi, ik ben Anna. Wat is er gebeurd?")
    wait(visitor, lambda d: "Hoi, ik ben Anna. Wat is er gebeurd?" in bodies(d))
    wait(phone, lambda d: "Hoi, ik ben Anna. Wat is er gebeurd?" in bodies(d))
    assert in_viewport(phone, "body")
    assert page_width(phone) <= width
    phone.save_screenshot(str(SCREENSHOTS / "mobile-inbox-conversation.png"))
    assert_accessible(phone)

    phone.find_element(By.ID, "back-to-list").click()
    row = wait(phone, EC.visibility_of_element_located((By.CSS_SELECTOR, "#list .row")))
    assert not phone.find_element(By.ID, "conv").is_displayed()
    assert phone.switch_to.active_element == row, "focus is not on the row just left"
    assert page_width(phone) <= width
    phone.save_screenshot(str(SCREENSHOTS / "mobile-inbox-list.png"))

    row.click()  # the same conversation again
    wait(phone, EC.visibility_of_element_located((By.ID, "body")))
    assert in_viewport(phone, "body")
