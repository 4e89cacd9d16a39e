"""The ledger in PostgreSQL: the pure rules of `settlement.ledger` applied to stored state.

One transaction per batch. The accounts a batch touches are locked first, in ascending id
order (so concurrent batches never deadlock), then the transfers it names are read, the rules
run on exactly that state, and what they recorded is written: new transfers appended (a trigger
refuses UPDATE and DELETE) and the changed balances, in the same transaction. The database
holds a second line of its own: balance CHECKs and one resolution per pending transfer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg
import msgspec

from exchange.db import Conn
from settlement.ledger import (
    Account,
    AccountId,
    AccountKind,
    Balance,
    Cause,
    Ledger,
    Outcome,
    PendingState,
    Result,
    Transfer,
    TransferFlags,
    TransferId,
)

_ENCODE = msgspec.msgpack.Encoder().encode
_SUBMITTED = msgspec.msgpack.Decoder(Transfer)
_ACCOUNT_COLUMNS = """id, currency, kind, limited, debits_pending, debits_posted,
                      credits_pending, credits_posted"""
_TRANSFER_COLUMNS = """id, debit_account_id, credit_account_id, amount, currency, flags,
                       pending_id, cause_kind, cause_reference, submitted"""
_VOID = int(TransferFlags.VOID_PENDING)
_ATTEMPTS = 5  # a concurrent batch may record the same id first: then read again


class LedgerStoreError(Exception):
    """The stored ledger could not take a batch (it kept changing under it)."""


def _account(row: asyncpg.Record) -> tuple[Account, Balance]:
    account = Account(
        id=AccountId(row["id"]), currency=row["currency"], kind=AccountKind(row["kind"]),
        limited=row["limited"],
    )  # fmt: skip
    balance = Balance(
        debits_pending=row["debits_pending"], debits_posted=row["debits_posted"],
        credits_pending=row["credits_pending"], credits_posted=row["credits_posted"],
    )  # fmt: skip
    return account, balance


def _transfer(row: asyncpg.Record) -> Transfer:
    return Transfer(
        id=TransferId(row["id"]), debit_account=AccountId(row["debit_account_id"]),
        credit_account=AccountId(row["credit_account_id"]), amount=row["amount"],
        currency=row["currency"], cause=Cause(kind=row["cause_kind"],
        reference=row["cause_reference"]), flags=TransferFlags(row["flags"]),
        pending_id=TransferId(row["pending_id"]) if row["pending_id"] is not None else None,
    )  # fmt: skip


async def open_accounts(conn: Conn, accounts: Sequence[Account]) -> list[Outcome]:
    """Open accounts; an id opened before with the same content is a replay."""
    for _ in range(_ATTEMPTS):
        try:
            async with conn.transaction():
                rows = await conn.fetch(
                    f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY ($1::bigint[])",
                    [account.id for account in accounts],
                )
                ledger = Ledger()
                ledger.load([_account(row) for row in rows], [])
                outcomes = ledger.open_accounts(accounts)
                opened = [o.recorded for o in outcomes if o.result is Result.OK and not o.replayed]
                await conn.executemany(
                    "INSERT INTO ledger_accounts (id, currency, kind, limited)"
                    " VALUES ($1, $2, $3, $4)",
                    [(a.id, a.currency, str(a.kind), a.limited) for a in opened
                     if isinstance(a, Account)],
                )  # fmt: skip
                return outcomes
        except asyncpg.UniqueViolationError:
            continue  # opened concurrently: read again
    raise LedgerStoreError("accounts kept being opened concurrently")


async def execute(conn: Conn, transfers: Sequence[Transfer]) -> list[Outcome]:
    """Apply a batch of transfers (see `settlement.ledger.Ledger.execute`), durably."""
    return (await execute_many(conn, [transfers]))[0]


async def execute_many(conn: Conn, batches: Sequence[Sequence[Transfer]]) -> list[list[Outcome]]:
    """Apply several callers' batches in one transaction (group commit), each batch as if it
    came alone: its chains are its own, and its outcomes are its own list."""
    for _ in range(_ATTEMPTS):
        try:
            async with conn.transaction():
                outcomes = await _execute(conn, batches)
        except asyncpg.UniqueViolationError:
            continue  # a concurrent batch recorded one of these ids first: read again
        if outcomes is not None:
            return outcomes
    raise LedgerStoreError("the transfers kept changing under this batch")


async def _named(conn: Conn, transfers: Sequence[Transfer]) -> list[asyncpg.Record]:
    ids = {t.id for t in transfers} | {t.pending_id for t in transfers if t.pending_id}
    return list(
        await conn.fetch(
            f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = ANY ($1::bigint[])",
            list(ids),
        )
    )


def _accounts_of(transfers: Iterable[Transfer]) -> set[int]:
    return {a for t in transfers for a in (t.debit_account, t.credit_account) if a}


async def _execute(conn: Conn, batches: Sequence[Sequence[Transfer]]) -> list[list[Outcome]] | None:
    """One attempt; None if a transfer recorded meanwhile touches an account not locked."""
    transfers = [t for batch in batches for t in batch]
    # the holds it resolves name accounts of their own: those are locked too (a replay or an
    # id conflict needs only the earlier transfer, not its accounts)
    holds: list[Transfer] = []
    if any(t.pending_id for t in transfers):
        holds = [_transfer(row) for row in await _named(conn, transfers)]
    wanted = sorted(_accounts_of(transfers) | _accounts_of(holds))
    rows = await conn.fetch(
        f"""SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY ($1::bigint[])
             ORDER BY id FOR UPDATE""",
        wanted,
    )
    named = await _named(conn, transfers)  # (again) now that the accounts are ours
    resolved = {t.pending_id for t in transfers if t.pending_id}
    if not _accounts_of(_transfer(r) for r in named if r["id"] in resolved) <= set(wanted):
        return None  # a hold recorded meanwhile touches an account not locked: again
    ledger = Ledger()
    ledger.load([_account(row) for row in rows], await _with_states(conn, named))
    before = {account.id: ledger.balance(account.id) for account in ledger.accounts()}
    outcomes = [ledger.execute(batch) for batch in batches]
    await _write(conn, ledger, before)
    return outcomes


async def _with_states(
    conn: Conn, rows: list[asyncpg.Record]
) -> list[tuple[Transfer, Transfer, PendingState | None]]:
    pending = [row["id"] for row in rows if TransferFlags(row["flags"]) & TransferFlags.PENDING]
    resolved: dict[int, TransferFlags] = {}
    if pending:
        resolved = {
            row["pending_id"]: TransferFlags(row["flags"])
            for row in await conn.fetch(
                "SELECT pending_id, flags FROM ledger_transfers"
                " WHERE pending_id = ANY ($1::bigint[])",
                pending,
            )
        }
    loaded = []
    for row in rows:
        state = None
        if row["id"] in pending:
            flags = resolved.get(row["id"])
            state = (
                PendingState.PENDING if flags is None
                else PendingState.POSTED if flags & TransferFlags.POST_PENDING
                else PendingState.VOIDED
            )  # fmt: skip
        loaded.append((_SUBMITTED.decode(row["submitted"]), _transfer(row), state))
    return loaded


# one statement each for the transfers and the balances, however many there are
_INSERT = f"""INSERT INTO ledger_transfers ({_TRANSFER_COLUMNS}, pending)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                         $6::integer[], $7::bigint[], $8::text[], $9::text[], $10::bytea[],
                         $11::boolean[])"""
_UPDATE = """UPDATE ledger_accounts a SET debits_pending = c.dp, debits_posted = c.dpo,
                    credits_pending = c.cp, credits_posted = c.cpo
    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
         AS c (id, dp, dpo, cp, cpo)
   WHERE a.id = c.id"""


async def _write(conn: Conn, ledger: Ledger, before: dict[AccountId, Balance]) -> None:
    rows = [
        (t.id, t.debit_account, t.credit_account, t.amount, t.currency, int(t.flags),
         t.pending_id, t.cause.kind, t.cause.reference, _ENCODE(ledger.submitted(t.id)),
         bool(t.flags & TransferFlags.PENDING))
        for t in ledger.transfers
    ]  # fmt: skip
    if rows:
        await conn.execute(_INSERT, *map(list, zip(*rows, strict=True)))
    changed = [
        (aid, b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted)
        for aid, old in before.items()
        if (b := ledger.balance(aid)) != old
    ]
    if changed:
        await conn.execute(_UPDATE, *map(list, zip(*changed, strict=True)))


async def balances(conn: Conn, accounts: Iterable[int]) -> dict[int, Balance]:
    """The stored balances of these accounts."""
    rows = await conn.fetch(
        f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY ($1::bigint[])",
        list(accounts),
    )
    return {row["id"]: _account(row)[1] for row in rows}


async def spendable(conn: Conn, account: int) -> int:
    """What a stored account can still give: posted credits less posted and pending debits."""
    return (await balances(conn, [account]))[account].spendable


class TrialBalance(msgspec.Struct, frozen=True, kw_only=True):
    """The ledger's invariants as stored: both sums are zero, no limited account is below
    zero, and every account's posted balance equals the sum of its posted transfers."""

    posted: int  # sum over accounts of credits less debits, posted
    pending: int  # the same, pending
    least_limited: int | None  # the smallest spendable balance of a limited account
    unlike_transfers: list[int]  # accounts whose balance differs from their transfers
    transfers: int

    @property
    def holds(self) -> bool:
        return (
            self.posted == 0
            and self.pending == 0
            and (self.least_limited is None or self.least_limited >= 0)
            and not self.unlike_transfers
        )


