"""Staff passwords: long, not common; changed by the person or an admin; accounts closed."""

import pytest
from sqlalchemy import select

from helpline.auth.models import StaffUser
from helpline.auth.signals import sessions_ended
from helpline.commands import DEMO_STAFF
from helpline.extensions import db
from tests import factories

NEW_PASSWORD = "a long and rather unusual sentence"


def fresh(user: StaffUser) -> StaffUser:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(StaffUser, user.id)


@pytest.fixture
def ended():
    """The user ids `sessions_ended` is sent for during the test."""
    sent: list[int] = []

    def record(sender, user_id):
        sent.append(user_id)

    with sessions_ended.connected_to(record):
        yield sent


def create(runner, password: str):
    return runner.invoke(
        args=["staff", "create", "--email", "new@example.org", "--name", "New"],
        input=f"{password}\n{password}\n",
    )


def test_staff_create_refuses_a_password_shorter_than_twelve_characters(app, runner):
    result = create(runner, "short-pass1")

    assert result.exit_code != 0
    assert "at least 12 characters" in result.output
    assert db.session.scalars(select(StaffUser)).all() == []


@pytest.mark.parametrize("password", ["1q2w3e4r5t6y", "QwertyQWERTY"])
def test_staff_create_refuses_a_common_password_in_any_case(app, runner, password):
    result = create(runner, password)

    assert result.exit_code != 0
    assert "too common" in result.output
    assert db.session.scalars(select(StaffUser)).all() == []


def test_staff_create_accepts_a_long_uncommon_password(app, runner):
    result = create(runner, NEW_PASSWORD)

    assert result.exit_code == 0, result.output
    assert fresh_by_email("new@example.org").check_password(NEW_PASSWORD)


def fresh_by_email(email: str) -> StaffUser:
    db.session.rollback()
    db.session.expire_all()
    return db.session.scalar(select(StaffUser).where(StaffUser.email == email))


def test_demo_passwords_meet_the_policy(app, runner):
    from helpline.auth import passwords

    for _email, _name, _role, password, _secret in DEMO_STAFF:
        passwords.check(password)


def test_staff_changes_their_password_and_is_signed_out_everywhere_else(app, counsellor, ended):
    anna = counsellor()
    phone = factories.Staff(app, anna.user)

    answer = anna.http.post(
        "/account",
        data={"current": factories.PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD},
    )

    assert answer.status_code == 302
    assert "Your password is changed." in anna.http.get("/account").get_data(as_text=True)
    assert anna.http.get("/inbox").status_code == 200
    assert phone.http.get("/inbox").status_code == 302
    assert not phone.sio.is_connected("/inbox")
    assert fresh(anna.user).check_password(NEW_PASSWORD)
    assert ended == [anna.user_id]
    phone.close()


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"current": "wrong password!", "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}, "current"),
        ({"current": factories.PASSWORD, "new": NEW_PASSWORD, "repeat": "other"}, "differ"),
        ({"current": factories.PASSWORD, "new": "short", "repeat": "short"}, "12 characters"),
        (
            {"current": factories.PASSWORD, "new": "Password1234", "repeat": "Password1234"},
            "too common",
        ),
        ({"current": factories.PASSWORD}, "required"),
    ],
)
def test_password_change_is_refused_with_a_reason(app, counsellor, ended, form, problem):
    anna = counsellor()

    answer = anna.http.post("/account", data=form)

    assert answer.status_code == 422
    assert problem in answer.get_data(as_text=True).lower()
    assert fresh(anna.user).check_password(factories.PASSWORD)
    assert ended == []


def test_account_page_is_for_signed_in_staff_and_linked_from_the_inbox(app, client, counsellor):
    anna = counsellor()

    assert client.get("/account").status_code == 302
    assert 'href="/account"' in anna.http.get("/inbox").get_data(as_text=True)
    assert anna.http.get("/account").status_code == 200


def test_staff_password_command_sets_a_new_password_and_ends_every_session(
    app, runner, counsellor, ended
):
    anna = counsellor()

    result = runner.invoke(
        args=["staff", "password", anna.user.email], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert fresh(anna.user).check_password(NEW_PASSWORD)
    assert anna.http.get("/inbox").status_code == 302
    assert ended == [anna.user_id]


def test_staff_password_command_applies_the_policy(app, runner, counsellor, ended):
    anna = counsellor()

    result = runner.invoke(args=["staff", "password", anna.user.email], input="abc123\nabc123\n")

    assert result.exit_code != 0 and "12 characters" in result.output
    assert fresh(anna.user).check_password(factories.PASSWORD)
    assert ended == []


def test_staff_deactivate_command_ends_every_session_and_sign_in(app, runner, counsellor, ended):
    anna = counsellor()

    result = runner.invoke(args=["staff", "deactivate", anna.user.email])
    again = factories.sign_in(app.test_client(), anna.user)

    assert result.exit_code == 0, result.output
    assert anna.http.get("/inbox").status_code == 302
    assert not anna.sio.is_connected("/inbox")
    assert again.status_code == 422
    assert ended == [anna.user_id]


def test_unknown_address_is_a_usage_error(app, runner):
    result = runner.invoke(args=["staff", "deactivate", "nobody@example.org"])

    assert result.exit_code == 2 and "no staff account" in result.output
