"""Claims: the buyer opens one within the claim window (the contract becomes `disputed`), the
supplier may answer it, an operator resolves it and the escrow moves exactly as resolved
(docs/delivery.md, "Acceptance, claims, shortage").

Each step runs in the caller's transaction, the contract row locked before the claim row, and
the money moves only through `exchange.payments.settle`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from exchange.audit import audit
from exchange.contracts import lifecycle
from exchange.db import Conn, Queryable
from exchange.delivery.acceptance import delivered_for_buyer, lock_delivered, release_accepted
from exchange.delivery.errors import (
    ClaimAnsweredError,
    ClaimExistsError,
    ClaimResolvedError,
    ClaimWindowClosedError,
    UnknownClaimError,
)
from exchange.errors import invalid_field
from exchange.messages.contracts import Contract, ContractStatus
from exchange.messages.outcomes import Claim, ClaimKind, ClaimStatus, OpenClaim, Resolution
from exchange.payments import settle
from exchange.payments.errors import ContractStateError
from exchange.payments.escrow import lock as lock_escrow
from exchange.payments.notices import Notices
from exchange.units import currency_exponent, format_scaled

S = ContractStatus
CLAIM_COLUMNS = """cl.id, cl.commodity_id, cl.contract_id, cl.kind, cl.amount_minor,
    cl.description, cl.evidence, cl.status, cl.answer, cl.answered_at, cl.resolution,
    cl.refund_minor, cl.reason, cl.resolved_by, cl.opened_at, cl.resolved_at, c.currency,
    c.buyer_id, c.seller_id"""
_FROM = "claims cl JOIN contracts c ON c.commodity_id = cl.commodity_id AND c.id = cl.contract_id"


def claim_from_row(row: Mapping[str, Any] | asyncpg.Record) -> Claim:
    scale = currency_exponent(row["currency"])
    refunded = row["refund_minor"]
    return Claim(
        id=row["id"], contract_id=row["contract_id"], kind=ClaimKind(row["kind"]),
        amount=format_scaled(row["amount_minor"], scale), currency=row["currency"],
        description=row["description"], evidence=list(row["evidence"]),
        status=ClaimStatus(row["status"]), answer=row["answer"],
        answered_at=row["answered_at"],
        resolution=Resolution(row["resolution"]) if row["resolution"] else None,
        refunded=format_scaled(refunded, scale) if refunded is not None else None,
        reason=row["reason"], resolved_by=row["resolved_by"], opened_at=row["opened_at"],
        resolved_at=row["resolved_at"],
    )  # fmt: skip


async def fetch_claim(conn: Queryable, claim_id: int) -> asyncpg.Record | None:
    if not 0 < claim_id < 1 << 62:
        return None
    return await conn.fetchrow(f"SELECT {CLAIM_COLUMNS} FROM {_FROM} WHERE cl.id = $1", claim_id)


def visible_to(row: asyncpg.Record | None, participant_id: int, operator: bool) -> bool:
    return row is not None and (operator or participant_id in (row["buyer_id"], row["seller_id"]))


def _unknown(claim_id: int) -> UnknownClaimError:
    return UnknownClaimError(f"claim {claim_id} does not exist")


async def open_claim(
    conn: Conn,
    contract_id: int,
    buyer_id: int,
    body: OpenClaim,
    amount_minor: int,
    now: datetime,
    request_id: str | None = None,
) -> tuple[Claim, Contract]:
    """The buyer claims against a delivered contract within its claim window: `disputed`."""
    found = await delivered_for_buyer(conn, contract_id, buyer_id)
    row = found.row
    if found.status is not S.DELIVERED:
        if await conn.fetchval(
            "SELECT 1 FROM claims WHERE commodity_id = $1 AND contract_id = $2",
            row["commodity_id"], contract_id,
        ):  # fmt: skip
            raise ClaimExistsError(f"contract {contract_id} has a claim already")
        raise ContractStateError(
            f"contract {contract_id} is {found.status}; a claim needs delivered"
        )
    window = row["claim_window_until"]
    if window is None or now > window:
        raise ClaimWindowClosedError(
            f"the claim window of contract {contract_id} closed at"
            f" {window.isoformat() if window else 'delivery'}"
        )
    if not 0 < amount_minor <= row["amount_minor"]:
        raise invalid_field("INVALID_AMOUNT", "amount", "a claim is for more than 0 and at most"
                            " the contract's amount")  # fmt: skip
    claim_id = await conn.fetchval(
        "INSERT INTO claims (commodity_id, contract_id, kind, amount_minor, description,"
        " evidence, status, opened_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) RETURNING id",
        row["commodity_id"], contract_id, str(body.kind), amount_minor, body.description,
        body.evidence, now,
    )  # fmt: skip
    await audit(conn, buyer_id, "claim.opened", f"claim:{claim_id}",
                {"contract_id": contract_id, "kind": str(body.kind)}, request_id)  # fmt: skip
    why = f"claim {claim_id} ({body.kind}) opened by the buyer"
    contract = await lifecycle.transition(conn, contract_id, S.DISPUTED, buyer_id, why, now)
    claim = await fetch_claim(conn, claim_id)
    assert claim is not None
    return claim_from_row(claim), contract


async def _locked(conn: Conn, claim_id: int) -> asyncpg.Record:
    """The claim's contract, then the claim, locked (the contract first, as every flow)."""
    row = await fetch_claim(conn, claim_id)
    if row is None:
        raise _unknown(claim_id)
    await lock_delivered(conn, row["contract_id"])
    locked = await conn.fetchrow(
        f"SELECT {CLAIM_COLUMNS} FROM {_FROM} WHERE cl.id = $1 FOR UPDATE OF cl", claim_id
    )
    assert locked is not None
    return locked  # type: ignore[no-any-return]


