"""The phone line in the staff inbox, in a real browser against a real server.

The server runs with the built-in phone simulator (no Twilio account configured): its REST calls
to Twilio are answered in-process, and the test plays Twilio's webhooks, signed with the key the
simulator derives from SECRET_KEY (helpline.config.finalise).
"""

import hashlib
import re
import secrets
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.browsers import sign_in, start_chromium, wait
from tests.factories import call_sid, twilio_signature
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

SECRET_KEY = "test-phone-inbox"
SIMULATED_ACCOUNT_SID = "AC" + "0" * 32
SIMULATED_AUTH_TOKEN = hashlib.sha256(b"twilio-simulator:" + SECRET_KEY.encode()).hexdigest()
LINE = "+31800000001"  # stopitnow's number in `flask seed --demo`
SCREENSHOTS = Path("/tmp")
# In `flask seed --demo`, the counsellor has a phone calls are put through to, Sam has none.


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("phone-ui"),
        "phone-ui",
        (
            ["service", "hours", "stopitnow", "always"],
            ["service", "phone", "stopitnow", LINE],
        ),
        SECRET_KEY=SECRET_KEY,
        TWILIO_ACCOUNT_SID="",
        TWILIO_AUTH_TOKEN="",
    )


@pytest.fixture
def open_browser(tmp_path):
    """Start headless Chromiums, each with its own profile; all quit after the test."""
    started = []

    def start(width: int = 1280, height: int = 900):
        driver = start_chromium(tmp_path / f"profile-{len(started)}", width, height)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.quit()


class Call:
    """Twilio reporting one call to the server, every webhook signed as the simulator signs."""

    def __init__(self, url: str, number: str):
        self.url = url
        self.number = number
        self.sid = call_sid()

    def post(self, path: str, **params) -> requests.Response:
        params = {"CallSid": self.sid, "AccountSid": SIMULATED_ACCOUNT_SID, **params}
        signature = twilio_signature(self.url + path, params, SIMULATED_AUTH_TOKEN)
        response = requests.post(
            self.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )
        assert response.ok, response.text
        return response

    def ring(self) -> str:
        return self.post(
            "/phone/voice", From=self.number, To=LINE, CallStatus="ringing", Direction="inbound"
        ).text

    def leave_voicemail(self, seconds: int) -> None:
        """Choose 1 in the menu (also possible while waiting) and record a message."""
        self.post("/phone/gather", Digits="1")
        recording_sid = "RE" + secrets.token_hex(16)
        self.post(
            "/phone/recording",
            RecordingSid=recording_sid,
            RecordingUrl=f"https://simulator.invalid/Recordings/{recording_sid}",
            RecordingDuration=str(seconds),
        )


def text_in(element_id: str, text: str):
    return EC.text_to_be_present_in_element((By.ID, element_id), text)


def row_with(driver, text: str):
    """The list row whose text contains `text`, once it is there."""

    def find(d):
        for row in d.find_elements(By.CSS_SELECTOR, "#list .row"):
            if text in row.text:
                return row
        return False

    return wait(driver, find, f"no row with {text!r} in the list")


def switch_on_taking_calls(driver) -> None:
    switch = driver.find_element(By.ID, "take-calls")
    assert switch.is_enabled()
    if not switch.is_selected():
        switch.click()
    wait(driver, lambda d: switch.is_selected() and switch.is_enabled(), "take_calls not saved")


def test_ringing_call_shows_masked_number_and_is_accepted_then_called_back(server, open_browser):
    counsellor = open_browser()
    sign_in(counsellor, server.url)
    switch_on_taking_calls(counsellor)
    # The switch's state comes from the server on the next visit.
    counsellor.refresh()
    wait(counsellor, text_in("connection", "Connected"))
    assert counsellor.find_element(By.ID, "take-calls").is_selected()
    assert not counsellor.find_element(By.ID, "take-calls-hint").is_displayed()

    call = Call(server.url, "+31612345678")
    assert "<Enqueue" in call.ring(), "with someone taking calls, the call waits in the queue"

    row = wait(
        counsellor,
        EC.visibility_of_element_located((By.CSS_SELECTOR, "#list .row--ringing")),
        "the ringing call is not in the list",
    )
    assert "Ringing" in row.text
    assert "…78" in row.text
    assert "Phone" in row.text
    timer = row.find_element(By.CSS_SELECTOR, ".badge--ringing .timer")
    assert re.fullmatch(r"\d+:\d\d", timer.text)
    first = timer.text
    wait(counsellor, lambda d: timer.text != first, "the waiting timer does not run")
    wait(counsellor, EC.title_contains("Call ringing"))
    assert "612345678" not in counsellor.page_source
    assert "600000001" not in counsellor.page_source, "the counsellor's own number is shown"
    counsellor.save_screenshot(str(SCREENSHOTS / "phone-inbox-ringing.png"))

    row.click()
    claim = wait(counsellor, EC.element_to_be_clickable((By.ID, "claim")))
    wait(counsellor, text_in("claim", "Accept call"))
    assert counsellor.find_element(By.ID, "phone-caller").text == "Number …78"
    assert not counsellor.find_element(By.ID, "call-back").is_displayed()
    claim.click()
    wait(counsellor, text_in("conv-meta", "Active"), "the call was not accepted")
    wait(counsellor, text_in("phone-stage", "On the phone"), "the call was not put through")
    assert counsellor.find_element(By.ID, "note").is_selected(), "a caller cannot read replies"

    # Twilio reports the end of the Dial to the action URL the app gave: it names the counsellor.
    me = counsellor.find_element(By.ID, "main").get_attribute("data-me")
    call.post(f"/phone/dial?to={me}", DialCallStatus="completed", DialCallDuration="95")
    wait(counsellor, text_in("conv-meta", "Wrap-up"))
    wait(counsellor, text_in("phone-stage", "Call ended"))
    wait(counsellor, text_in("messages", "The call ended after 1:35."))

    call_back = wait(counsellor, EC.element_to_be_clickable((By.ID, "call-back")))
    assert call_back.text == "Call back"
    call_back.click()
    wait(counsellor, text_in("messages", "Anna is calling back."), "no callback started")
    wait(counsellor, text_in("call-back", "Calling…"))
    wait(counsellor, text_in("phone-talk", "Talk time 1:35 · 1 callback"))
    assert not call_back.is_enabled()
    assert "612345678" not in counsellor.page_source
    counsellor.save_screenshot(str(SCREENSHOTS / "phone-inbox-callback.png"))


