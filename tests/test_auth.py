"""Staff sign in with e-mail and password; the inbox is closed to everyone else."""

import re
import statistics
import time

import pytest
import time_machine

from helpline.extensions import db
from tests import factories


def test_counsellor_signs_in_and_reaches_the_inbox(app, client):
    user = factories.staff_user("Anna")

    response = factories.sign_in(client, user)

    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    assert client.get("/inbox").status_code == 200


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(app, client):
    user = factories.staff_user("Anna")

    wrong_password = client.post("/login", data={"email": user.email, "password": "nope"})
    wrong_email = client.post("/login", data={"email": "x@example.org", "password": "nope"})

    assert wrong_password.status_code == wrong_email.status_code == 422
    assert "Wrong e-mail address or password." in wrong_password.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302


def test_inbox_requires_sign_in(app, client):
    response = client.get("/inbox")

    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_deactivated_account_cannot_sign_in(app, client):
    user = factories.staff_user("Anna")
    user.active = False
    db.session.commit()

    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})

    assert response.status_code == 422


def test_signing_out_ends_every_session_of_that_person(app):
    user = factories.staff_user("Anna")
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        factories.sign_in(device, user)

    laptop.post("/logout")

    assert phone.get("/inbox").status_code == 302


def test_repeated_wrong_passwords_are_slowed_down(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    user = factories.staff_user("Anna")

    codes = [
        client.post("/login", data={"email": user.email, "password": "guess"}).status_code
        for _ in range(4)
    ]

    assert codes == [422, 422, 422, 429]


def test_login_form_needs_its_csrf_token(database_url_for_tests):
    from helpline import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url_for_tests, "SECRET_KEY": "t"})
    client = app.test_client()

    response = client.post("/login", data={"email": "a@example.org", "password": "x"})

    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


def test_malformed_login_input_is_a_readable_error_not_a_crash(app, client):
    response = client.post("/login", data={"email": "not-an-address", "password": ""})

    assert response.status_code == 422
    assert "email" in response.get_data(as_text=True).lower()


def test_passwords_are_stored_as_argon2_hashes(app):
    user = factories.staff_user("Anna")

    assert user.password_hash.startswith("$argon2id$")
    assert factories.PASSWORD not in user.password_hash
    assert user.check_password(factories.PASSWORD) and not user.check_password("other")


def test_demo_seed_prints_credentials_and_can_run_twice(app, runner):
    first = runner.invoke(args=["seed", "--demo"])
    second = runner.invoke(args=["seed", "--demo"])

    assert first.exit_code == second.exit_code == 0
    assert "counsellor@example.org / demo-counsellor" in first.output
    assert "supervisor@example.org / demo-supervisor" in second.output


def refused_sign_in(client, email: str, password: str) -> str:
    answer = client.post("/login", data={"email": email, "password": password})
    assert answer.status_code == 422
    return answer.get_data(as_text=True)


def later(seconds: float):
    return time_machine.travel(time.time() + seconds, tick=True)


def test_five_wrong_passwords_lock_the_account_for_a_minute_saying_no_more_than_for_strangers(
    app, client
):
    app.config["LOGIN_RATE_LIMIT"] = "100 per minute"
    user = factories.staff_user("Anna")
    for _ in range(5):
        refused_sign_in(client, user.email, "a wrong guess")

    locked = refused_sign_in(client, user.email, factories.PASSWORD)
    stranger = refused_sign_in(client, "nobody@example.org", factories.PASSWORD)
    with later(61):
        unlocked = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})

    assert _error_of(locked) == _error_of(stranger)
    assert unlocked.status_code == 302


def _error_of(page: str) -> str:
    return re.search(r'<div class="form-errors" role="alert">(.*?)</div>', page, re.S)[1]


def test_each_further_failure_doubles_the_lock_and_a_sign_in_resets_it(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "100 per minute"
    user = factories.staff_user("Anna")
    for _ in range(5):
        refused_sign_in(client, user.email, "a wrong guess")

    with later(61):
        refused_sign_in(client, user.email, "one more wrong guess")
    with later(61 + 61):
        refused_sign_in(client, user.email, factories.PASSWORD)
    with later(61 + 125):
        signed_in = factories.sign_in(client, user)
        client.post("/logout")
        refused_sign_in(client, user.email, "a new wrong guess")
        again = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})

    assert signed_in.status_code == 302
    assert again.status_code == 302


def test_unknown_and_known_addresses_take_the_same_time(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "100 per minute"
    users = [factories.staff_user(name) for name in ("Anna", "Bert", "Cleo")]
    inactive = factories.staff_user("Dirk")
    inactive.active = False
    db.session.commit()

    def seconds(email: str) -> float:
        started = time.perf_counter()
        refused_sign_in(client, email, "a wrong guess")
        return time.perf_counter() - started

    seconds("warm-up@example.org")
    known = statistics.median(seconds(user.email) for user in users)
    unknown = statistics.median(seconds(f"nobody{i}@example.org") for i in range(3))
    gone = seconds(inactive.email)

    assert known / 2.5 < unknown < known * 2.5, (known, unknown)
    assert known / 2.5 < gone < known * 2.5, (known, gone)


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\r\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/inbox",
        "javascript:alert(1)",
        " //evil.example",
    ],
)
def test_sign_in_goes_only_to_a_path_on_this_site(app, client, target):
    user = factories.staff_user("Anna")

    client.post(
        "/login", data={"email": user.email, "password": factories.PASSWORD, "next": target}
    )
    answer = client.post("/login/code", data={"code": factories.totp_code(user.email)})

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/inbox"


def test_sign_in_goes_on_to_the_page_asked_for(app, client):
    user = factories.staff_user("Anna")

    client.post(
        "/login",
        data={"email": user.email, "password": factories.PASSWORD, "next": "/reports?year=2025"},
    )
    answer = client.post("/login/code", data={"code": factories.totp_code(user.email)})

    assert answer.headers["Location"] == "/reports?year=2025"
