"""Codes people write down or read aloud, and the keyed hashes kept in their place."""

import base64
import hashlib
import hmac

from flask import current_app

# Crockford's base32: no I, L, O or U, so a code read aloud or written down survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value` with the server's HASH_KEY, separated per purpose."""
    key = current_app.config["HASH_KEY"]
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def derived_token(purpose: str, value: str) -> str:
    """A 256-bit token (43 URL-safe characters) that only whoever holds `value` can make again:
    its HMAC under HASH_KEY. `value` must be a secret that the server does not keep."""
    key = current_app.config["HASH_KEY"]
    digest = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def group(text: str) -> str:
    """Write a code in groups of four: 7K3M-9QPX."""
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise(text: str) -> str:
    """Read a typed code forgivingly: case, blanks and dashes do not matter; O is 0, I and L 1."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
