"""Every staff account signs in with a TOTP code after its password, set up on first sign-in."""

import re
import time
from pathlib import Path

import pyotp
from flask import current_app
from sqlalchemy import select

from helpline.auth.models import RecoveryCode, StaffUser
from helpline.auth.signals import sessions_ended
from helpline.commands import DEMO_STAFF
from helpline.extensions import db, socketio
from tests import factories

README = Path(__file__).resolve().parent.parent / "README.md"


def password_step(client, user):
    return client.post("/login", data={"email": user.email, "password": factories.PASSWORD})


def enrol(client, user) -> list[str]:
    """Go through enrolment with the secret the page shows; the recovery codes it gives."""
    password_step(client, user)
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = re.search(r'<code id="secret">([^<]+)</code>', page)[1].replace(" ", "")
    answer = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return re.findall(r"<li><code>([^<]+)</code></li>", answer.get_data(as_text=True))


def fresh(user: StaffUser) -> StaffUser:
    """The user as the database holds it now."""
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(StaffUser, user.id)


def test_password_alone_does_not_open_the_inbox(app, client):
    user = factories.staff_user("Anna")

    answer = password_step(client, user)

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/code")
    assert client.get("/inbox").status_code == 302
    assert "Sign-in code" in client.get("/login/code").get_data(as_text=True)


def test_code_from_the_authenticator_app_completes_sign_in(app, client):
    user = factories.staff_user("Anna")
    password_step(client, user)

    answer = client.post("/login/code", data={"code": pyotp.TOTP(factories.TOTP_SECRET).now()})

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/inbox")
    assert client.get("/inbox").status_code == 200


def test_wrong_code_is_refused(app, client):
    user = factories.staff_user("Anna")
    password_step(client, user)
    right = pyotp.TOTP(factories.TOTP_SECRET).now()

    answer = client.post("/login/code", data={"code": "000000" if right != "000000" else "111111"})

    assert answer.status_code == 422
    assert "Wrong or already used code." in answer.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302


def test_code_is_not_accepted_twice(app):
    user = factories.staff_user("Anna")
    laptop, stolen = app.test_client(), app.test_client()
    code = pyotp.TOTP(factories.TOTP_SECRET).now()
    password_step(laptop, user)
    password_step(stolen, user)

    first = laptop.post("/login/code", data={"code": code})
    replayed = stolen.post("/login/code", data={"code": code})

    assert first.status_code == 302
    assert replayed.status_code == 422
    assert stolen.get("/inbox").status_code == 302


def test_code_step_without_a_password_first_goes_back_to_sign_in(app, client):
    answer = client.post("/login/code", data={"code": "123456"})

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")


def test_account_without_two_factor_is_sent_to_enrolment_and_nowhere_else(app, client):
    user = factories.staff_user("Anna", enrolled=False)

    answer = password_step(client, user)
    page = client.get("/login/enrol")
    html = page.get_data(as_text=True)

    assert answer.headers["Location"].endswith("/login/enrol")
    assert page.status_code == 200
    assert re.search(r'<figure class="qr-code"[^>]*><svg[^>]*>.*</svg></figure>', html, re.S)
    assert re.search(r'<code id="secret">[A-Z2-7 ]{32,}</code>', html)
    # Inline SVG only: no script, no style attribute or element, nothing from another host.
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert (
        "style" not in svg
        and "<script" not in svg
        and "http" not in svg.replace("http://www.w3.org", "")
    )
    assert client.get("/inbox").status_code == 302
    assert client.get("/account").status_code == 302
    assert client.get("/login/code").headers["Location"].endswith("/login/enrol")


def test_enrolment_needs_a_right_first_code(app, client):
    user = factories.staff_user("Anna", enrolled=False)
    password_step(client, user)
    client.get("/login/enrol")

    answer = client.post("/login/enrol", data={"code": "12345"})

    assert answer.status_code == 422
    assert fresh(user).two_factor_enrolled_at is None
    assert client.get("/inbox").status_code == 302


