"""Staff accounts: counsellors, supervisors and admins."""

import functools
import secrets
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from helpline.extensions import db
from helpline.timeutil import utcnow

ROLES = ("counsellor", "therapist", "supervisor", "admin")
T = TypeVar("T")


class PasswordHasher(argon2.PasswordHasher):
    """argon2, hashing and verifying off the event loop.

    One hash is some 150 ms of CPU by design. Under gevent, every socket of the process would
    wait for it: each staff sign-in and each contact form would hold up every running chat.
    argon2 releases the GIL, so in one of the hub's native threads it holds up only the request
    that waits for it.
    """

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        return _off_the_loop(functools.partial(super().hash, password, salt=salt))

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        return _off_the_loop(functools.partial(super().verify, hash, password))


def _off_the_loop(work: Callable[[], T]) -> T:
    """Run CPU-bound work that releases the GIL in a native thread when gevent runs the
    process (its exceptions are raised here); with real threads, in this one."""
    if "gevent.monkey" in sys.modules:
        from gevent import get_hub, monkey

        if monkey.is_module_patched("threading"):
            # Returned rather than raised there: gevent would print every wrong password.
            result, error = get_hub().threadpool.apply(functools.partial(_outcome, work))
            if error is not None:
                raise error
            return result
    return work()


def _outcome(work: Callable[[], T]) -> tuple[T | None, Exception | None]:
    try:
        return work(), None
    except Exception as error:
        return None, error


hasher = PasswordHasher()


class StaffUser(db.Model):
    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint("role IN ('counsellor', 'therapist', 'supervisor', 'admin')", name="role"),
        CheckConstraint("max_chats >= 1", name="max_chats_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="counsellor")
    max_chats: Mapped[int] = mapped_column(default=3)
    active: Mapped[bool] = mapped_column(default=True)
    # Where an accepted call is put through: a number in E.164 or "client:<name>".
    phone_endpoint: Mapped[str | None] = mapped_column(String(80))
    # Switched on in the inbox while this person answers the phone line.
    takes_calls: Mapped[bool] = mapped_column(default=False)
    # A therapist's calendar feed is reached by a secret URL; only its keyed hash is kept.
    calendar_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Rotated on sign-out, deactivation, a new password and a 2FA reset, so every session and
    # socket of this user stops working at once.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The TOTP secret, encrypted (helpline.encryption); set at enrolment, cleared by a reset.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    # None until the first code confirmed the enrolment: until then, sign-in leads to enrolment.
    two_factor_enrolled_at: Mapped[datetime | None] = mapped_column()
    # The time step of the last accepted code, so no code is accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column()
    # Wrong passwords or codes in a row, and the lock they earned (doubling with each failure).
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column()

    def set_password(self, password: str) -> None:
        """Store an argon2 hash of the password."""
        self.password_hash = hasher.hash(password)

    def check_password(self, password: str) -> bool:
        """True when the password matches; rehashes when argon2 parameters changed."""
        try:
            hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if hasher.check_needs_rehash(self.password_hash):
            self.set_password(password)
        return True

    def rotate_session(self) -> None:
        """Invalidate all existing logins of this user."""
        self.session_token = secrets.token_hex(16)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"


class RecoveryCode(db.Model):
    """A one-time code that signs in instead of a TOTP code; only its keyed hash is kept."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column()
