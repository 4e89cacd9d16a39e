"""Suspended suppliers get no award (docs/negotiation.md, "Closing, auto-award and the rfqs
channel"): an award naming one is refused with 409 SUPPLIER_SUSPENDED and changes nothing."""

from __future__ import annotations

from exchange.db import Conn
from exchange.errors import ConflictError


async def check_suppliers_active(conn: Conn, supplier_ids: list[int]) -> None:
    """Refuse (409 SUPPLIER_SUSPENDED) if any of the suppliers is suspended; their rows are
    share-locked, so a suspension committing meanwhile waits for this transaction."""
    rows = await conn.fetch(
        "SELECT id, status FROM participants WHERE id = ANY($1::bigint[]) ORDER BY id FOR SHARE",
        sorted(set(supplier_ids)),
    )
    suspended = [row for row in rows if row["status"] != "active"]
    if suspended:
        ids = ", ".join(str(row["id"]) for row in suspended)
        raise ConflictError(f"supplier {ids} is suspended", code="SUPPLIER_SUSPENDED")
