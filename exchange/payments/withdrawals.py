"""Withdrawals: a participant's available funds to its registered bank account.

Accepting one reserves the amount (a pending transfer available -> withdrawals) in the
transaction that writes the withdrawal row. The bank's outcome resolves it exactly once, under
that row's lock, whichever tells first (the answer to the transfer, a retry of it, or the bank's
notification): executed -> the pending is posted and withdrawals -> clearing, in one chain;
rejected -> the pending is voided; returned (after executing) -> clearing -> available.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from exchange.db import Conn, Queryable
from exchange.errors import ConflictError, NotFoundError
from exchange.payments import accounts, ledger_store
from exchange.payments.errors import InsufficientFundsError
from exchange.payments.money import Move, move
from exchange.payments.notices import Notices
from exchange.units import UnitsError, currency_exponent, format_scaled, parse_scaled
from settlement.bank.messages import Notification, NotificationType
from settlement.ledger import AccountId, AccountKind, Cause, TransferFlags, TransferId

COLUMNS = """id, participant_id, currency, amount_minor, bank_account, end_to_end_id, status,
             pending_transfer_id, bank_reference, reason, created_at, updated_at"""

_PENDINGS = AccountId(0)  # posting or voiding: the pending transfer's accounts apply


class Outcome(enum.StrEnum):
    """What the bank says became of a payout."""

    EXECUTED = "executed"
    REJECTED = "rejected"
    RETURNED = "returned"


@dataclass(frozen=True, slots=True)
class BankOutcome:
    outcome: Outcome
    bank_reference: str | None = None
    reason: str | None = None


def end_to_end_id(withdrawal_id: int) -> str:
    return f"WD{withdrawal_id}"


def _cause(withdrawal_id: int) -> Cause:
    return Cause(kind="withdrawal", reference=str(withdrawal_id))


async def _available_after(conn: Conn, participant_id: int, currency: str) -> int:
    account = await accounts.available_account(conn, participant_id, currency)
    return (await ledger_store.balances(conn, [account]))[account].spendable


async def create_withdrawal(
    conn: Conn, participant_id: int, currency: str, amount_minor: int, now: datetime,
    notices: Notices,
) -> asyncpg.Record:  # fmt: skip
    """Accept a withdrawal: reserve the amount and write the row (status pending); 409 without
    a registered bank account or enough available funds."""
    bank_account = await conn.fetchval(
        "SELECT bank_account FROM participants WHERE id = $1", participant_id
    )
    if bank_account is None:
        raise ConflictError(
            "register a bank account first (PUT /v1/participants/{id}/bank-account)",
            code="BANK_ACCOUNT_REQUIRED",
        )
    available = await accounts.find_available(conn, participant_id, currency)
    if available is None:
        raise InsufficientFundsError(f"no available funds in {currency}")
    withdrawal_id = await conn.fetchval(
        "SELECT nextval(pg_get_serial_sequence('withdrawals', 'id'))"
    )
    in_flight = await accounts.center_account(conn, AccountKind.WITHDRAWALS, currency)
    [pending] = await move(
        conn, currency,
        [Move(available, in_flight, amount_minor, _cause(withdrawal_id), TransferFlags.PENDING)],
    )  # fmt: skip
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""INSERT INTO withdrawals (id, participant_id, currency, amount_minor, bank_account,
                   end_to_end_id, status, pending_transfer_id, created_at, updated_at)
            OVERRIDING SYSTEM VALUE
            VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8) RETURNING {COLUMNS}""",
        withdrawal_id, participant_id, currency, amount_minor, bank_account,
        end_to_end_id(withdrawal_id), pending.id, now,
    )  # fmt: skip
    assert row is not None
    notices.add(
        participant_id, "withdrawal_pending", currency, amount_minor=amount_minor,
        available_minor=await _available_after(conn, participant_id, currency),
        withdrawal_id=withdrawal_id,
    )  # fmt: skip
    return row


async def fetch(conn: Queryable, withdrawal_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COLUMNS} FROM withdrawals WHERE id = $1", withdrawal_id)


async def pending_ids(conn: Queryable, limit: int = 100) -> list[int]:
    """Withdrawals still waiting for the bank's outcome, oldest first."""
    rows = await conn.fetch(
        "SELECT id FROM withdrawals WHERE status = 'pending' ORDER BY id LIMIT $1", limit
    )
    return [row["id"] for row in rows]


async def _settle(conn: Conn, row: asyncpg.Record) -> None:
    currency = row["currency"]
    in_flight = await accounts.center_account(conn, AccountKind.WITHDRAWALS, currency)
    clearing = await accounts.center_account(conn, AccountKind.CLEARING, currency)
    cause = _cause(row["id"])
    await move(
        conn, currency,
        [Move(_PENDINGS, _PENDINGS, 0, cause, TransferFlags.POST_PENDING,
              TransferId(row["pending_transfer_id"])),
         Move(in_flight, clearing, row["amount_minor"], cause)],
    )  # fmt: skip


