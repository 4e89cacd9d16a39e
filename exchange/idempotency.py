"""`Idempotency-Key` for POSTs that declare it: the first request with a key stores, in the
same transaction as its effect, a hash of its request and its answer; a retry with the same key
and request gets that answer again and has no second effect; the same key with another request
(another body, or another route) is 409 `IDEMPOTENCY_KEY_REUSED`.

Keys are per participant. The claim is a row inserted at the start of the effect's transaction:
a concurrent request with the same key waits on that row and, once the first commits, finds the
answer; if the first fails (nothing happened, nothing is remembered), the next one proceeds.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass

from exchange.db import Conn, Queryable
from exchange.errors import BadRequestError, ConflictError

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
_KEY = re.compile(r"[!-~]{1,255}")  # fullmatch: visible ASCII, no spaces
KEY_PATTERN = "^[!-~]{1,255}$"


class Idempotency(enum.Enum):
    """Whether an endpoint takes `Idempotency-Key`, and whether it must."""

    OPTIONAL = "optional"
    REQUIRED = "required"


class AnsweredBeforeError(Exception):
    """The key was used before with this request: answer what was answered then."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"answered before with status {status}")
        self.status = status
        self.body = body


@dataclass(slots=True)
class KeyClaim:
    """One request's key: checked before the handler runs, claimed in its transaction."""

    participant_id: int
    key: str
    operation: str  # method and path, e.g. "POST /v1/withdrawals"
    request_hash: bytes
    status: int  # the endpoint's success status, remembered with the body
    claimed: bool = False
    answer: tuple[int, bytes] | None = None

    async def check(self, conn: Queryable) -> None:
        """Raise the earlier answer if this key was used with this request; 409 if it was used
        with another."""
        row = await conn.fetchrow(
            "SELECT operation, request_hash, status, response FROM idempotency_keys"
            " WHERE participant_id = $1 AND key = $2",
            self.participant_id, self.key,
        )  # fmt: skip
        if row is None:
            return
        if row["operation"] != self.operation or bytes(row["request_hash"]) != self.request_hash:
            raise ConflictError(
                f"the Idempotency-Key {self.key!r} was used before with another request"
                f" ({row['operation']}); use a new key for a new request",
                code="IDEMPOTENCY_KEY_REUSED",
            )
        raise AnsweredBeforeError(row["status"], bytes(row["response"]))

    async def claim(self, conn: Conn) -> None:
        """Take the key in the effect's transaction (waiting for a concurrent holder to end)."""
        if self.claimed:
            return
        taken = await conn.fetchval(
            "INSERT INTO idempotency_keys (participant_id, key, operation, request_hash, status,"
            " response) VALUES ($1, $2, $3, $4, 0, ''::bytea) ON CONFLICT DO NOTHING RETURNING 1",
            self.participant_id, self.key, self.operation, self.request_hash,
        )  # fmt: skip
        if taken is None:
            await self.check(conn)  # the holder committed: its answer, or 409
            raise AssertionError("an idempotency key row vanished")  # pragma: no cover
        self.claimed = True

    async def remember(self, conn: Conn, body: bytes) -> None:
        """Store the answer in the claim's transaction."""
        await self.claim(conn)
        status = self.status
        await conn.execute(
            "UPDATE idempotency_keys SET status = $3, response = $4"
            " WHERE participant_id = $1 AND key = $2",
            self.participant_id, self.key, status, body,
        )  # fmt: skip
        self.answer = (status, body)


def read_key(header: str | None, rule: Idempotency) -> str | None:
    """The key from the header value; 400 when it is required and missing, or malformed."""
    if header is None or header == "":
        if rule is Idempotency.REQUIRED:
            raise BadRequestError(
                f"this request needs an {HEADER} header (a unique value per request, such as a"
                " UUID; a retry sends the same one)",
                code="IDEMPOTENCY_KEY_REQUIRED",
            )
        return None
    if not _KEY.fullmatch(header):
        raise BadRequestError(
            f"the {HEADER} must be 1 to {MAX_LENGTH} visible ASCII characters",
            code="IDEMPOTENCY_KEY_INVALID",
        )
    return header


def request_hash(canonical_body: bytes) -> bytes:
    """SHA-256 of the request's canonical body."""
    return hashlib.sha256(canonical_body).digest()
