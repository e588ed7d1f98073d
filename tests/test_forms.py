"""The contact form: anonymous reports that land in the inbox, and an anonymous way back."""

import re
import secrets
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from helpline.extensions import db, limiter
from helpline.forms.models import FormSubmission
from helpline.inbox.models import AuditEntry, Client, Conversation, Message
from tests import factories
from tests.servers import free_port


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def helpwanted_answers(**overrides) -> dict:
    answers = {
        "submission_key": secrets.token_urlsafe(24),
        "about": "myself",
        "age_band": "16_17",
        "what_happened": "Iemand dreigt mijn foto's te delen als ik niet betaal.",
        "platform": "Instagram",
        "links": "https://example.org/profiel/123\nhttp://example.net/a?b=c",
    }
    answers.update(overrides)
    return {k: v for k, v in answers.items() if v is not None}


def send(client, slug="helpwanted", **answers):
    return client.post(f"/form/{slug}", data=answers)


def codes(page: str) -> tuple[str, str]:
    found = re.findall(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){1,2}\b", page)
    code = next(c for c in found if len(c) == 9)
    secret = next(c for c in found if len(c) == 14)
    return code, secret


def test_sent_form_lands_in_the_inbox_as_a_waiting_form_conversation(app, client, counsellor):
    anna = counsellor()

    response = send(client, **helpwanted_answers())

    assert response.status_code == 200
    code, secret = codes(response.get_data(as_text=True))
    assert code and secret
    assert [c["id"] for c in anna.received("new_conversation")] == [1]
    row = anna.emit("list", {"channel": "form"})["conversations"][0]
    assert (row["channel"], row["state"], row["service"]) == ("form", "queued", "helpwanted")
    first = anna.emit("open", {"conversation_id": 1})["messages"][0]
    assert "Iemand dreigt mijn foto's te delen" in first["body"]
    assert "https://example.org/profiel/123" in first["body"]
    assert "Instagram" in first["body"]


def test_form_pages_are_dutch_by_default_and_english_on_request(app, client):
    dutch = client.get("/form/helpwanted").get_data(as_text=True)
    english = client.get("/form/helpwanted?lang=en").get_data(as_text=True)

    assert 'lang="nl"' in dutch and 'lang="en"' in english
    assert 'name="submission_key"' in dutch
    assert 'type="file"' not in dutch
    assert client.get("/form/nope").status_code == 404


def test_every_service_asks_its_own_questions(app, client):
    report = client.get("/form/report").get_data(as_text=True)
    stop = client.get("/form/stopitnow").get_data(as_text=True)

    assert 'name="country"' in report and 'name="date"' in report
    assert 'name="question"' in stop and 'name="country"' not in stop
    sent = send(
        client,
        "report",
        submission_key=secrets.token_urlsafe(24),
        what_happened="Een man reist met kinderen naar ...",
        country="Thailand",
        date="2026-01-05",
    )
    assert sent.status_code == 200
    submission = db.session.scalar(select(FormSubmission))
    assert submission.answers["country"] == "Thailand"
    assert submission.answers["date"] == "2026-01-05"


def test_double_submit_creates_one_conversation_and_the_last_page_shown_opens_it(app, client):
    answers = helpwanted_answers()

    first = send(client, **answers)
    second = send(client, **answers)

    assert first.status_code == second.status_code == 200
    (code, first_secret), (same_code, secret) = (
        codes(page.get_data(as_text=True)) for page in (first, second)
    )
    assert code == same_code and first_secret != secret
    assert count(Conversation) == 1
    assert count(Message) == 1
    assert client.post("/form/reply", data={"code": code, "secret": secret}).status_code == 200
    refused = client.post("/form/reply", data={"code": code, "secret": first_secret})
    assert refused.status_code == 422


def test_reusing_an_old_page_with_other_answers_does_not_reveal_codes(app, client):
    answers = helpwanted_answers()
    code, secret = codes(send(client, **answers).get_data(as_text=True))

    other = send(client, **{**answers, "what_happened": "Iets anders"})

    assert other.status_code == 409
    page = other.get_data(as_text=True)
    assert code not in page and secret not in page
    assert count(Conversation) == 1


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("what_happened", "", "invullen"),
        ("what_happened", "x" * 4001, "4000"),
        ("about", "the neighbours", "kies"),
        ("links", "javascript:alert(1)", "http"),
        ("links", "data:text/html;base64,PHNjcmlwdD4=", "http"),
        ("links", "https://example.org/" + "a" * 2001, "lang"),
        ("links", "ftp://example.org/file", "http"),
        ("platform", "p" * 201, "200"),
        ("notify_email", "not-an-address", "e-mail"),
        ("unexpected", "field", "formulier"),
    ],
)
def test_invalid_answers_show_the_form_again_in_dutch_and_store_nothing(
    app, client, field, value, fragment
):
    response = send(client, **helpwanted_answers(**{field: value}))

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert fragment.lower() in page.lower()
    assert "Instagram" in page  # what was typed is still there
    assert count(Conversation) == 0 and count(Client) == 0


