"""Settle a contract from the buyer's available funds (docs/payments.md, "Payment").

Both ways of paying end here: a bank credit quoting the contract's reference lands in the
buyer's available funds first, and `POST /v1/contracts/{id}/pay` starts from them. Runs in the
caller's transaction with the contract row locked first; the money moves, the contract's payment
columns and its move to `funded` commit together, or none of them does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from exchange.contracts import lifecycle
from exchange.contracts.terms import parse
from exchange.contracts.views import CONTRACT_COLUMNS, contract_from_row
from exchange.db import Conn
from exchange.ids import commodity_of
from exchange.messages.contracts import Contract, ContractStatus
from exchange.payments import ledger_store, money
from exchange.payments.accounts import available_account, escrow_account
from exchange.payments.errors import (
    InsufficientFundsError,
    NotAwaitingPaymentError,
    PaymentWindowClosedError,
)
from exchange.payments.money import Move
from exchange.payments.notices import Notices
from exchange.units import round_half_up
from settlement.ledger import AccountId, Cause

_DAY = timedelta(days=1)


def late_penalty(amount_minor: int, bps_per_day: int, due: datetime | None, now: datetime) -> int:
    """The late penalty at `now`: amount x bps per day x started days past due / 10,000,
    rounded half up (nothing before the due time)."""
    if due is None or now <= due:
        return 0
    days = -((due - now) // _DAY)  # started days: ceiling of the time past due
    return round_half_up(amount_minor * bps_per_day * days, 10_000)


async def lock_contract(conn: Conn, contract_id: int) -> asyncpg.Record | None:
    """The contract's row, locked for the rest of the transaction (None if there is none)."""
    if not 0 < contract_id < 1 << 62:
        return None
    return await conn.fetchrow(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE commodity_id=$1 AND id=$2 FOR UPDATE",
        commodity_of(contract_id),
        contract_id,
    )


async def lock_accounts(conn: Conn, accounts: list[AccountId]) -> None:
    """Lock ledger accounts in id order, as `ledger_store` does: a flow that moves money in
    several steps takes every account up front, so it never waits holding some of them."""
    await conn.execute(
        "SELECT 1 FROM ledger_accounts WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE",
        accounts,
    )


def refusal(row: Any, now: datetime) -> NotAwaitingPaymentError | PaymentWindowClosedError | None:
    """Why the contract takes no payment now, or None if it does."""
    contract_id, status = row["id"], row["status"]
    if status != ContractStatus.AWAITING_PAYMENT:
        return NotAwaitingPaymentError(f"contract {contract_id} is {status}, not awaiting payment")
    grace = row["payment_grace_until"]
    if grace is not None and now > grace:
        return PaymentWindowClosedError(
            f"contract {contract_id} could be paid until {grace.isoformat()} (due time plus"
            " grace); the money stays in the available funds"
        )
    return None


@dataclass(frozen=True, slots=True)
class Settlement:
    """What settling did: money into escrow, the penalty paid, what is still due."""

    contract: Contract
    into_escrow: int
    penalty: int
    still_due: int  # outstanding amount plus the penalty, after this settlement
    available: int  # the buyer's spendable funds afterwards

    @property
    def funded(self) -> bool:
        return self.contract.status is ContractStatus.FUNDED


