"""Quick exit, in a real browser: Esc or the button leaves for a neutral site and takes the chat
out of the browser, so Back and reopening the chat show nothing of it."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.browsers import start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

MESSAGE = "Iemand dreigt mijn foto's te delen"


class NeutralPage(BaseHTTPRequestHandler):
    """The neutral site quick exit leads to (the browser has no internet here)."""

    def do_GET(self):
        page = b"<!doctype html><title>Weerbericht</title><p>Het weer vandaag: zonnig.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def neutral_site():
    site = ThreadingHTTPServer(("127.0.0.1", 0), NeutralPage)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{site.server_address[1]}/weer"
    site.shutdown()
    site.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, neutral_site):
    yield from demo_server(
        tmp_path_factory.mktemp("exit"),
        "exit",
        (["service", "hours", "helpwanted", "always"],),
        QUICK_EXIT_URL=neutral_site,
    )


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "profile", 420, 860)
    yield driver
    driver.quit()


def bodies(driver) -> list[str]:
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, "#messages .msg__body")]


def stored(driver) -> dict:
    return driver.execute_script(
        "return {local: Object.keys(localStorage), session: Object.keys(sessionStorage)};"
    )


def start_chat(browser) -> None:
    """Send a first message on the open chat page and wait until it is acknowledged."""
    box = browser.find_element(By.ID, "body")
    box.send_keys(MESSAGE)
    box.send_keys(Keys.ENTER)
    wait(
        browser,
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".msg--mine .msg__status"), "Verzonden"),
        "the message was not acknowledged",
    )
    assert "helpline.conversation.helpwanted" in stored(browser)["local"]


def on(url: str):
    return lambda driver: driver.current_url == url


def test_privacy_quick_exit_clears_the_chat_from_the_browser(server, neutral_site, browser):
    browser.get(server.url + "/")
    browser.get(server.url + "/chat/helpwanted")
    start_chat(browser)

    # Esc that ends an input method's composition is not a request to leave.
    browser.execute_script(
        "document.getElementById('body').dispatchEvent(new KeyboardEvent('keydown',"
        " {key: 'Escape', isComposing: true, bubbles: true}));"
    )
    assert bodies(browser) == [MESSAGE]

    browser.find_element(By.ID, "body").send_keys(Keys.ESCAPE)

    wait(browser, on(neutral_site), "Esc did not leave for the neutral site")
    assert "Het weer vandaag" in browser.find_element(By.TAG_NAME, "body").text

    browser.back()
    wait(browser, on(server.url + "/"), "Back did not skip the chat page")
    assert MESSAGE not in browser.page_source

    browser.get(server.url + "/chat/helpwanted")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "status"), "Stuur een bericht"))
    assert stored(browser) == {"local": [], "session": []}
    assert bodies(browser) == []
    assert not browser.find_element(By.ID, "leave").is_displayed()
    assert MESSAGE not in browser.page_source


def test_privacy_quick_exit_by_esc_or_the_button_leaves_the_contact_form_in_its_place(
    server, neutral_site, browser
):
    browser.get(server.url + "/form/helpwanted")
    browser.find_element(By.ID, "f-what_happened").send_keys("Iemand dreigt")

    browser.find_element(By.ID, "f-what_happened").send_keys(Keys.ESCAPE)

    wait(browser, on(neutral_site), "Esc did not leave the form")
    browser.back()
    wait(browser, lambda d: d.current_url != neutral_site)
    assert "/form/" not in browser.current_url

    browser.get(server.url + "/form/helpwanted")
    browser.find_element(By.ID, "quick-exit").click()
    wait(browser, on(neutral_site), "the button did not leave the form")


def test_privacy_removing_the_conversation_from_this_device_clears_the_browser(server, browser):
    browser.get(server.url + "/chat/helpwanted")
    start_chat(browser)

    browser.find_element(By.ID, "forget").click()
    wait(browser, EC.alert_is_present(), "no confirmation was asked")
    browser.switch_to.alert.accept()

    wait(browser, lambda d: stored(d) == {"local": [], "session": []}, "the chat stayed stored")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "status"), "Stuur een bericht"))
    browser.get(server.url + "/chat/helpwanted")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "status"), "Stuur een bericht"))
    assert bodies(browser) == []
    assert stored(browser) == {"local": [], "session": []}