def test_voicemail_plays_in_the_inbox_and_can_be_deleted(server, open_browser):
    call = Call(server.url, "+31687654321")
    call.ring()
    call.leave_voicemail(42)
    counsellor = open_browser()
    sign_in(counsellor, server.url)

    row = row_with(counsellor, "…21")
    assert "Voicemail (0:42)" in row.text
    row.click()
    wait(counsellor, text_in("voicemail-label", "Voicemail (0:42)"))
    player = counsellor.find_element(By.ID, "voicemail-audio")
    conversation_id = int(player.get_attribute("src").rsplit("/", 1)[1])
    assert player.get_attribute("src") == f"{server.url}/phone/voicemail/{conversation_id}"
    assert player.get_attribute("preload") == "none"
    assert player.get_attribute("controls") is not None
    # The player's source answers with audio for the signed-in counsellor.
    answer = counsellor.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then((r) => done([r.status, r.headers.get('Content-Type')]));",
        f"/phone/voicemail/{conversation_id}",
    )
    assert answer == [200, "audio/wav"]
    assert "687654321" not in counsellor.page_source
    counsellor.save_screenshot(str(SCREENSHOTS / "phone-inbox-voicemail.png"))

    counsellor.find_element(By.ID, "delete-voicemail").click()
    alert = wait(counsellor, EC.alert_is_present())
    assert "Delete this voicemail" in alert.text
    alert.accept()
    wait(counsellor, EC.visibility_of_element_located((By.ID, "voicemail-deleted")))
    assert counsellor.find_element(By.ID, "voicemail-deleted").text == "Voicemail deleted"
    assert not counsellor.find_element(By.ID, "voicemail").is_displayed()
    assert player.get_dom_attribute("src") is None
    wait(counsellor, text_in("messages", "Anna deleted the voicemail."))
    wait(counsellor, lambda d: "Voicemail deleted" in row_with(d, "…21").text)


def test_withheld_caller_cannot_be_called_back_and_the_reason_is_shown(server, open_browser):
    call = Call(server.url, "anonymous")
    call.ring()
    call.leave_voicemail(7)
    counsellor = open_browser()
    sign_in(counsellor, server.url)

    row = row_with(counsellor, "Withheld number")
    assert "Voicemail (0:07)" in row.text
    row.click()
    wait(counsellor, text_in("phone-caller", "Withheld number"))
    call_back = wait(counsellor, EC.visibility_of_element_located((By.ID, "call-back")))
    assert not call_back.is_enabled()
    why = counsellor.find_element(By.ID, "call-back-why")
    assert why.is_displayed()
    assert why.text == "The caller's number is withheld: they cannot be called back."
    counsellor.save_screenshot(str(SCREENSHOTS / "phone-inbox-withheld.png"))


def test_take_calls_switch_is_off_with_a_hint_without_a_phone_number(server, open_browser):
    supervisor = open_browser()
    sign_in(supervisor, server.url, "supervisor")
    switch = supervisor.find_element(By.ID, "take-calls")
    assert not switch.is_enabled()
    assert not switch.is_selected()
    hint = supervisor.find_element(By.ID, "take-calls-hint")
    assert hint.is_displayed()
    assert hint.text == "No phone number set: ask an admin"
    assert switch.get_attribute("aria-describedby") == "take-calls-hint"
    supervisor.save_screenshot(str(SCREENSHOTS / "phone-inbox-no-phone.png"))
