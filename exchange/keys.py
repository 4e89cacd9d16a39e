"""API keys: random secrets shown once, kept only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "tck_"
_SECRET_BYTES = 32


def new_api_key() -> str:
    """A fresh key: a fixed prefix (so leaked keys are recognisable) and 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def hash_api_key(key: str) -> bytes:
    """The stored form of a key; a fast hash is right here because keys carry 256 random bits."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def display_prefix(key: str) -> str:
    """The part of a key that may be shown later to tell keys apart."""
    return key[: len(KEY_PREFIX) + 6]