async def answer_claim(
    conn: Conn,
    claim_id: int,
    supplier_id: int,
    answer: str,
    now: datetime,
    request_id: str | None = None,
) -> Claim:
    """The supplier answers a claim against it, once, before it is resolved."""
    row = await _locked(conn, claim_id)
    if row["seller_id"] != supplier_id:
        raise _unknown(claim_id)
    if row["status"] != ClaimStatus.OPEN:
        raise ClaimAnsweredError(f"claim {claim_id} is {row['status']}")
    await conn.execute(
        "UPDATE claims SET status = 'answered', answer = $2, answered_at = $3 WHERE id = $1",
        claim_id, answer, now,
    )  # fmt: skip
    await audit(conn, supplier_id, "claim.answered", f"claim:{claim_id}", None, request_id)
    updated = await fetch_claim(conn, claim_id)
    assert updated is not None
    return claim_from_row(updated)


async def resolve_claim(
    conn: Conn,
    claim_id: int,
    operator_id: int,
    resolution: Resolution,
    refund_minor: int | None,
    reason: str,
    now: datetime,
    notices: Notices,
    request_id: str | None = None,
) -> tuple[Claim, Contract]:
    """An operator decides: release in full (`completed`, less any late-delivery penalty),
    refund part (that back to the buyer, the rest to the supplier: `partially_refunded`) or
    refund all (`refunded`)."""
    row = await _locked(conn, claim_id)
    if row["status"] == ClaimStatus.RESOLVED:
        raise ClaimResolvedError(f"claim {claim_id} was resolved already")
    contract_id = row["contract_id"]
    why = f"claim {claim_id}: {resolution}: {reason}"
    if resolution is Resolution.RELEASE_FULL:
        found = await delivered_for_buyer(conn, contract_id, None)
        contract = await release_accepted(conn, found, now, notices, operator_id, why, request_id)
        refunded = 0
    else:
        escrow = await lock_escrow(conn, contract_id, {S.DISPUTED}, "resolving a claim")
        whole = resolution is Resolution.REFUND_ALL
        refunded = escrow.held if whole or refund_minor is None else refund_minor
        if not whole and not 0 < refunded < escrow.held:
            held = escrow.money(escrow.held)
            raise invalid_field(
                "INVALID_AMOUNT", "amount",
                f"refund_part refunds more than 0 and less than the escrow holds ({held})",
            )  # fmt: skip
        contract = await settle.refund(
            conn, contract_id, refunded, now, notices, operator_id, why, request_id=request_id
        )
        if not whole:
            contract = await settle.release(
                conn, contract_id, now, notices, operator_id, reason=why, request_id=request_id
            )
    await conn.execute(
        "UPDATE claims SET status = 'resolved', resolution = $2, refund_minor = $3, reason = $4,"
        " resolved_by = $5, resolved_at = $6 WHERE id = $1",
        claim_id, str(resolution), refunded, reason, operator_id, now,
    )  # fmt: skip
    await audit(conn, operator_id, "claim.resolved", f"claim:{claim_id}",
                {"resolution": str(resolution), "refunded": refunded, "reason": reason},
                request_id)  # fmt: skip
    resolved = await fetch_claim(conn, claim_id)
    assert resolved is not None
    return claim_from_row(resolved), contract


async def list_claims(
    conn: Queryable,
    participant_id: int,
    operator: bool,
    status: ClaimStatus | None,
    before: int | None,
    limit: int,
) -> list[Claim]:
    """Claims the caller may see (its contracts'; operators: all), newest first."""
    rows = await conn.fetch(
        f"SELECT {CLAIM_COLUMNS} FROM {_FROM}"
        " WHERE ($1 OR c.buyer_id = $2 OR c.seller_id = $2) AND ($3::text IS NULL"
        " OR cl.status = $3) AND cl.id < coalesce($4, 9223372036854775807)"
        " ORDER BY cl.id DESC LIMIT $5",
        operator, participant_id, status, before, limit,
    )  # fmt: skip
    return [claim_from_row(row) for row in rows]
