"""The visitor's chat page and the staff inbox, in real browsers against a real server."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.browsers import send, sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

NOTE = "Interne notitie: maakt zich grote zorgen"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("browser"),
        "browser",
        (
            ["service", "hours", "helpwanted", "always"],
            ["service", "hours", "stopitnow", "never"],
        ),
    )


@pytest.fixture
def open_browser(tmp_path):
    """Start headless Chromiums, each with its own profile; all quit after the test."""
    started = []

    def start(width: int = 1200, height: int = 900):
        driver = start_chromium(tmp_path / f"profile-{len(started)}", width, height)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.quit()


def text_of(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def bodies(driver) -> list[str]:
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, "#messages .msg__body")]


def has_body(text: str):
    return lambda driver: text in bodies(driver)


def script_errors(driver) -> list[str]:
    """What the page's scripts threw or failed to load, as the browser's console reports it."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_visitor_and_counsellor_chat_with_html_as_text_notes_hidden_and_history_kept(
    server, open_browser
):
    visitor = open_browser(420, 860)
    visitor.get(server.url + "/chat/helpwanted")
    assert visitor.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nl"
    intro = text_of(visitor, ".intro")
    assert "Deze chat is anoniem." in intro
    assert "Stuur nooit foto's of filmpjes" in intro

    send(visitor, "Hallo <b>hulp</b>")
    wait(
        visitor,
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".msg--mine .msg__status"), "Verzonden"),
        "the visitor's message was not acknowledged",
    )
    wait(visitor, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))

    counsellor = open_browser()
    sign_in(counsellor, server.url)
    row = wait(
        counsellor,
        EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued")),
        "the waiting chat is not in the inbox list",
    )
    assert "Helpwanted" in row.text
    row.click()
    wait(counsellor, has_body("Hallo <b>hulp</b>"), "the visitor's message is not shown")
    assert not counsellor.find_elements(By.CSS_SELECTOR, "#messages b")

    wait(counsellor, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(counsellor, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    wait(counsellor, lambda d: not d.find_element(By.ID, "note").is_selected())
    send(counsellor, "Hoi, ik ben Anna")
    wait(counsellor, has_body("Hoi, ik ben Anna"))

    wait(visitor, has_body("Hoi, ik ben Anna"), "the counsellor's reply did not arrive")
    wait(visitor, EC.text_to_be_present_in_element((By.ID, "status"), "Je praat met Anna"))
    assert "Anna" in text_of(visitor, ".msg--theirs .msg__author")
    assert "Hallo <b>hulp</b>" in bodies(visitor)
    assert not visitor.find_elements(By.CSS_SELECTOR, "#messages b")

    counsellor.find_element(By.ID, "note").click()
    send(counsellor, NOTE)
    note = wait(
        counsellor,
        EC.visibility_of_element_located((By.CSS_SELECTOR, "#messages .msg--note")),
    )
    assert "never shown to the visitor" in note.text
    wait(counsellor, lambda d: "Sending" not in note.text, "the note was not acknowledged")
    counsellor.find_element(By.ID, "note").click()
    send(counsellor, "Tips staan op https://www.helpwanted.nl/tips")

    # Messages arrive in order: once the later reply is there, the note would have been too.
    wait(visitor, has_body("Tips staan op https://www.helpwanted.nl/tips"))
    assert NOTE not in visitor.page_source
    assert "Links worden niet geopend" in visitor.find_element(By.ID, "messages").text
    assert not visitor.find_elements(By.CSS_SELECTOR, "#messages a")

    visitor.refresh()
    wait(visitor, has_body("Hoi, ik ben Anna"), "the history is gone after a reload")
    assert bodies(visitor)[0] == "Hallo <b>hulp</b>"
    wait(visitor, EC.text_to_be_present_in_element((By.ID, "status"), "Je praat met Anna"))
    assert NOTE not in visitor.page_source
    assert script_errors(counsellor) == []


def test_closed_service_offers_the_contact_form_and_an_english_page(server, open_browser):
    visitor = open_browser()
    visitor.get(server.url + "/chat/stopitnow")
    closed = wait(visitor, EC.visibility_of_element_located((By.ID, "closed-panel")))
    assert "De chat is nu gesloten." in closed.text
    form_link = closed.find_element(By.CSS_SELECTOR, "a[href^='/form/stopitnow']")
    assert form_link.text == "Naar het contactformulier"
    assert not visitor.find_element(By.ID, "composer").is_displayed()

    visitor.find_element(By.CSS_SELECTOR, ".lang-link").click()
    wait(visitor, EC.text_to_be_present_in_element((By.ID, "closed-panel"), "closed right now"))
    assert visitor.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert "This chat is anonymous." in text_of(visitor, ".intro")
    english_form = visitor.find_element(By.CSS_SELECTOR, "#closed-panel a")
    assert english_form.get_attribute("href").endswith("/form/stopitnow?lang=en")
    assert not visitor.find_element(By.ID, "composer").is_displayed()
