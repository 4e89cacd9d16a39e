"""A contract's escrow as the settlement rules see it: the contract row locked first, what its
escrow account holds, and the one move that sends escrow back to the buyer.

The flows that let money leave escrow (`settle.py`, and the deadline sweep's default) all start
here, in the caller's transaction: the contract row `FOR UPDATE` first (the payment flows lock
it too, so a payment and a release or default never interleave), then the ledger accounts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import asyncpg

from exchange.contracts.views import CONTRACT_COLUMNS
from exchange.db import Conn, Queryable
from exchange.errors import NotFoundError
from exchange.ids import commodity_of
from exchange.messages.contracts import ContractStatus
from exchange.payments import accounts, ledger_store
from exchange.payments.errors import ContractStateError, EscrowShortError
from exchange.payments.money import Move, move
from exchange.payments.notices import Notices
from exchange.units import currency_exponent, format_scaled
from settlement.ledger import AccountId, Cause


@dataclass(frozen=True, slots=True)
class Escrow:
    """A contract locked for settlement, and what its escrow account holds now."""

    row: asyncpg.Record
    account: AccountId | None  # None: nothing was ever paid into it
    held: int

    @property
    def contract_id(self) -> int:
        return int(self.row["id"])

    @property
    def currency(self) -> str:
        return str(self.row["currency"])

    @property
    def cause(self) -> Cause:
        return Cause(kind="contract", reference=str(self.row["id"]))

    def money(self, minor: int) -> str:
        return format_scaled(minor, currency_exponent(self.currency))


async def escrow_account_of(conn: Queryable, commodity_id: int, contract_id: int) -> int | None:
    """The contract's escrow account, if one was opened (reads only)."""
    found = await conn.fetchval(
        "SELECT account_id FROM payment_accounts"
        " WHERE commodity_id = $1 AND contract_id = $2 AND kind = 'escrow'",
        commodity_id, contract_id,
    )  # fmt: skip
    return int(found) if found is not None else None


async def lock(
    conn: Conn, contract_id: int, allowed: Collection[ContractStatus], action: str
) -> Escrow:
    """Lock the contract (404 if none) and read its escrow; 409 if its state is not one of
    `allowed` for `action`."""
    row = None
    if 0 < contract_id < 1 << 62:
        row = await conn.fetchrow(
            f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE commodity_id=$1 AND id=$2"
            " FOR UPDATE",
            commodity_of(contract_id), contract_id,
        )  # fmt: skip
    if row is None:
        raise NotFoundError(f"contract {contract_id} does not exist", code="UNKNOWN_CONTRACT")
    status = ContractStatus(row["status"])
    if status not in allowed:
        wanted = " or ".join(sorted(str(s) for s in allowed))
        raise ContractStateError(f"contract {contract_id} is {status}; {action} needs {wanted}")
    account = await escrow_account_of(conn, row["commodity_id"], contract_id)
    held = 0
    if account is not None:
        held = await ledger_store.spendable(conn, account)
    return Escrow(row=row, account=AccountId(account) if account else None, held=held)


async def available_after(conn: Conn, account: AccountId) -> int:
    return await ledger_store.spendable(conn, account)


async def to_buyer(conn: Conn, escrow: Escrow, amount: int) -> AccountId:
    """Move `amount` (> 0) from the escrow back to the buyer's available funds."""
    if escrow.account is None or amount > escrow.held:
        raise EscrowShortError(
            f"the escrow of contract {escrow.contract_id} holds {escrow.money(escrow.held)}"
            f" {escrow.currency}, not {escrow.money(amount)}"
        )
    buyer = await accounts.available_account(conn, escrow.row["buyer_id"], escrow.currency)
    await move(conn, escrow.currency, [Move(escrow.account, buyer, amount, escrow.cause)])
    return buyer


async def refunded_notice(
    conn: Conn, notices: Notices, escrow: Escrow, buyer: AccountId, amount: int, why: str
) -> None:
    notices.add(
        escrow.row["buyer_id"], "refunded", escrow.currency, amount_minor=amount,
        available_minor=await available_after(conn, buyer), contract_id=escrow.contract_id,
        reference=escrow.row["payment_reference"], detail=why,
    )  # fmt: skip
