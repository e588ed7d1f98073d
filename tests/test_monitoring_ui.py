"""Silent monitoring in real browsers: a supervisor watches a chat live and whispers; the
counsellor sees who watches and the whisper; the visitor sees neither."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.axe import assert_accessible
from tests.browsers import sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes and Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

WHISPER = "Vraag of er al aangifte is gedaan"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("monitoring"),
        "monitoring",
        (["service", "hours", "helpwanted", "always"],),
    )


@pytest.fixture
def desk(tmp_path):
    """The visitor's and the counsellor's windows (one browser, as on one test machine)."""
    driver = start_chromium(tmp_path / "desk", 1280, 900)
    yield driver
    driver.quit()


@pytest.fixture
def supervisor(tmp_path):
    driver = start_chromium(tmp_path / "supervisor", 1280, 900)
    yield driver
    driver.quit()


def visitor_says(driver, text: str) -> None:
    box = wait(driver, EC.element_to_be_clickable((By.ID, "body")))
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def messages_text(driver) -> str:
    return driver.find_element(By.ID, "messages").text


def test_supervisor_watches_live_and_whispers_and_only_the_counsellor_notices(
    server, desk, supervisor
):
    desk.get(server.url + "/chat/helpwanted")
    visitor_says(desk, "Iemand dreigt mijn foto te delen")
    wait(desk, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))
    chat = desk.current_window_handle
    desk.switch_to.new_window("window")
    inbox = desk.current_window_handle
    sign_in(desk, server.url)
    wait(desk, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued"))).click()
    wait(desk, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(desk, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    assert not desk.find_element(By.ID, "watchers").is_displayed()

    sign_in(supervisor, server.url, "supervisor")
    wait(supervisor, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row__watch"))).click()
    wait(supervisor, EC.visibility_of_element_located((By.ID, "whisper-form")))
    wait(supervisor, EC.text_to_be_present_in_element((By.ID, "messages"), "foto te delen"))
    for action in ("composer", "end", "transfer-box", "claim"):
        assert not supervisor.find_element(By.ID, action).is_displayed(), action

    # The counsellor sees who watches, live.
    wait(desk, EC.text_to_be_present_in_element((By.ID, "watchers"), "Sam is watching"))

    # The supervisor follows the chat as it goes on.
    desk.switch_to.window(chat)
    visitor_says(desk, "Hij wil geld")
    wait(supervisor, EC.text_to_be_present_in_element((By.ID, "messages"), "Hij wil geld"))

    box = supervisor.find_element(By.ID, "whisper-body")
    box.send_keys(WHISPER)
    box.send_keys(Keys.ENTER)
    wait(supervisor, EC.presence_of_element_located((By.CSS_SELECTOR, ".msg--whisper")))

    assert_accessible(supervisor)

    desk.switch_to.window(inbox)
    whisper = wait(
        desk,
        EC.visibility_of_element_located((By.CSS_SELECTOR, "#messages .msg--whisper")),
        "the counsellor did not get the whisper",
    )
    assert "Supervisor Sam (whisper)" in whisper.text and WHISPER in whisper.text
    assert_accessible(desk)

    supervisor.find_element(By.ID, "stop-watching").click()
    wait(desk, EC.invisibility_of_element_located((By.ID, "watchers")), "still shown watching")

    desk.switch_to.window(chat)
    desk.refresh()
    wait(desk, EC.text_to_be_present_in_element((By.ID, "messages"), "Hij wil geld"))
    seen = messages_text(desk) + desk.find_element(By.TAG_NAME, "body").text
    assert WHISPER not in seen
    assert "Sam" not in seen and "whisper" not in seen.lower()
