"""Move money inside a flow's transaction: the flow says what moves, this module gives the
transfers their ids, applies them through the ledger rules and turns a refusal into an error
(so the whole transaction, and whatever caused it, rolls back: nothing is half applied)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from exchange.db import Conn
from exchange.errors import ConflictError
from exchange.payments import ledger_store
from exchange.payments.errors import InsufficientFundsError, LedgerRefusedError
from settlement.ledger import AccountId, Cause, Outcome, Result, Transfer, TransferFlags, TransferId


@dataclass(frozen=True, slots=True)
class Move:
    """One transfer a flow asks for (ids come from here; see `settlement.ledger.Transfer`)."""

    debit: AccountId
    credit: AccountId
    amount: int
    cause: Cause
    flags: TransferFlags = TransferFlags.NONE
    pending_id: TransferId | None = None


async def new_ids(conn: Conn, count: int) -> list[TransferId]:
    rows = await conn.fetch("SELECT nextval('ledger_ids') AS id FROM generate_series(1, $1)", count)
    return [TransferId(row["id"]) for row in rows]


async def move(
    conn: Conn, currency: str, moves: Sequence[Move], *, linked: bool = True
) -> list[Transfer]:
    """Apply `moves` in the caller's transaction, all or nothing (`linked`: one chain), and
    return the transfers as recorded; a refusal raises (`InsufficientFundsError` when a limited
    account would go below zero)."""
    ids = await new_ids(conn, len(moves))
    transfers = [
        Transfer(
            id=tid, debit_account=m.debit, credit_account=m.credit, amount=m.amount,
            currency=currency, cause=m.cause, pending_id=m.pending_id,
            flags=m.flags | (TransferFlags.LINKED if linked and i < len(moves) - 1
                             else TransferFlags.NONE),
        )
        for i, (tid, m) in enumerate(zip(ids, moves, strict=True))
    ]  # fmt: skip
    outcomes = await ledger_store.execute(conn, transfers)
    failed = [o for o in outcomes if o.result is not Result.OK]
    if failed:
        raise _refusal(failed)
    return [o.recorded for o in outcomes if isinstance(o.recorded, Transfer)]


def _refusal(failed: list[Outcome]) -> ConflictError:
    cause = next((o for o in failed if o.result is not Result.LINKED_EVENT_FAILED), failed[0])
    if cause.result is Result.EXCEEDS_CREDITS:
        return InsufficientFundsError("the account does not hold enough available funds for this")
    return LedgerRefusedError(f"the ledger refused transfer {cause.id}: {cause.result}")
