"""Group commit: many clients' calls in one transaction, each as if it came alone."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import asyncpg
import pytest

from exchange.db.migrate import migrate
from exchange.payments import ledger_store
from exchange.payments.ledger_writer import LedgerWriter
from settlement.ledger import (
    Account,
    AccountId,
    AccountKind,
    Cause,
    Result,
    Transfer,
    TransferFlags,
    TransferId,
)

BANK, ALICE, BOB = AccountId(1), AccountId(2), AccountId(3)
CAUSE = Cause(kind="test", reference="writer")
_ids = itertools.count(1)


def _t(debit: AccountId, credit: AccountId, amount: int, flags=TransferFlags.NONE) -> Transfer:
    return Transfer(
        id=TransferId(next(_ids)), debit_account=debit, credit_account=credit, amount=amount,
        currency="EUR", cause=CAUSE, flags=flags,
    )  # fmt: skip


@pytest.fixture(scope="module")
async def writer(database_url: str) -> AsyncIterator[LedgerWriter]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=4) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
            await ledger_store.open_accounts(
                conn,
                [Account(id=BANK, currency="EUR", kind=AccountKind.CLEARING, limited=False)]
                + [Account(id=a, currency="EUR", kind=AccountKind.AVAILABLE, limited=True)
                   for a in (ALICE, BOB)],
            )  # fmt: skip
        writer = LedgerWriter(pool)
        writer.start()
        try:
            yield writer
        finally:
            await writer.stop()


async def _balances(writer: LedgerWriter) -> dict[int, int]:
    async with writer._pool.acquire() as conn:
        found = await ledger_store.balances(conn, [BANK, ALICE, BOB])
    return {account: balance.net_posted for account, balance in found.items()}


async def test_calls_that_arrive_together_commit_together(writer):
    before = writer.commits
    calls = [writer.execute([_t(BANK, ALICE if n % 2 else BOB, 10)]) for n in range(200)]

    outcomes = [o for call in await asyncio.gather(*calls) for o in call]

    assert {o.result for o in outcomes} == {Result.OK}
    assert 1 <= writer.commits - before < 200  # group commit: far fewer transactions
    assert await _balances(writer) == {BANK: -2_000, ALICE: 1_000, BOB: 1_000}


async def test_one_callers_failure_is_its_own(writer):
    start = await _balances(writer)
    open_chain = [_t(ALICE, BOB, 5, TransferFlags.LINKED)]  # the call ends inside its chain
    overdraft = [_t(BOB, ALICE, 10**9)]
    fine = [_t(ALICE, BOB, 7)]

    failed, refused, done = await asyncio.gather(
        writer.execute(open_chain), writer.execute(overdraft), writer.execute(fine)
    )

    assert [o.result for o in failed] == [Result.LINKED_CHAIN_OPEN]
    assert [o.result for o in refused] == [Result.EXCEEDS_CREDITS]
    assert [o.result for o in done] == [Result.OK]
    after = await _balances(writer)
    assert (after[ALICE] - start[ALICE], after[BOB] - start[BOB]) == (-7, 7)
