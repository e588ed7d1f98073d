"""The password policy: long enough, and not one that attackers try first."""

import functools
import gzip
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 1024
# Django's list of 20,000 common passwords (BSD licence: common-passwords.LICENSE).
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt.gz")


class PasswordRefused(ValueError):
    """The password does not meet the policy; the message says why, for the person typing it."""


@functools.cache
def _common() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as listing:
        return frozenset(line.strip().lower() for line in listing if line.strip())


def check(password: str) -> None:
    """Raise PasswordRefused unless `password` may be used."""
    if len(password) < MIN_LENGTH:
        raise PasswordRefused(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordRefused(f"Use at most {MAX_LENGTH} characters.")
    if password.strip().lower() in _common():
        raise PasswordRefused("This password is too common: choose another.")
