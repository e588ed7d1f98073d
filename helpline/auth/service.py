"""Staff accounts: sign-in checks with lockout, the second factor, passwords, and ending every
session of a person."""

import contextlib
import functools
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import func, select, update

from helpline.auth import passwords, two_factor
from helpline.auth.models import StaffUser, hasher
from helpline.auth.signals import sessions_ended
from helpline.extensions import db
from helpline.timeutil import utcnow

# After this many wrong passwords or codes in a row, the account is locked for a minute,
# twice as long after each further failure, up to an hour. Success starts the count again.
LOCK_AFTER = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)


class AccountError(Exception):
    """A refused account change; the message is for the person who asked."""


@functools.cache
def _dummy_hash() -> str:
    return hasher.hash("not the password of anyone")


def staff_by_email(email: str) -> StaffUser | None:
    """The staff account with this e-mail address, in any case."""
    return db.session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email.lower()))


def check_password(email: str, password: str) -> StaffUser | None:
    """The active, unlocked account these credentials open, or None.

    Every refusal takes one argon2 verification, like a right password: an unknown or
    inactive address, or a locked account, answers no sooner than a known one.
    """
    user = staff_by_email(email)
    if user is None or not user.active:
        _verify_nothing(password)
        return None
    if is_locked(user):
        _verify_nothing(password)
        return None
    if not user.check_password(password):
        record_failure(user)
        return None
    db.session.commit()  # a rehashed password
    return user


def _verify_nothing(password: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(_dummy_hash(), password)


def is_locked(user: StaffUser, now: datetime | None = None) -> bool:
    """True while the account is locked after failed sign-ins."""
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def record_failure(user: StaffUser) -> None:
    """Count a wrong password or code, locking the account once there were too many."""
    failures = db.session.scalar(
        update(StaffUser)
        .where(StaffUser.id == user.id)
        .values(failed_logins=StaffUser.failed_logins + 1)
        .returning(StaffUser.failed_logins)
    )
    if failures >= LOCK_AFTER:
        doublings = min(failures - LOCK_AFTER, 12)
        user.locked_until = utcnow() + min(FIRST_LOCK * 2**doublings, LONGEST_LOCK)
    db.session.commit()


def record_success(user: StaffUser) -> None:
    """Start the count of failures again after a complete sign-in."""
    user.failed_logins = 0
    user.locked_until = None
    db.session.commit()


def check_second_factor(user: StaffUser, code: str) -> bool:
    """True when `code` is the user's TOTP code or one of their recovery codes, each
    accepted once; a wrong code counts as a failure, like a wrong password."""
    if is_locked(user) or user.two_factor_enrolled_at is None:
        return False
    code = code.strip().replace(" ", "")
    if two_factor.accept_totp(user, code) or two_factor.use_recovery_code(user, code):
        record_success(user)
        return True
    db.session.rollback()
    record_failure(user)
    return False


def enrolment_secret(user: StaffUser) -> str:
    """The secret being enrolled, made and kept (encrypted) on first use."""
    secret = two_factor.secret_of(user)
    if secret is None:
        secret = two_factor.new_secret()
        two_factor.store_secret(user, secret)
        db.session.commit()
    return secret


def confirm_enrolment(user: StaffUser, code: str) -> list[str] | None:
    """Finish enrolment with a first code: the ten recovery codes, to show once; None when
    the code is wrong."""
    if is_locked(user) or user.two_factor_enrolled_at is not None:
        return None
    if not two_factor.accept_totp(user, code.strip().replace(" ", "")):
        db.session.rollback()
        record_failure(user)
        return None
    user.two_factor_enrolled_at = utcnow()
    recovery = two_factor.new_recovery_codes(user)
    record_success(user)
    return recovery


def new_recovery_codes(user: StaffUser) -> list[str]:
    """Replace a signed-in user's recovery codes; the old ones stop working."""
    recovery = two_factor.new_recovery_codes(user)
    db.session.commit()
    return recovery


def change_password(user: StaffUser, current: str, new: str) -> None:
    """Change one's own password, knowing the current one; every other session ends."""
    if not user.check_password(current):
        db.session.rollback()
        raise AccountError("The current password is wrong.")
    set_password(user, new)


def set_password(user: StaffUser, new: str) -> None:
    """Give the account a new password that meets the policy, and end all its sessions."""
    try:
        passwords.check(new)
    except passwords.PasswordRefused as refused:
        raise AccountError(str(refused)) from refused
    user.set_password(new)
    end_sessions(user)


def deactivate(user: StaffUser) -> None:
    """Close the account: no more sign-ins, and every session ends."""
    user.active = False
    end_sessions(user)


def reset_two_factor(user: StaffUser) -> None:
    """Start enrolment again at the next sign-in, and end every session now."""
    two_factor.forget(user)
    end_sessions(user)


def end_sessions(user: StaffUser) -> None:
    """End every session of the person (and so every socket), commit, then tell whoever
    holds their live sockets."""
    user.rotate_session()
    db.session.commit()
    sessions_ended.send(current_app._get_current_object(), user_id=user.id)
