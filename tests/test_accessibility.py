"""Every visitor and staff page, in each main state, passes axe-core's WCAG 2.2 A/AA rules."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from tests.axe import assert_accessible
from tests.browsers import send, sign_in, start_chromium, wait
from tests.servers import demo_server

# Starts real server processes or Chromium: `make test-fast` leaves it out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from demo_server(
        tmp_path_factory.mktemp("accessibility"),
        "accessibility",
        (
            ["service", "hours", "helpwanted", "always"],
            ["service", "hours", "stopitnow", "never"],
        ),
    )


@pytest.fixture
def open_browser(tmp_path):
    """Start headless Chromiums at a desktop size, each with its own profile."""
    started = []

    def start(width: int = 1280, height: int = 900):
        driver = start_chromium(tmp_path / f"profile-{len(started)}", width, height)
        started.append(driver)
        return driver

    yield start
    for driver in started:
        driver.quit()


def open_page(driver, url: str, heading: str) -> None:
    """Go to `url` and make sure it is the page meant, not an error page, before axe looks."""
    driver.get(url)
    title = driver.find_element(By.TAG_NAME, "h1").text
    assert title.startswith(heading), f"{url} shows {title!r}"


def visible(driver, element_id: str):
    return wait(driver, EC.visibility_of_element_located((By.ID, element_id)), f"no #{element_id}")


def click(driver, selector: str) -> None:
    wait(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, selector)), selector).click()


def bodies(driver) -> list[str]:
    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, "#messages .msg__body")]


def shown(driver, text: str) -> None:
    wait(driver, lambda d: text in bodies(d), f"{text!r} is not shown")


def test_sign_in_two_factor_empty_inbox_account_and_api_tokens_pass_axe(server, open_browser):
    staff = open_browser()
    sign_in(staff, server.url, check=assert_accessible)
    visible(staff, "list-empty")
    assert_accessible(staff)

    for path, heading in (("/account", "Your account"), ("/api/tokens", "Your API tokens")):
        open_page(staff, server.url + path, heading)
        assert_accessible(staff)


def test_a_chat_passes_axe_for_visitor_and_counsellor_in_every_state(server, open_browser):
    visitor = open_browser(420, 860)
    visitor.get(server.url + "/chat/helpwanted")
    visible(visitor, "body")
    assert_accessible(visitor)  # open, nothing sent yet
    send(visitor, "Iemand dreigt mijn foto te delen")
    wait(visitor, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))
    assert_accessible(visitor)  # queued

    staff = open_browser()
    sign_in(staff, server.url)
    wait(staff, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued")))
    assert_accessible(staff)  # a queued chat in the list
    click(staff, "#list .row--queued")
    shown(staff, "Iemand dreigt mijn foto te delen")
    assert_accessible(staff)  # the queued chat open
    click(staff, "#claim")
    wait(staff, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    send(staff, "Wat naar. Heb je al iets betaald?")
    shown(visitor, "Wat naar. Heb je al iets betaald?")
    assert_accessible(staff)  # active, with messages
    assert_accessible(visitor)

    click(staff, "#book-followup")
    wait(staff, EC.element_to_be_clickable((By.CSS_SELECTOR, "#booking-panel #method-chat")))
    assert_accessible(staff)  # the booking panel with free times
    click(staff, "#method-chat")
    click(staff, "#book-form input[name=slot]")
    click(staff, "#book-form button[type=submit]")
    visible(staff, "booking-code")
    assert_accessible(staff)  # booked, the code shown once
    click(staff, "#booking-panel-close")

    click(staff, "#list .row")
    click(staff, "#end")
    staff.switch_to.alert.accept()
    visible(staff, "wrap-up")
    wait(staff, EC.element_to_be_clickable((By.CSS_SELECTOR, "#category-choices input")))
    assert_accessible(staff)  # wrap-up
    click(staff, "#category-choices input")
    staff.find_element(By.ID, "summary").send_keys("Dreiging met delen van een foto.")
    click(staff, "#wrap-up-submit")
    visible(staff, "closed-info")
    assert_accessible(staff)  # closed

    visible(visitor, "ended-panel")
    assert_accessible(visitor)  # ended, the survey offered
    click(visitor, "#survey-link")
    wait(visitor, EC.presence_of_element_located((By.CSS_SELECTOR, "form button[type=submit]")))
    assert_accessible(visitor)  # the survey
    click(visitor, "form button[type=submit]")
    wait(visitor, EC.presence_of_element_located((By.TAG_NAME, "h1")))
    assert_accessible(visitor)  # the survey's thanks


def test_the_form_its_errors_its_thanks_and_the_reply_page_pass_axe(server, open_browser):
    visitor = open_browser()
    visitor.get(server.url + "/form/helpwanted")
    assert_accessible(visitor)
    click(visitor, "form#report-form button[type=submit], main form button[type=submit]")
    visible(visitor, "error-summary")
    assert_accessible(visitor)  # refused, with its error summary

    click(visitor, "#f-about-myself")
    visitor.find_element(By.ID, "f-what_happened").send_keys("Iemand dreigt mijn foto's te delen.")
    click(visitor, "main form button[type=submit]")
    code = visible(visitor, "reply-code").text
    secret = visitor.find_element(By.ID, "reply-secret").text
    assert_accessible(visitor)  # thanks, with the reply code

    visitor.get(server.url + "/form/reply")
    assert_accessible(visitor)
    visitor.find_element(By.ID, "f-code").send_keys(code)
    visitor.find_element(By.ID, "f-secret").send_keys(secret)
    click(visitor, "main form button[type=submit]")
    visible(visitor, "answers-heading")
    assert_accessible(visitor)  # the reply page


def test_a_closed_chat_and_the_booked_chat_entry_pass_axe(server, open_browser):
    visitor = open_browser()
    visitor.get(server.url + "/chat/stopitnow")
    visible(visitor, "closed-panel")
    assert_accessible(visitor)

    visitor.get(server.url + "/afspraak")
    assert_accessible(visitor)
    visitor.find_element(By.ID, "f-code").send_keys("AAAA-AAAA")
    click(visitor, "main form button[type=submit]")
    visible(visitor, "code-error")
    assert_accessible(visitor)  # an unknown code


def test_the_therapists_agenda_and_availability_pass_axe(server, open_browser):
    therapist = open_browser()
    sign_in(therapist, server.url, "therapist")
    for path, heading in (("/followup/agenda", "Agenda"), ("/followup/availability", "Avail")):
        open_page(therapist, server.url + path, heading)
        assert_accessible(therapist)


def cut_off_tables(driver) -> list[str]:
    """Captions of the report tables wider than the space they have."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.report-table')]"
        "  .filter((box) => box.scrollWidth > box.clientWidth + 1)"
        "  .map((box) => box.querySelector('caption')?.textContent.trim() || box.id);"
    )


