"""Screenshots of what staff see, for the README: `make screenshots` writes docs/screenshots/*.png.

Starts a demo server on a database of its own, opens three visitors' chats in headless Chromium,
and takes the counsellor's inbox with three chats, the supervisor's board and a watched chat.
"""

import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

from tests.browsers import sign_in, start_chromium, wait  # noqa: E402
from tests.servers import demo_server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
# What three visitors write first, in the services' own words; the counsellor's answer to each.
VISITORS = [
    (
        "helpwanted",
        "Iemand dreigt mijn foto's te delen als ik niet betaal",
        "Goed dat je ons schrijft. Betaal niet, we helpen je.",
    ),
    (
        "helpwanted",
        "Er staat een filmpje van mij online, wat moet ik doen?",
        "Dat is heel vervelend. We kijken samen hoe het offline kan.",
    ),
    (
        "stopitnow",
        "Ik maak me zorgen over mijn eigen gevoelens",
        "Fijn dat je de stap zet. Je bent anoniem, vertel gerust.",
    ),
]


def say(driver, text: str) -> None:
    box = wait(driver, EC.element_to_be_clickable((By.ID, "body")))
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def claim_and_answer(counsellor, answer: str) -> None:
    """Open the first waiting chat, take it and answer it."""
    wait(counsellor, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row--queued"))).click()
    wait(counsellor, EC.element_to_be_clickable((By.ID, "claim"))).click()
    wait(counsellor, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Active"))
    say(counsellor, answer)
    wait(counsellor, EC.text_to_be_present_in_element((By.ID, "messages"), answer))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        folder = Path(scratch)
        server = stack.enter_context(_server(folder))

        def browser(name: str, width: int, height: int):
            driver = start_chromium(folder / name, width, height)
            stack.callback(driver.quit)
            return driver

        visitors = []
        for number, (service, first, _) in enumerate(VISITORS):
            visitor = browser(f"visitor-{number}", 520, 800)
            visitor.get(f"{server.url}/chat/{service}")
            say(visitor, first)
            wait(visitor, EC.text_to_be_present_in_element((By.ID, "status"), "wachtrij"))
            visitors.append(visitor)

        counsellor = browser("counsellor", 1280, 800)
        sign_in(counsellor, server.url)
        for _, _, answer in VISITORS:
            claim_and_answer(counsellor, answer)
        say(visitors[0], "Hij heeft me net weer een bericht gestuurd")
        wait(counsellor, EC.presence_of_element_located((By.CSS_SELECTOR, "#list .row--unread")))
        counsellor.save_screenshot(str(OUT / "inbox.png"))

        supervisor = browser("supervisor", 1280, 800)
        sign_in(supervisor, server.url, "supervisor")
        supervisor.set_window_size(1280, 1400)
        supervisor.get(server.url + "/board")
        wait(supervisor, EC.text_to_be_present_in_element((By.TAG_NAME, "main"), "Anna"))
        supervisor.save_screenshot(str(OUT / "board.png"))

        supervisor.set_window_size(1280, 800)
        supervisor.get(server.url + "/inbox")
        wait(supervisor, EC.text_to_be_present_in_element((By.ID, "connection"), "Connected"))
        wait(supervisor, EC.element_to_be_clickable((By.CSS_SELECTOR, "#list .row__watch"))).click()
        box = wait(supervisor, EC.element_to_be_clickable((By.ID, "whisper-body")))
        box.send_keys("Vraag of er al aangifte is gedaan")
        box.send_keys(Keys.ENTER)
        wait(supervisor, EC.presence_of_element_located((By.CSS_SELECTOR, ".msg--whisper")))
        supervisor.save_screenshot(str(OUT / "monitoring.png"))
    for name in ("inbox", "board", "monitoring"):
        print(OUT / f"{name}.png")


@contextmanager
def _server(folder: Path):
    """The demo server with both chat services open around the clock."""
    servers = demo_server(
        folder,
        "screenshots",
        (
            ["service", "hours", "helpwanted", "always"],
            ["service", "hours", "stopitnow", "always"],
        ),
    )
    try:
        yield next(servers)
    finally:
        servers.close()


if __name__ == "__main__":
    main()