def test_errors_are_in_english_on_the_english_form(app, client):
    response = client.post(
        "/form/helpwanted?lang=en", data=helpwanted_answers(what_happened="", about="x")
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please fill this in." in page
    assert "Please choose one of the options." in page


def test_report_date_in_the_future_is_refused(app, client):
    response = send(
        client,
        "report",
        submission_key=secrets.token_urlsafe(24),
        what_happened="x",
        country="NL",
        date="2999-01-01",
    )

    assert response.status_code == 422
    assert count(Conversation) == 0


def test_files_are_refused_with_a_clear_reason_and_nothing_is_stored(app, client):
    from io import BytesIO

    data = helpwanted_answers()
    data["evidence"] = (BytesIO(b"\x89PNG fake image"), "photo.png")

    response = client.post("/form/helpwanted", data=data, content_type="multipart/form-data")

    assert response.status_code == 422
    assert "alleen links" in response.get_data(as_text=True)
    assert count(Conversation) == 0


def test_oversized_request_is_refused_readably(app, client):
    response = send(client, **helpwanted_answers(what_happened="x" * 300_000))

    assert response.status_code == 413
    assert count(Conversation) == 0


def test_honeypot_filled_in_by_a_bot_stores_nothing(app, client):
    response = send(client, **helpwanted_answers(leave_empty="http://spam.example"))

    assert response.status_code == 422
    assert count(Conversation) == 0


def test_too_many_forms_from_one_place_are_told_to_wait(app, client):
    app.config["FORM_RATE_LIMIT"] = "2 per minute"

    statuses = [send(client, **helpwanted_answers()).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert "wacht" in send(client, **helpwanted_answers()).get_data(as_text=True).lower()
    assert count(Conversation) == 2


def test_sender_reads_the_answer_with_code_and_secret_and_writes_back(app, client, counsellor):
    code, secret = codes(send(client, **helpwanted_answers()).get_data(as_text=True))
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Betaal niet. We helpen je de foto's te laten verwijderen.")
    anna.say(1, "interne notitie", note=True)

    page = client.post("/form/reply", data={"code": code, "secret": secret})

    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Betaal niet. We helpen je de foto" in text
    assert "interne notitie" not in text
    access = re.search(r'name="access" value="([^"]+)"', text).group(1)
    message_id = re.search(r'name="client_msg_id" value="([^"]+)"', text).group(1)
    written = {"access": access, "client_msg_id": message_id, "body": "Dank je, het is gelukt"}
    assert client.post("/form/reply/write", data=written).status_code == 200
    assert client.post("/form/reply/write", data=written).status_code == 200  # resent
    bodies = [m["body"] for m in anna.emit("open", {"conversation_id": 1})["messages"]]
    assert bodies.count("Dank je, het is gelukt") == 1


def test_codes_are_read_forgivingly(app, client):
    code, secret = codes(send(client, **helpwanted_answers()).get_data(as_text=True))

    page = client.post(
        "/form/reply", data={"code": f" {code.lower()} ", "secret": secret.replace("-", " ")}
    )

    assert page.status_code == 200


def test_wrong_code_or_secret_gets_one_message_without_a_hint(app, client):
    code, secret = codes(send(client, **helpwanted_answers()).get_data(as_text=True))

    wrong_secret = client.post("/form/reply", data={"code": code, "secret": "AAAA-AAAA-AAAA"})
    wrong_code = client.post("/form/reply", data={"code": "AAAA-AAAA", "secret": secret})
    empty = client.post("/form/reply", data={"code": "", "secret": ""})

    pages = [r.get_data(as_text=True) for r in (wrong_secret, wrong_code, empty)]
    assert {r.status_code for r in (wrong_secret, wrong_code, empty)} == {422}
    message = re.search(r"<[^>]*error[^>]*>([^<]+)<", pages[0]).group(1).strip()
    assert all(message in page for page in pages)
    assert secret not in pages[1]


def test_guessing_reply_codes_is_cut_off_by_the_rate_limit(app, client):
    app.config["REPLY_LOOKUP_RATE_LIMIT"] = "5 per hour"
    code, secret = codes(send(client, **helpwanted_answers()).get_data(as_text=True))

    guesses = [
        client.post("/form/reply", data={"code": f"AAAA-AAA{i}", "secret": "B" * 12}).status_code
        for i in range(5)
    ]
    right_but_too_late = client.post("/form/reply", data={"code": code, "secret": secret})

    assert guesses == [422] * 5
    assert right_but_too_late.status_code == 429


def test_reply_codes_carry_enough_entropy():
    from helpline.forms.service import ALPHABET, CODE_LENGTH, SECRET_LENGTH

    bits = (CODE_LENGTH + SECRET_LENGTH) * 5
    assert len(ALPHABET) == 32 and bits >= 100
    # At 10 guesses per hour per address, a million addresses need ~10^16 years on average.
    years = 2 ** (bits - 1) / (10 * 1_000_000 * 24 * 365)
    assert years > 1e15


def test_closed_conversation_shows_the_answers_but_takes_no_new_messages(app, client, counsellor):
    code, secret = codes(send(client, **helpwanted_answers()).get_data(as_text=True))
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Succes!")
    anna.emit("end", {"conversation_id": 1})
    anna.close_conversation(1, "advies")
    page = client.post("/form/reply", data={"code": code, "secret": secret}).get_data(as_text=True)
    access = re.search(r'name="access" value="([^"]+)"', page).group(1)

    late = client.post(
        "/form/reply/write",
        data={"access": access, "client_msg_id": secrets.token_urlsafe(24), "body": "Nog iets"},
    )

    assert "Succes!" in page
    assert late.status_code == 409
    assert "Nog iets" not in [m.body for m in factories.messages_of(1)]


def test_export_is_anonymised_and_recorded_on_the_conversation(app, client, counsellor):
    answers = helpwanted_answers(notify_email="jongere@example.org")
    code, secret = codes(send(client, **answers).get_data(as_text=True))
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "We sturen dit door.")
    anna.say(1, "Let op: 16 jaar, school bekend", note=True)

    response = anna.http.post("/inbox/conversations/1/export")

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "https://example.org/profiel/123" in text and "Instagram" in text
    for secret_part in (code, secret, "jongere@example.org", "16 jaar, school", "We sturen"):
        assert secret_part not in text
    events = [m.event for m in factories.messages_of(1) if m.kind == "event"]
    assert events[-1] == "exported"
    db.session.rollback()
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.conversation_id == 1))
    assert "conversation.export" in list(actions)