async def settle(
    conn: Conn,
    row: Any,
    now: datetime,
    notices: Notices,
    *,
    actor_id: int | None,
    reason: str,
    all_or_nothing: bool,
) -> Settlement:
    """Take what the locked contract `row` needs from the buyer's available funds: all of it or
    409 (`all_or_nothing`), or as much as there is (a bank credit). The caller has checked
    `refusal(row, now)`."""
    currency, contract_id = row["currency"], row["id"]
    buyer, seller = row["buyer_id"], row["seller_id"]
    funds = await available_account(conn, buyer, currency)
    escrow = await escrow_account(conn, row["commodity_id"], contract_id, currency)
    spendable = await ledger_store.spendable(conn, funds)
    outstanding = row["amount_minor"] - row["paid_minor"]
    bps = parse(row["terms"]).breach.late_payment_penalty_bps_per_day
    penalty = late_penalty(row["amount_minor"], bps, row["payment_due_at"], now)
    if all_or_nothing and spendable < outstanding + penalty:
        raise InsufficientFundsError(
            f"contract {contract_id} needs {outstanding + penalty} minor units of {currency}"
            f" (penalty {penalty}); the available funds hold {spendable}"
        )
    take = min(spendable, outstanding)
    funded = take == outstanding and spendable - take >= penalty
    cause = Cause(kind="contract", reference=str(contract_id))
    moves = [Move(funds, escrow, take, cause)] if take else []
    if funded and penalty:
        moves.append(Move(funds, await available_account(conn, seller, currency), penalty, cause))
    if moves:
        await money.move(conn, currency, moves)
    updated = await conn.fetchrow(
        f"""UPDATE contracts SET paid_minor = paid_minor + $3, penalty_minor = penalty_minor + $4,
                  funded_at = $5, updated_at = $6
             WHERE commodity_id = $1 AND id = $2 RETURNING {CONTRACT_COLUMNS}""",
        row["commodity_id"], contract_id, take, penalty if funded else 0,
        now if funded else None, now,
    )  # fmt: skip
    assert updated is not None  # the row is locked: it cannot have gone
    if funded:
        contract = await lifecycle.transition(
            conn, contract_id, ContractStatus.FUNDED, actor_id, reason, now
        )
    else:
        contract = contract_from_row(updated)
    settled = Settlement(
        contract=contract,
        into_escrow=take,
        penalty=penalty if funded else 0,
        still_due=0 if funded else outstanding - take + penalty,
        available=await ledger_store.spendable(conn, funds),
    )
    _tell(notices, row, settled)
    return settled


def _tell(notices: Notices, row: Any, settled: Settlement) -> None:
    """The buyer's (and on a late payment the supplier's) money notices."""
    currency, contract_id = row["currency"], row["id"]
    buyer, seller = row["buyer_id"], row["seller_id"]
    ref = row["payment_reference"]
    if settled.into_escrow:
        notices.add(
            buyer, "payment", currency, amount_minor=settled.into_escrow,
            available_minor=settled.available, contract_id=contract_id, reference=ref,
            detail=f"held in escrow against contract {row['number']}",
        )  # fmt: skip
    if settled.penalty:
        for party, side in ((buyer, "paid to the supplier"), (seller, "received from the buyer")):
            notices.add(
                party, "late_penalty", currency, amount_minor=settled.penalty,
                contract_id=contract_id, detail=f"late payment penalty {side}",
            )  # fmt: skip
    if settled.funded:
        notices.add(
            buyer, "funded", currency, amount_minor=row["amount_minor"],
            available_minor=settled.available, contract_id=contract_id, reference=ref,
        )  # fmt: skip
    else:
        notices.add(
            buyer, "underpaid", currency, amount_minor=settled.still_due,
            available_minor=settled.available, contract_id=contract_id, reference=ref,
            detail="still due on the contract (with any late penalty)",
        )  # fmt: skip


async def pay_contract(
    conn: Conn, contract_id: int, buyer_id: int, now: datetime, notices: Notices
) -> Settlement | None:
    """`POST /v1/contracts/{id}/pay`: all or nothing from the buyer's available funds. None if
    the caller is not the contract's buyer (the API answers as if there were no contract)."""
    row = await lock_contract(conn, contract_id)
    if row is None or row["buyer_id"] != buyer_id:
        return None
    problem = refusal(row, now)
    if problem is not None:
        raise problem
    return await settle(
        conn, row, now, notices, actor_id=buyer_id, reason="paid from available funds",
        all_or_nothing=True,
    )  # fmt: skip