def test_enrolment_gives_ten_recovery_codes_once_kept_only_as_hashes(app, client):
    user = factories.staff_user("Anna", enrolled=False)

    recovery = enrol(client, user)

    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert client.get("/inbox").status_code == 200
    stored = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id))
    hashes = [row.code_hash for row in stored]
    assert len(hashes) == 10
    for code in recovery:
        assert all(code.replace("-", "") not in h and code not in h for h in hashes)
    assert fresh(user).two_factor_enrolled_at is not None


def test_totp_secret_is_stored_encrypted(app, client):
    user = factories.staff_user("Anna", enrolled=False)

    password_step(client, user)
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = re.search(r'<code id="secret">([^<]+)</code>', page)[1].replace(" ", "")

    assert secret not in (fresh(user).totp_secret or "")
    assert fresh(user).totp_secret


def test_recovery_code_signs_in_once(app):
    user = factories.staff_user("Anna", enrolled=False)
    recovery = enrol(app.test_client(), user)
    first, second = app.test_client(), app.test_client()
    password_step(first, user)
    password_step(second, user)

    used = first.post("/login/code", data={"code": recovery[0].lower()})
    reused = second.post("/login/code", data={"code": recovery[0]})

    assert used.status_code == 302 and first.get("/inbox").status_code == 200
    assert reused.status_code == 422 and second.get("/inbox").status_code == 302


def test_new_recovery_codes_replace_the_old_ones(app, counsellor):
    anna = counsellor()
    user = db.session.get(StaffUser, anna.user_id)
    first = anna.http.post("/account/recovery-codes")
    old = re.findall(r"<li><code>([^<]+)</code></li>", first.get_data(as_text=True))
    newer = anna.http.post("/account/recovery-codes").get_data(as_text=True)
    fresh_codes = re.findall(r"<li><code>([^<]+)</code></li>", newer)
    device = app.test_client()
    password_step(device, user)

    refused = device.post("/login/code", data={"code": old[0]})
    accepted = device.post("/login/code", data={"code": fresh_codes[0]})

    assert first.status_code == 200 and len(old) == len(fresh_codes) == 10
    assert refused.status_code == 422 and accepted.status_code == 302


def test_wrong_codes_lock_the_account_like_wrong_passwords(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "100 per minute"
    user = factories.staff_user("Anna")
    password_step(client, user)
    right = pyotp.TOTP(factories.TOTP_SECRET)
    wrong = "000000" if "000000" not in (right.now(), right.at(time.time() + 30)) else "999999"

    for _ in range(5):
        client.post("/login/code", data={"code": wrong})
    answer = client.post("/login/code", data={"code": factories.totp_code(user.email)})

    assert answer.status_code == 422
    assert client.get("/inbox").status_code == 302


def test_reset_2fa_starts_enrolment_again_and_ends_every_session(app, runner, counsellor):
    anna = counsellor()
    ended = []

    with sessions_ended.connected_to(lambda sender, user_id: ended.append(user_id)):
        result = runner.invoke(args=["staff", "reset-2fa", anna.user.email])
    device = app.test_client()
    answer = password_step(device, anna.user)

    assert result.exit_code == 0, result.output
    assert ended == [anna.user_id]
    assert anna.http.get("/inbox").status_code == 302
    assert not anna.sio.is_connected("/inbox")
    assert answer.headers["Location"].endswith("/login/enrol")
    assert db.session.scalars(select(RecoveryCode)).all() == []


def test_demo_accounts_sign_in_with_the_totp_secrets_readme_lists(app, runner):
    runner.invoke(args=["seed", "--demo"])
    readme = README.read_text()

    for email, _name, _role, password, secret in DEMO_STAFF:
        client = app.test_client()
        client.post("/login", data={"email": email, "password": password})
        answer = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
        assert answer.status_code == 302, email
        assert secret in readme and password in readme


def test_demo_seed_refuses_to_run_in_production(app, runner):
    current_app.config["HELPLINE_ENV"] = "production"  # the app the commands run in

    result = runner.invoke(args=["seed", "--demo"])

    assert result.exit_code != 0
    assert "not created in production" in result.output
    assert db.session.scalars(select(StaffUser)).all() == []


def test_password_alone_opens_no_inbox_socket(app, client):
    user = factories.staff_user("Anna")
    password_step(client, user)

    sio = socketio.test_client(app, namespace="/inbox", flask_test_client=client)

    assert not sio.is_connected("/inbox")