def test_reports_blocked_visitors_and_categories_pass_axe(server, open_browser):
    admin = open_browser()
    sign_in(admin, server.url, "admin")
    pages = (
        ("/reports", "Report"),
        ("/inbox/blocks", "Blocked visitors"),
        ("/admin/categories", "Categories"),
    )
    for path, heading in pages:
        open_page(admin, server.url + path, heading)
        assert_accessible(admin)


def test_every_report_table_fits_a_1280_pixel_window(server, open_browser):
    supervisor = open_browser(1280, 900)
    sign_in(supervisor, server.url, "supervisor")
    open_page(supervisor, server.url + "/reports", "Report")
    assert supervisor.find_elements(By.CSS_SELECTOR, ".report-table td.zero")
    assert cut_off_tables(supervisor) == []


def test_the_board_a_watched_chat_and_search_pass_axe_for_a_supervisor(server, open_browser):
    visitor = open_browser(420, 860)
    visitor.get(server.url + "/chat/helpwanted")
    send(visitor, "Mijn foto's zijn gedeeld")
    wait(visitor, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))

    supervisor = open_browser()
    sign_in(supervisor, server.url, "supervisor")
    open_page(supervisor, server.url + "/board", "Supervisor board")
    wait(supervisor, EC.presence_of_element_located((By.CSS_SELECTOR, "#board-waiting tr")))
    assert_accessible(supervisor)  # someone waiting

    counsellor = open_browser()
    sign_in(counsellor, server.url)
    # The form sent earlier waits in the list too: claim the chat.
    queued_chat = "//ul[@id='list']//*[contains(@class, 'row--queued')][contains(., 'Chat')]"
    wait(counsellor, EC.element_to_be_clickable((By.XPATH, queued_chat))).click()
    click(counsellor, "#claim")
    wait(counsellor, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))

    supervisor.get(server.url + "/inbox")
    click(supervisor, "#list .row__watch")
    visible(supervisor, "whisper-form")
    wait(supervisor, EC.text_to_be_present_in_element((By.ID, "messages"), "zijn gedeeld"))
    assert_accessible(supervisor)  # watching silently
    wait(counsellor, EC.text_to_be_present_in_element((By.ID, "watchers"), "watching"))
    assert_accessible(counsellor)  # watched

    open_page(supervisor, server.url + "/inbox/search", "Search conversations")
    assert_accessible(supervisor)
    supervisor.find_element(By.ID, "text").send_keys("foto")
    click(supervisor, ".search-form button[type=submit]")
    wait(supervisor, EC.presence_of_element_located((By.CSS_SELECTOR, ".search-result")))
    assert_accessible(supervisor)  # with results
    open_page(supervisor, server.url + "/inbox/search?from=2026-13-01", "Search conversations")
    assert_accessible(supervisor)  # a refused date
