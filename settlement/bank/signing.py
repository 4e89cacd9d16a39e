"""Signed bank notifications: `Bank-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." +
raw body)>`, checked on the raw bytes, within a tolerance (five minutes by default)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Bank-Signature"
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """A notification's signature is missing, malformed, wrong or outside the tolerance."""


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The header value for `body`, signed at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: bytes, body: bytes, header: str | None, now: int, tolerance: int = TOLERANCE_SECONDS
) -> int:
    """Check a header against the raw body at unix time `now`; returns the signed timestamp.

    Several `v1=` values may be given (a secret being rotated); one must match."""
    if not header:
        raise SignatureError(f"the {HEADER} header is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"the {HEADER} header must read t=<unix seconds>,v1=<hex>")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"the signature's time {timestamp} is more than {tolerance} s from now ({now})"
        )
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates if c.isascii()):
        raise SignatureError("the signature does not match the body")
    return timestamp
