"""Symmetric encryption for the few personal details kept only while needed (e-mail, phone)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    key = current_app.config.get("ENCRYPTION_KEY") or base64.urlsafe_b64encode(
        hashlib.sha256(b"encryption-key:" + current_app.config["SECRET_KEY"].encode()).digest()
    )
    return Fernet(key)


def seal(text: str) -> str:
    """Encrypt and authenticate `text`."""
    return _fernet().encrypt(text.encode()).decode()


def unseal(token: str) -> str | None:
    """The text sealed in `token`, or None if it was sealed with another key or altered."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None
