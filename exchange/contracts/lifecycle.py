"""The contract state machine: the one place where a contract's status changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from exchange.contracts.views import CONTRACT_COLUMNS, contract_from_row
from exchange.db import Conn, Queryable
from exchange.errors import ConflictError, NotFoundError
from exchange.ids import commodity_of
from exchange.messages.contracts import Contract, ContractStatus, HistoryEntry

S = ContractStatus
TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    S.PENDING_REVIEW: frozenset({S.AWAITING_PAYMENT, S.REJECTED}),
    S.AWAITING_PAYMENT: frozenset({S.FUNDED, S.DEFAULTED, S.CANCELLED}),
    S.FUNDED: frozenset({S.IN_DELIVERY, S.CANCELLED}),
    S.IN_DELIVERY: frozenset({S.DELIVERED, S.DISPUTED}),
    # a short delivery the buyer accepts settles pro rata: the rest goes back to the buyer
    S.DELIVERED: frozenset({S.COMPLETED, S.DISPUTED, S.PARTIALLY_REFUNDED}),
    S.DISPUTED: frozenset({S.COMPLETED, S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.DEFAULTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
    S.PARTIALLY_REFUNDED: frozenset(),
}


def allowed(current: ContractStatus, target: ContractStatus) -> bool:
    return target in TRANSITIONS[current]


def _refusal(contract_id: int, current: ContractStatus, target: ContractStatus) -> str:
    if current is target:
        return f"contract {contract_id} is already {current}"
    nexts = sorted(TRANSITIONS[current])
    if not nexts:
        return f"contract {contract_id} is {current}, which is final; it cannot become {target}"
    return (
        f"contract {contract_id} is {current} and cannot become {target}"
        f" (from {current} only: {', '.join(nexts)})"
    )


async def fetch_contract(conn: Queryable, contract_id: int) -> asyncpg.Record | None:
    if not 0 < contract_id < 1 << 62:
        return None
    return await conn.fetchrow(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE commodity_id=$1 AND id=$2",
        commodity_of(contract_id),
        contract_id,
    )


async def transition(
    conn: Conn,
    contract_id: int,
    target: ContractStatus,
    actor_id: int | None,
    reason: str | None,
    now: datetime,
) -> Contract:
    """Move a contract to `target` at `now` (the app's clock) and record it; 409 (changing
    nothing) if not allowed.

    Runs in the caller's transaction, so the change commits with whatever caused it.
    """
    row = await conn.fetchrow(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE commodity_id=$1 AND id=$2 FOR UPDATE",
        commodity_of(contract_id),
        contract_id,
    )
    if row is None:
        raise NotFoundError(f"contract {contract_id} does not exist", code="UNKNOWN_CONTRACT")
    current = ContractStatus(row["status"])
    if not allowed(current, target):
        raise ConflictError(_refusal(contract_id, current, target), code="INVALID_TRANSITION")
    due, grace = row["payment_due_at"], row["payment_grace_until"]
    if target is S.AWAITING_PAYMENT and due is None:
        # the payment term runs from the moment the contract takes effect
        hours = await conn.fetchrow(
            "SELECT payment_due_hours, payment_grace_hours FROM commodities WHERE id=$1",
            row["commodity_id"],
        )
        assert hours is not None
        due = now + timedelta(hours=hours["payment_due_hours"])
        grace = due + timedelta(hours=hours["payment_grace_hours"])
    updated = await conn.fetchrow(
        f"""UPDATE contracts SET status=$3, payment_due_at=$4, payment_grace_until=$5,
                  updated_at=$6
             WHERE commodity_id=$1 AND id=$2 RETURNING {CONTRACT_COLUMNS}""",
        row["commodity_id"],
        contract_id,
        str(target),
        due,
        grace,
        now,
    )
    await conn.execute(
        "INSERT INTO contract_history (commodity_id, contract_id, from_status, to_status,"
        " actor_id, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        row["commodity_id"],
        contract_id,
        str(current),
        str(target),
        actor_id,
        reason,
        now,
    )
    assert updated is not None
    return contract_from_row(updated)


async def history(conn: Queryable, contract_id: int) -> list[HistoryEntry]:
    rows = await conn.fetch(
        "SELECT from_status, to_status, actor_id, reason, at FROM contract_history"
        " WHERE commodity_id=$1 AND contract_id=$2 ORDER BY id",
        commodity_of(contract_id),
        contract_id,
    )
    return [
        HistoryEntry(
            from_status=ContractStatus(r["from_status"]) if r["from_status"] else None,
            to_status=ContractStatus(r["to_status"]),
            actor_id=r["actor_id"],
            reason=r["reason"],
            at=r["at"],
        )
        for r in rows
    ]
