"""The center's Ed25519 signing key: from the environment, or created once in the data folder."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exchange.db import Queryable

KEY_FILE = "contract-signing-key.pem"


class SigningKeyError(Exception):
    """The configured signing key cannot be read."""


@dataclass(frozen=True, slots=True)
class Signer:
    private_key: Ed25519PrivateKey
    key_id: int = 0  # the key's row in signing_keys, once registered

    @property
    def public_raw(self) -> bytes:
        return public_raw(self.private_key.public_key())

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(raw: bytes) -> str:
    key = Ed25519PublicKey.from_public_bytes(raw)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is the holder of `public_key`'s Ed25519 signature of `data`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _from_text(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("the contract signing key is not an Ed25519 key")
        return key
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise SigningKeyError("a base64 contract signing key must hold 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_signing_key(configured: str | None, data_dir: Path) -> Ed25519PrivateKey:
    """The configured key (PEM or base64 of the 32-byte seed), or the data folder's own."""
    if configured:
        try:
            return _from_text(configured)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"EXCHANGE_CONTRACT_SIGNING_KEY is not usable: {exc}") from None
    path = data_dir / KEY_FILE
    if path.exists():
        return _from_text(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    return key


async def register(conn: Queryable, key: Ed25519PrivateKey) -> Signer:
    """Record the key's public half (once) and return a signer that names its row."""
    raw = public_raw(key.public_key())
    key_id = await conn.fetchval(
        "INSERT INTO signing_keys (public_key) VALUES ($1)"
        " ON CONFLICT (public_key) DO UPDATE SET public_key = EXCLUDED.public_key RETURNING id",
        raw,
    )
    return Signer(key, int(key_id))
