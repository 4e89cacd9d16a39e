"""Arrangement for the settlement tests: money into a contract's escrow, and contracts moved
along, straight through the ledger and the state machine.

This stands in for the inbound payment flow and for delivery (built elsewhere): a deposit from
the clearing account into the buyer's available funds, then available -> escrow with the
contract's `paid_minor`, and the `funded` transition when the whole amount is in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exchange.contracts import lifecycle
from exchange.messages.contracts import ContractStatus
from exchange.payments import accounts, ledger_store
from exchange.payments.escrow import escrow_account_of
from exchange.payments.money import Move, move
from settlement.ledger import AccountKind, Cause


async def arrange_payment(
    conn: Any, contract_id: int, amount_minor: int, at: datetime, *, fund: bool
) -> None:
    """Arrangement: the buyer deposits `amount_minor` and it goes into the contract's escrow
    (`paid_minor` grows); with `fund`, the contract becomes `funded` at `at`."""
    async with conn.transaction():
        row = await lifecycle.fetch_contract(conn, contract_id)
        assert row is not None
        currency, buyer_id = row["currency"], row["buyer_id"]
        clearing = await accounts.center_account(conn, AccountKind.CLEARING, currency)
        available = await accounts.available_account(conn, buyer_id, currency)
        escrow = await accounts.escrow_account(conn, row["commodity_id"], contract_id, currency)
        bank = Cause(kind="bank", reference=f"ARR{contract_id}")
        paid = Cause(kind="contract", reference=str(contract_id))
        moves = [Move(clearing, available, amount_minor, bank),
                 Move(available, escrow, amount_minor, paid)]  # fmt: skip
        await move(conn, currency, moves)
        await conn.execute(
            "UPDATE contracts SET paid_minor = paid_minor + $3,"
            " funded_at = CASE WHEN $4 THEN $5::timestamptz END"
            " WHERE commodity_id = $1 AND id = $2",
            row["commodity_id"], contract_id, amount_minor, fund, at,
        )  # fmt: skip
        if fund:
            await lifecycle.transition(
                conn, contract_id, ContractStatus.FUNDED, None, "arranged payment", at
            )


async def arrange_states(
    conn: Any, contract_id: int, at: datetime, *states: ContractStatus
) -> None:
    """Arrangement: move the contract through `states` (as delivery would)."""
    async with conn.transaction():
        for state in states:
            await lifecycle.transition(conn, contract_id, state, None, "arranged", at)


async def escrow_held(conn: Any, contract_id: int) -> int:
    row = await lifecycle.fetch_contract(conn, contract_id)
    assert row is not None
    account = await escrow_account_of(conn, row["commodity_id"], contract_id)
    if account is None:
        return 0
    return await ledger_store.spendable(conn, account)


async def available(conn: Any, participant_id: int, currency: str = "EUR") -> int:
    account = await accounts.find_available(conn, participant_id, currency)
    if account is None:
        return 0
    return await ledger_store.spendable(conn, account)


async def revenue(conn: Any, currency: str = "EUR") -> int:
    account = await conn.fetchval(
        "SELECT account_id FROM payment_accounts WHERE kind = 'revenue' AND currency = $1",
        currency,
    )
    if account is None:
        return 0
    return await ledger_store.spendable(conn, account)


async def trial_balance_holds(conn: Any) -> None:
    balance = await ledger_store.trial_balance(conn)
    assert balance.holds, balance
