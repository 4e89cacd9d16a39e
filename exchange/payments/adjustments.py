"""Operators' adjustments (compensation, corrections, resolving suspense): one operator
proposes a transfer between two ledger accounts, a different operator approves it (then it is
applied: one transfer, cause `adjustment`) or declines it. Four eyes: the proposer decides
nothing about its own proposal."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from exchange.db import Conn, Queryable
from exchange.errors import ConflictError, ForbiddenError, NotFoundError, invalid_field
from exchange.payments import accounts, ledger_store
from exchange.payments.money import Move, move
from exchange.payments.notices import Notices
from settlement.ledger import AccountId, Cause

COLUMNS = """id, debit_account_id, credit_account_id, currency, amount_minor, reason, status,
             proposed_by, decided_by, transfer_id, proposed_at, decided_at"""


async def account_of(
    conn: Conn, field: str, currency: str, account_id: int | None, participant_id: int | None
) -> AccountId:
    """The ledger account an adjustment names: by id (in the adjustment's currency), or a
    participant's available funds in that currency (opened if it has none yet)."""
    if participant_id is not None:
        known = await conn.fetchval("SELECT 1 FROM participants WHERE id = $1", participant_id)
        if known is None:
            raise invalid_field(
                "UNKNOWN_PARTICIPANT", f"{field}.participant_id",
                f"participant {participant_id} does not exist",
            )  # fmt: skip
        return await accounts.available_account(conn, participant_id, currency)
    assert account_id is not None  # exactly one of the two (`AccountRef`)
    held = await conn.fetchval(
        "SELECT currency FROM payment_accounts WHERE account_id = $1", account_id
    )
    if held is None:
        raise invalid_field(
            "UNKNOWN_ACCOUNT", f"{field}.account_id", f"account {account_id} does not exist"
        )
    if held != currency:
        raise invalid_field(
            "CURRENCY_MISMATCH", f"{field}.account_id",
            f"account {account_id} is held in {held}, not {currency}",
        )  # fmt: skip
    return AccountId(account_id)


async def propose(
    conn: Conn, proposer: int, debit: AccountId, credit: AccountId, currency: str,
    amount_minor: int, reason: str, now: datetime,
) -> asyncpg.Record:  # fmt: skip
    if debit == credit:
        raise invalid_field(
            "SAME_ACCOUNT", "credit", "an adjustment moves money between two different accounts"
        )
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""INSERT INTO adjustments (debit_account_id, credit_account_id, currency, amount_minor,
                   reason, status, proposed_by, proposed_at)
            VALUES ($1, $2, $3, $4, $5, 'proposed', $6, $7) RETURNING {COLUMNS}""",
        debit, credit, currency, amount_minor, reason, proposer, now,
    )  # fmt: skip
    assert row is not None
    return row


async def _decidable(conn: Conn, adjustment_id: int, operator: int) -> asyncpg.Record:
    """The proposed adjustment, locked; 404, 409 once decided, 403 for its proposer."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM adjustments WHERE id = $1 FOR UPDATE", adjustment_id
    )
    if row is None:
        raise NotFoundError(f"adjustment {adjustment_id} does not exist", code="UNKNOWN_ADJUSTMENT")
    if row["status"] != "proposed":
        raise ConflictError(
            f"adjustment {adjustment_id} is already {row['status']}", code="ADJUSTMENT_DECIDED"
        )
    if row["proposed_by"] == operator:
        raise ForbiddenError(
            "another operator must decide on this adjustment (four eyes)",
            code="FOUR_EYES_REQUIRED",
        )
    return row


async def approve(
    conn: Conn, adjustment_id: int, operator: int, now: datetime, notices: Notices
) -> asyncpg.Record:
    """Apply the adjustment: one transfer, cause `adjustment` (409 INSUFFICIENT_FUNDS when a
    limited account cannot give the amount; nothing changes then)."""
    row = await _decidable(conn, adjustment_id, operator)
    currency, amount = row["currency"], row["amount_minor"]
    debit, credit = AccountId(row["debit_account_id"]), AccountId(row["credit_account_id"])
    [transfer] = await move(
        conn, currency,
        [Move(debit, credit, amount, Cause(kind="adjustment", reference=str(adjustment_id)))],
    )  # fmt: skip
    decided: asyncpg.Record | None = await conn.fetchrow(
        f"""UPDATE adjustments SET status = 'applied', decided_by = $2, transfer_id = $3,
                  decided_at = $4 WHERE id = $1 RETURNING {COLUMNS}""",
        adjustment_id, operator, transfer.id, now,
    )  # fmt: skip
    assert decided is not None
    await _tell_owners(conn, decided, notices)
    return decided


async def _tell_owners(conn: Conn, row: asyncpg.Record, notices: Notices) -> None:
    """An `adjustment` notice to each participant whose available funds it changed."""
    owners = await conn.fetch(
        "SELECT account_id, participant_id FROM payment_accounts"
        " WHERE account_id = ANY ($1::bigint[]) AND participant_id IS NOT NULL",
        [row["debit_account_id"], row["credit_account_id"]],
    )
    balances = await ledger_store.balances(conn, [owner["account_id"] for owner in owners])
    for owner in owners:
        account = owner["account_id"]
        notices.add(
            owner["participant_id"], "adjustment", row["currency"],
            amount_minor=row["amount_minor"] if account == row["credit_account_id"]
            else -row["amount_minor"],
            available_minor=balances[account].spendable, detail=row["reason"],
        )  # fmt: skip


async def decline(conn: Conn, adjustment_id: int, operator: int, now: datetime) -> asyncpg.Record:
    await _decidable(conn, adjustment_id, operator)
    decided: asyncpg.Record | None = await conn.fetchrow(
        f"""UPDATE adjustments SET status = 'declined', decided_by = $2, decided_at = $3
             WHERE id = $1 RETURNING {COLUMNS}""",
        adjustment_id, operator, now,
    )  # fmt: skip
    assert decided is not None
    return decided


async def fetch(conn: Queryable, adjustment_id: int) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM adjustments WHERE id = $1", adjustment_id
    )
    if row is None:
        raise NotFoundError(f"adjustment {adjustment_id} does not exist", code="UNKNOWN_ADJUSTMENT")
    return row