def test_export_needs_a_signed_in_staff_member(app, client):
    send(client, **helpwanted_answers())

    response = client.post("/inbox/conversations/1/export")

    assert response.status_code in (302, 401)
    assert all(m.event != "exported" for m in factories.messages_of(1))


def test_email_is_stored_encrypted_and_erased_when_the_conversation_closes(app, client, counsellor):
    send(client, **helpwanted_answers(notify_email="ouder@example.org"))
    db.session.rollback()
    stored = db.session.scalar(select(FormSubmission.notify_email))
    assert stored and "ouder@example.org" not in stored

    anna = counsellor()
    anna.claim(1)
    anna.emit("end", {"conversation_id": 1})
    anna.close_conversation(1)

    db.session.rollback()
    assert db.session.scalar(select(FormSubmission.notify_email)) is None


class Mailbox:
    def __init__(self):
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp(app):
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield mailbox
    controller.stop()


def wait_for_mail(mailbox: Mailbox, n: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(mailbox.messages) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def test_sender_who_left_an_address_is_told_there_is_an_answer_but_not_what(
    app, client, counsellor, smtp
):
    code, secret = codes(
        send(client, **helpwanted_answers(notify_email="jongere@example.org")).get_data(
            as_text=True
        )
    )
    anna = counsellor()
    anna.claim(1)

    anna.say(1, "Heel vervelend. Betaal niet, blokkeer de afzender.")
    anna.say(1, "notitie", note=True)
    wait_for_mail(smtp, 1)
    time.sleep(0.3)  # a second, wrong mail would arrive within this time

    assert len(smtp.messages) == 1
    recipients, mail = smtp.messages[0]
    assert recipients == ["jongere@example.org"]
    assert "/form/reply" in mail
    for never in ("Betaal niet", "notitie", code, secret):
        assert never not in mail


def test_no_address_no_mail(app, client, counsellor, smtp):
    send(client, **helpwanted_answers())
    anna = counsellor()
    anna.claim(1)
    anna.say(1, "Antwoord")
    time.sleep(0.5)

    assert smtp.messages == []


def test_privacy_no_address_or_user_agent_is_stored_from_a_form(app, client):
    from tests.test_privacy import ADDRESS, AGENT, everything_stored

    client.post(
        "/form/helpwanted",
        data=helpwanted_answers(),
        environ_base={"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": AGENT},
    )

    stored = everything_stored()
    assert "Instagram" in stored
    assert ADDRESS not in stored and "Unique-Agent-7f3a" not in stored


def csrf_app(database_url: str, **config):
    from helpline import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "csrf-test",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            **config,
        }
    )


