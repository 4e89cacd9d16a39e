"""Who owns which ledger account: a participant's available funds per currency, one escrow
account per contract, and the center's own accounts per currency. Accounts are opened the first
time a flow needs them, in the flow's transaction."""

from __future__ import annotations

from exchange.db import Conn, Queryable
from exchange.payments import ledger_store
from settlement.ledger import Account, AccountId, AccountKind, Result

# the center's own accounts: the clearing mirror of its bank account may go below zero (it is
# what the bank holds for the center, seen from the other side); the others never
CENTER_KINDS = (
    AccountKind.REVENUE, AccountKind.CLEARING, AccountKind.WITHDRAWALS, AccountKind.SUSPENSE,
)  # fmt: skip
_OWNER_LOCK = "SELECT pg_advisory_xact_lock(hashtext($1))"


async def _find(conn: Queryable, where: str, *args: object) -> AccountId | None:
    row = await conn.fetchval(f"SELECT account_id FROM payment_accounts WHERE {where}", *args)
    return AccountId(row) if row is not None else None


async def _open(
    conn: Conn,
    kind: AccountKind,
    currency: str,
    participant_id: int | None = None,
    contract: tuple[int, int] | None = None,
) -> AccountId:
    account_id = AccountId(await conn.fetchval("SELECT nextval('ledger_ids')"))
    account = Account(
        id=account_id, currency=currency, kind=kind, limited=kind is not AccountKind.CLEARING
    )
    [outcome] = await ledger_store.open_accounts(conn, [account])
    assert outcome.result is Result.OK, outcome
    commodity_id, contract_id = contract if contract else (None, None)
    await conn.execute(
        "INSERT INTO payment_accounts (account_id, kind, currency, participant_id,"
        " commodity_id, contract_id) VALUES ($1, $2, $3, $4, $5, $6)",
        account_id, str(kind), currency, participant_id, commodity_id, contract_id,
    )  # fmt: skip
    return account_id


async def available_account(conn: Conn, participant_id: int, currency: str) -> AccountId:
    """The participant's available funds in `currency` (opened if it has none yet)."""
    where = "participant_id = $1 AND currency = $2 AND kind = 'available'"
    found = await _find(conn, where, participant_id, currency)
    if found is not None:
        return found
    await conn.execute(_OWNER_LOCK, f"available:{participant_id}:{currency}")
    found = await _find(conn, where, participant_id, currency)
    return found or await _open(conn, AccountKind.AVAILABLE, currency, participant_id)


async def escrow_account(
    conn: Conn, commodity_id: int, contract_id: int, currency: str
) -> AccountId:
    """The contract's escrow account (opened if it has none yet)."""
    where = "commodity_id = $1 AND contract_id = $2 AND kind = 'escrow'"
    found = await _find(conn, where, commodity_id, contract_id)
    if found is not None:
        return found
    await conn.execute(_OWNER_LOCK, f"escrow:{contract_id}")
    found = await _find(conn, where, commodity_id, contract_id)
    return found or await _open(
        conn, AccountKind.ESCROW, currency, contract=(commodity_id, contract_id)
    )


async def center_account(conn: Conn, kind: AccountKind, currency: str) -> AccountId:
    """One of the center's own accounts in `currency` (opened if needed)."""
    if kind not in CENTER_KINDS:
        raise ValueError(f"{kind} is not one of the center's own accounts")
    where = "kind = $1 AND currency = $2 AND participant_id IS NULL AND contract_id IS NULL"
    found = await _find(conn, where, str(kind), currency)
    if found is not None:
        return found
    await conn.execute(_OWNER_LOCK, f"center:{kind}:{currency}")
    found = await _find(conn, where, str(kind), currency)
    return found or await _open(conn, kind, currency)


async def find_available(conn: Queryable, participant_id: int, currency: str) -> AccountId | None:
    """The participant's available account in `currency`, if it has one (reads only)."""
    return await _find(
        conn, "participant_id = $1 AND currency = $2 AND kind = 'available'",
        participant_id, currency,
    )  # fmt: skip