async def _void(conn: Conn, row: asyncpg.Record) -> None:
    await move(
        conn, row["currency"],
        [Move(_PENDINGS, _PENDINGS, 0, _cause(row["id"]), TransferFlags.VOID_PENDING,
              TransferId(row["pending_transfer_id"]))],
    )  # fmt: skip


async def _give_back(conn: Conn, row: asyncpg.Record) -> None:
    currency = row["currency"]
    clearing = await accounts.center_account(conn, AccountKind.CLEARING, currency)
    available = await accounts.available_account(conn, row["participant_id"], currency)
    await move(conn, currency, [Move(clearing, available, row["amount_minor"], _cause(row["id"]))])


# (status now, outcome) -> (steps, status after); anything else changes nothing
_TRANSITIONS = {
    ("pending", Outcome.EXECUTED): ((_settle,), "settled"),
    ("pending", Outcome.REJECTED): ((_void,), "rejected"),
    ("pending", Outcome.RETURNED): ((_settle, _give_back), "returned"),
    ("settled", Outcome.RETURNED): ((_give_back,), "returned"),
}


async def resolve(
    conn: Conn, withdrawal_id: int, outcome: BankOutcome, notices: Notices, now: datetime
) -> dict[str, Any]:
    """Apply the bank's outcome to a withdrawal, once: under the row's lock, an outcome that
    was applied before (or that cannot follow the current status) changes nothing."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM withdrawals WHERE id = $1 FOR UPDATE", withdrawal_id
    )
    if row is None:
        return {"result": "unknown_withdrawal"}
    transition = _TRANSITIONS.get((row["status"], outcome.outcome))
    if transition is None:
        return {"result": f"already_{row['status']}", "withdrawal_id": withdrawal_id}
    steps, status = transition
    for step in steps:
        await step(conn, row)
    await conn.execute(
        """UPDATE withdrawals SET status = $2, bank_reference = coalesce($3, bank_reference),
                  reason = coalesce($4, reason), updated_at = $5 WHERE id = $1""",
        withdrawal_id, status, outcome.bank_reference, outcome.reason, now,
    )  # fmt: skip
    participant_id, currency = row["participant_id"], row["currency"]
    notices.add(
        participant_id, f"withdrawal_{status}", currency, amount_minor=row["amount_minor"],
        available_minor=await _available_after(conn, participant_id, currency),
        withdrawal_id=withdrawal_id, detail=outcome.reason or "",
    )  # fmt: skip
    return {"result": status, "withdrawal_id": withdrawal_id}


_NOTIFIED = {
    NotificationType.PAYOUT_SETTLED: Outcome.EXECUTED,
    NotificationType.PAYOUT_REJECTED: Outcome.REJECTED,
    NotificationType.PAYOUT_RETURNED: Outcome.RETURNED,
}


def _same_money(row: asyncpg.Record, notification: Notification) -> bool:
    try:
        amount = parse_scaled(notification.amount, currency_exponent(notification.currency))
    except UnitsError:
        return False
    return bool(notification.currency == row["currency"] and amount == row["amount_minor"])


async def apply_payout(
    conn: Conn, notification: Notification, notices: Notices, now: datetime
) -> dict[str, Any]:
    """Apply the bank's notification about a payout (`payout_settled`, `payout_rejected`,
    `payout_returned`) in the caller's transaction; the result is what it did."""
    outcome = _NOTIFIED.get(notification.type)
    if outcome is None:
        raise ValueError(f"{notification.type} is not about a payout")
    withdrawal_id = await conn.fetchval(
        "SELECT id FROM withdrawals WHERE end_to_end_id = $1", notification.end_to_end_id
    )
    if withdrawal_id is None:
        return {"result": "unknown_withdrawal"}
    row = await fetch(conn, withdrawal_id)
    assert row is not None
    if not _same_money(row, notification):
        # the bank's record of the payout differs from ours: an operator must look at it
        return {"result": "amount_mismatch", "withdrawal_id": withdrawal_id}
    return await resolve(
        conn, withdrawal_id,
        BankOutcome(outcome, notification.bank_reference, notification.reason), notices, now,
    )  # fmt: skip


def formatted_amount(row: asyncpg.Record) -> str:
    return format_scaled(row["amount_minor"], currency_exponent(row["currency"]))


async def owned(conn: Queryable, withdrawal_id: int, participant_id: int | None) -> asyncpg.Record:
    """The withdrawal, if `participant_id` made it (None: an operator, any); else 404."""
    row = await fetch(conn, withdrawal_id)
    if row is None or (participant_id is not None and row["participant_id"] != participant_id):
        raise NotFoundError(f"withdrawal {withdrawal_id} does not exist", code="UNKNOWN_WITHDRAWAL")
    return row