async def trial_balance(conn: Conn) -> TrialBalance:
    """Check the stored ledger (one statement each, so each sees one snapshot)."""
    totals = await conn.fetchrow(
        """SELECT coalesce(sum(credits_posted - debits_posted), 0) AS posted,
                  coalesce(sum(credits_pending - debits_pending), 0) AS pending,
                  min(credits_posted - debits_posted - debits_pending) FILTER (WHERE limited)
                      AS least, (SELECT count(*) FROM ledger_transfers) AS transfers
             FROM ledger_accounts"""
    )
    # a void records the amount it released, but moves nothing posted: it does not count
    unlike = await conn.fetch(
        f"""SELECT a.id FROM ledger_accounts a
            WHERE a.credits_posted - a.debits_posted <>
                  coalesce((SELECT sum(amount) FROM ledger_transfers t
                             WHERE t.credit_account_id = a.id AND NOT t.pending
                               AND t.flags & {_VOID} = 0), 0)
                - coalesce((SELECT sum(amount) FROM ledger_transfers t
                             WHERE t.debit_account_id = a.id AND NOT t.pending
                               AND t.flags & {_VOID} = 0), 0)
            ORDER BY a.id"""
    )
    assert totals is not None
    return TrialBalance(
        posted=totals["posted"], pending=totals["pending"], least_limited=totals["least"],
        unlike_transfers=[row["id"] for row in unlike], transfers=totals["transfers"],
    )  # fmt: skip