def csrf_token_of(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_wrong_csrf_token_shows_the_form_again_with_the_answers_and_stores_nothing(
    app, database_url_for_tests
):
    guarded = csrf_app(database_url_for_tests)
    browser = guarded.test_client()
    token = csrf_token_of(browser.get("/form/helpwanted").get_data(as_text=True))

    forged = browser.post("/form/helpwanted", data={**helpwanted_answers(), "csrf_token": "x"})
    missing = browser.post("/form/helpwanted", data=helpwanted_answers())
    genuine = browser.post("/form/helpwanted", data={**helpwanted_answers(), "csrf_token": token})

    assert forged.status_code == missing.status_code == 400
    page = forged.get_data(as_text=True)
    assert "verlopen" in page  # "the form had expired", in Dutch
    assert "Iemand dreigt mijn foto" in page  # the answers are still there
    assert genuine.status_code == 200
    assert count(Conversation) == 1
    with guarded.app_context():
        db.engine.dispose()


def test_with_redis_the_form_limit_holds_across_server_processes(
    app, database_url_for_tests, redis_url
):
    limit = {
        "FORM_RATE_LIMIT": "2 per minute",
        "RATELIMIT_STORAGE_URI": redis_url,
        "WTF_CSRF_ENABLED": False,
    }
    one, two = csrf_app(database_url_for_tests, **limit), csrf_app(database_url_for_tests, **limit)
    with two.app_context():
        limiter.reset()  # counters left in Redis by an earlier test
    first, second = one.test_client(), two.test_client()

    statuses = [
        server.post("/form/helpwanted", data=helpwanted_answers()).status_code
        for server in (first, second, first)
    ]

    assert statuses == [200, 200, 429]
    assert count(Conversation) == 2


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_parallel_forms_from_one_place_cannot_slip_past_the_limit(
    app, database_url_for_tests, redis_url, storage
):
    limit = {
        "FORM_RATE_LIMIT": "5 per minute",
        "RATELIMIT_STORAGE_URI": redis_url if storage == "redis" else "memory://",
        "WTF_CSRF_ENABLED": False,
    }
    server = csrf_app(database_url_for_tests, **limit)
    with server.app_context():
        limiter.reset()  # counters left in Redis by an earlier test
    start = threading.Barrier(8)

    def send_many(statuses: list[int]) -> None:
        browser = server.test_client()
        start.wait()
        for _ in range(60 // 8 + 1):
            statuses.append(browser.post("/form/helpwanted", data=helpwanted_answers()).status_code)

    per_thread = [[] for _ in range(8)]
    threads = [threading.Thread(target=send_many, args=(s,)) for s in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = [status for s in per_thread for status in s]
    assert statuses.count(200) == 5
    assert set(statuses) == {200, 429}
    assert count(Conversation) == 5
    with server.app_context():
        db.engine.dispose()


def test_with_the_limit_store_unreachable_a_form_is_still_taken(
    app, database_url_for_tests, caplog
):
    unreachable = csrf_app(
        database_url_for_tests,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",
        WTF_CSRF_ENABLED=False,
    )
    # Alembic's logging set-up (the migrations run before the PostgreSQL tests) disables
    # loggers that existed then, the app's among them.
    unreachable.logger.disabled = False

    response = unreachable.test_client().post("/form/helpwanted", data=helpwanted_answers())

    assert response.status_code == 200
    assert count(Conversation) == 1
    assert "rate-limit storage unreachable (ConnectionError)" in caplog.text
    with unreachable.app_context():
        db.engine.dispose()
