"""A counsellor blocks a visitor for a while, by browser (or number) and by (hashed) address;
supervisors see the blocks and lift them; nothing identifying is kept."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from sqlalchemy import func, select, update

from helpline.abuse.models import VisitorBlock
from helpline.codes import keyed_hash
from helpline.extensions import db
from helpline.inbox.models import AuditEntry, Conversation, Service
from tests import factories
from tests.addresses import (
    HOME,
    SCHOOL,
    connect_through_proxy,
    error_code,
    start_chat,
    waiting_chats,
)
from tests.browsers import start_chromium, wait
from tests.test_privacy import everything_stored

# --- blocking a visitor ---------------------------------------------------------------------


def block(staff, conversation_id: int, hours: int = 24, reason: str = "Threatens staff") -> dict:
    return staff.emit(
        "block_visitor", {"conversation_id": conversation_id, "hours": hours, "reason": reason}
    )


def test_blocked_visitor_can_neither_send_nor_start_a_new_chat_and_is_not_told_who(
    app, visitor_at, counsellor
):
    person = visitor_at()
    person.say("hallo")
    anna = counsellor("Anna")
    conversation_id = person.conversation().id
    anna.claim(conversation_id)

    blocked = block(anna, conversation_id)
    sent = person.say("nog een bericht")
    person.reconnect()
    again = person.start_new_chat()

    assert blocked["ok"]
    assert error_code(sent) == error_code(again) == "blocked"
    for refusal in (sent, again):
        assert "Anna" not in refusal["error"]["message"]
        assert "form" in refusal["error"]["message"]
    assert waiting_chats() == 0
    assert db.session.scalar(select(func.count()).select_from(Conversation)) == 1
    assert [m.body for m in factories.messages_of(conversation_id)][:1] == ["hallo"]
    assert "nog een bericht" not in everything_stored()


def test_a_block_closes_the_visitors_other_waiting_chats_so_they_cannot_write_there(
    app, visitor_at, counsellor
):
    flooder = visitor_at()
    flooder.start_new_chat("een")
    first_id = flooder.conversation().id
    flooder.start_new_chat("twee")
    other_token = flooder.token
    anna = counsellor()
    anna.claim(first_id)

    block(anna, first_id)
    flooder.token = other_token
    sent = flooder.say("nog eentje")

    assert error_code(sent) == "blocked"
    assert waiting_chats() == 0


def test_a_block_includes_the_address_so_a_new_browser_there_is_kept_out(
    app, visitor_at, counsellor
):
    person = visitor_at(SCHOOL)
    person.say("hallo")
    anna = counsellor()
    conversation_id = person.conversation().id
    anna.claim(conversation_id)

    block(anna, conversation_id, hours=1)
    same_place = visitor_at(SCHOOL).start_new_chat()
    elsewhere = visitor_at(HOME).start_new_chat()

    assert error_code(same_place) == "blocked"
    assert elsewhere["ok"]


def test_a_block_ends_the_conversation_for_wrap_up(app, visitor_at, counsellor):
    person = visitor_at()
    person.say("hallo")
    anna = counsellor()
    conversation_id = person.conversation().id
    anna.claim(conversation_id)

    block(anna, conversation_id)

    db.session.rollback()
    assert person.conversation().state == "wrap_up"


def test_block_lifts_itself_at_its_time(app, visitor_at, counsellor):
    person = visitor_at(SCHOOL)
    person.say("hallo")
    anna = counsellor()
    conversation_id = person.conversation().id
    anna.claim(conversation_id)
    block(anna, conversation_id, hours=1)

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=50)):
        still = visitor_at(HOME, person.browser).start_new_chat()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61)):
        later = visitor_at(HOME, person.browser).start_new_chat()

    assert error_code(still) == "blocked"
    assert later["ok"]


def test_only_the_conversations_counsellor_or_a_supervisor_may_block(app, visitor_at, counsellor):
    person = visitor_at()
    person.say("hallo")
    conversation_id = person.conversation().id
    anna, bert = counsellor("Anna"), counsellor("Bert")
    therapist, supervisor = counsellor("Tess", role="therapist"), counsellor("Sam", "supervisor")
    anna.claim(conversation_id)

    refused = [block(staff, conversation_id) for staff in (bert, therapist)]
    allowed = block(supervisor, conversation_id)

    assert [error_code(a) for a in refused] == ["forbidden", "forbidden"]
    assert allowed["ok"]


def test_a_block_needs_a_reason_and_one_of_the_offered_durations(app, visitor_at, counsellor):
    person = visitor_at()
    person.say("hallo")
    conversation_id = person.conversation().id
    anna = counsellor()
    anna.claim(conversation_id)

    no_reason = block(anna, conversation_id, reason="")
    blanks = block(anna, conversation_id, reason="   a   ")
    odd_time = block(anna, conversation_id, hours=5)
    forever = block(anna, conversation_id, hours=10**9)

    refusals = (no_reason, blanks, odd_time, forever)
    assert [error_code(a) for a in refusals] == ["invalid"] * 4
    assert db.session.scalar(select(func.count()).select_from(VisitorBlock)) == 0


def test_privacy_a_block_is_audited_by_its_id_and_keeps_no_address_or_browser_token(
    app, visitor_at, counsellor, caplog
):
    caplog.set_level(logging.DEBUG)
    person = visitor_at(SCHOOL)
    person.say("hallo")
    conversation_id = person.conversation().id
    anna = counsellor()
    anna.claim(conversation_id)

    block(anna, conversation_id, reason="Sends threats")

    db.session.rollback()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "visitor.block"))
    assert (entry.actor_id, entry.conversation_id) == (anna.user_id, conversation_id)
    blocked = db.session.scalar(select(VisitorBlock))
    assert entry.detail == {"block_id": blocked.id, "hours": 24}  # the block, not its reason
    stored = everything_stored()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secrets_of_visitor = (SCHOOL, keyed_hash("address", SCHOOL), person.browser)
    for secret in secrets_of_visitor:
        assert secret not in stored
        assert secret not in logged


def test_supervisor_sees_running_blocks_and_lifts_one(app, visitor_at, counsellor):
    person = visitor_at(SCHOOL)
    person.say("hallo")
    conversation_id = person.conversation().id
    anna = counsellor("Anna")
    anna.claim(conversation_id)
    block(anna, conversation_id, hours=168, reason="Keeps sending insults")
    sam = counsellor("Sam", "supervisor")

    page = sam.http.get("/inbox/blocks").get_data(as_text=True)
    not_for_anna = anna.http.get("/inbox/blocks")
    block_id = db.session.scalar(select(VisitorBlock.id))
    lifted = sam.http.post(f"/inbox/blocks/{block_id}/lift", follow_redirects=True)
    back = visitor_at(SCHOOL, person.browser).start_new_chat()

    assert "Keeps sending insults" in page and "Anna" in page and f"#{conversation_id}" in page
    assert not_for_anna.status_code == 403
    assert lifted.status_code == 200 and "No visitor is blocked now" in lifted.get_data(True)
    assert back["ok"]
    db.session.rollback()
    actions = [a for _, a in factories.audit_actions(conversation_id)]
    assert "visitor.lift_block" in actions


def test_a_counsellor_cannot_lift_a_block(app, visitor_at, counsellor):
    person = visitor_at()
    person.say("hallo")
    conversation_id = person.conversation().id
    anna = counsellor()
    anna.claim(conversation_id)
    block(anna, conversation_id)
    block_id = db.session.scalar(select(VisitorBlock.id))

    refused = anna.http.post(f"/inbox/blocks/{block_id}/lift")

    assert refused.status_code == 403
    assert error_code(visitor_at(HOME, person.browser).start_new_chat()) == "blocked"


def conversations() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Conversation))


def test_a_blocked_caller_hears_a_neutral_goodbye_and_nothing_is_stored(app, counsellor):
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number="+31800000001")
    )
    db.session.commit()
    caller = factories.Caller(app, number="+31612340001")
    caller.call()
    conversation_id = db.session.scalar(select(Conversation.id))
    supervisor = counsellor("Sam", "supervisor")

    blocked = block(supervisor, conversation_id, hours=24, reason="Abusive calls")
    again = factories.Caller(app, number="+31612340001").call().get_data(as_text=True)
    other = factories.Caller(app, number="+31612340002").call().get_data(as_text=True)

    assert blocked["ok"], blocked
    assert "contactformulier" in again and "<Hangup" in again and "Sam" not in again
    assert "contactformulier" not in other
    assert conversations() == 2


def test_a_caller_with_a_withheld_number_cannot_be_blocked(app, counsellor):
    db.session.execute(
        update(Service).where(Service.slug == "stopitnow").values(phone_number="+31800000001")
    )
    db.session.commit()
    factories.Caller(app, number="anonymous").call()
    conversation_id = db.session.scalar(select(Conversation.id))

    refused = block(counsellor("Sam", "supervisor"), conversation_id)

    assert error_code(refused) == "invalid_state"


def test_a_form_sender_cannot_be_blocked_as_they_cannot_be_recognised(app, client, counsellor):
    from tests.test_forms import helpwanted_answers

    client.post("/form/helpwanted", data=helpwanted_answers())
    conversation_id = db.session.scalar(select(Conversation.id))
    anna = counsellor()
    anna.claim(conversation_id)

    refused = block(anna, conversation_id)

    assert error_code(refused) == "invalid_state"


# --- in the inbox ---------------------------------------------------------------------------


@pytest.mark.slow
def test_counsellor_blocks_a_visitor_from_the_inbox_with_a_reason_and_a_duration(
    proxied_server, tmp_path
):
    from tests.test_browser import sign_in

    person = connect_through_proxy(proxied_server.url, "192.0.2.30")
    try:
        assert start_chat(person, "stopitnow")["ok"]
        browser = start_chromium(tmp_path / "profile", 1400, 900)
        try:
            sign_in(browser, proxied_server.url)
            rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#list .row--queued"))
            rows[-1].click()  # the newest waiting chat
            wait(browser, EC.element_to_be_clickable((By.ID, "claim"))).click()
            wait(browser, EC.element_to_be_clickable((By.ID, "block"))).click()
            dialog = wait(browser, EC.visibility_of_element_located((By.ID, "block-dialog")))
            dialog.find_element(By.ID, "block-confirm").click()
            error = wait(browser, EC.visibility_of_element_located((By.ID, "block-error")))
            assert "reason" in error.text
            dialog.find_element(By.CSS_SELECTOR, "input[name=hours][value='1']").click()
            dialog.find_element(By.ID, "block-reason").send_keys("Dreigt de hulpverlener")
            dialog.find_element(By.ID, "block-confirm").click()
            wait(browser, EC.text_to_be_present_in_element((By.ID, "notices"), "blocked until"))
            wait(browser, EC.text_to_be_present_in_element((By.ID, "conv-meta"), "Wrap-up"))
        finally:
            browser.quit()
        again = start_chat(person, "stopitnow")
    finally:
        person.disconnect()

    assert error_code(again) == "blocked"
