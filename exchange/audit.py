"""The audit trail: who changed what, written in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from exchange.db import Conn


async def audit(
    conn: Conn,
    actor_id: int | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """Append one audit record."""
    await conn.execute(
        "INSERT INTO audit_log (actor_id, action, target, detail, request_id)"
        " VALUES ($1, $2, $3, $4::jsonb, $5)",
        actor_id,
        action,
        target,
        msgspec.json.encode(detail or {}).decode(),
        request_id,
    )


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An audit record to write later, in the transaction that makes the change."""

    actor_id: int
    action: str
    target: str
    detail: dict[str, Any]
    request_id: str | None = None

    async def write(self, conn: Conn) -> None:
        await audit(conn, self.actor_id, self.action, self.target, self.detail, self.request_id)
