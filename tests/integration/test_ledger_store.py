"""The ledger in PostgreSQL: the same results as the pure rules, durable, concurrent-safe."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import asyncpg
import pytest

from exchange.db.migrate import migrate
from exchange.payments import ledger_store
from settlement.ledger import (
    Account,
    AccountId,
    AccountKind,
    Cause,
    Ledger,
    Result,
    Transfer,
    TransferFlags,
    TransferId,
)

BANK = AccountId(1)
TRADERS = [AccountId(n) for n in (2, 3, 4, 5)]
CAUSE = Cause(kind="test", reference="store")
_ids = iter(range(1_000, 10**9))


def _accounts() -> list[Account]:
    bank = Account(id=BANK, currency="EUR", kind=AccountKind.CLEARING, limited=False)
    return [bank] + [
        Account(id=a, currency="EUR", kind=AccountKind.AVAILABLE, limited=True) for a in TRADERS
    ]


def _t(debit: int, credit: int, amount: int, flags=TransferFlags.NONE, pending=None, tid=None):
    return Transfer(
        id=TransferId(tid if tid is not None else next(_ids)),
        debit_account=AccountId(debit), credit_account=AccountId(credit), amount=amount,
        currency="" if pending else "EUR", cause=CAUSE, flags=flags,
        pending_id=TransferId(pending) if pending else None,
    )  # fmt: skip


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=2, max_size=12) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
            outcomes = await ledger_store.open_accounts(conn, _accounts())
        assert {o.result for o in outcomes} == {Result.OK}
        yield pool


async def _totals(conn) -> tuple[int, int, int]:
    """(net posted, net pending, least spendable of a limited account), in one snapshot."""
    row = await conn.fetchrow(
        """SELECT sum(credits_posted - debits_posted) AS posted,
                  sum(credits_pending - debits_pending) AS pending,
                  min(credits_posted - debits_posted - debits_pending)
                      FILTER (WHERE limited) AS least
             FROM ledger_accounts"""
    )
    return row["posted"], row["pending"], row["least"]


async def test_stored_results_equal_the_pure_rules(pool):
    pure = Ledger()
    pure.open_accounts(_accounts())
    async with pool.acquire() as conn:
        start = await ledger_store.balances(conn, [BANK, *TRADERS])
    pure.load([(a, start[a.id]) for a in _accounts()], [])
    hold = next(_ids)
    batches = [
        [_t(BANK, TRADERS[0], 1_000)],
        [_t(TRADERS[0], TRADERS[1], 300, TransferFlags.PENDING, tid=hold)],
        [_t(0, 0, 120, TransferFlags.POST_PENDING, pending=hold)],
        [_t(0, 0, 0, TransferFlags.VOID_PENDING, pending=hold)],  # posted already
        [_t(TRADERS[0], TRADERS[1], 5_000)],  # more than it holds
        [_t(TRADERS[1], TRADERS[2], 100, TransferFlags.LINKED), _t(TRADERS[1], TRADERS[3], 21)],
    ]

    for batch in batches:
        async with pool.acquire() as conn:
            stored = await ledger_store.execute(conn, batch)
        assert [(o.result, o.recorded) for o in stored] == [
            (o.result, o.recorded) for o in pure.execute(batch)
        ]
    async with pool.acquire() as conn:
        after = await ledger_store.balances(conn, [BANK, *TRADERS])

    assert after == {a.id: pure.balance(a.id) for a in _accounts()}
    assert [o.result for o in pure.execute([batches[-1][0]])] == [Result.LINKED_CHAIN_OPEN]


async def test_concurrent_transfers_never_change_the_total_nor_overdraw(pool):
    async with pool.acquire() as conn:
        for account in TRADERS:
            await ledger_store.execute(conn, [_t(BANK, account, 5_000)])
    rng = random.Random(7)
    plans = [
        [[_t(*rng.sample(TRADERS, 2), rng.randint(1, 900)) for _ in range(rng.randint(1, 3))]
         for _ in range(40)]
        for _ in range(8)
    ]  # fmt: skip
    done = asyncio.Event()
    seen: list[tuple[int, int, int]] = []

    async def client(plan: list[list[Transfer]]) -> None:
        async with pool.acquire() as conn:
            for batch in plan:
                await ledger_store.execute(conn, batch)

    async def reader() -> None:
        async with pool.acquire() as conn:
            while not done.is_set():
                seen.append(await _totals(conn))
                await asyncio.sleep(0)

    watching = asyncio.create_task(reader())
    await asyncio.gather(*(client(plan) for plan in plans))
    done.set()
    await watching
    async with pool.acquire() as conn:
        final = await ledger_store.trial_balance(conn)

    assert len(seen) > 10
    assert {(posted, pending) for posted, pending, _ in seen} == {(0, 0)}
    assert min(least for _, _, least in seen) >= 0
    assert (final.posted, final.pending, final.unlike_transfers) == (0, 0, [])
    assert final.holds


async def test_fifty_concurrent_requests_with_one_id_have_one_effect(pool):
    async with pool.acquire() as conn:
        before = (await ledger_store.balances(conn, [TRADERS[3]]))[TRADERS[3]]
    same = _t(BANK, TRADERS[3], 777)

    async def send() -> list:
        async with pool.acquire() as conn:
            return await ledger_store.execute(conn, [same])

    outcomes = [o for batch in await asyncio.gather(*(send() for _ in range(50))) for o in batch]
    async with pool.acquire() as conn:
        after = (await ledger_store.balances(conn, [TRADERS[3]]))[TRADERS[3]]
        rows = await conn.fetchval("SELECT count(*) FROM ledger_transfers WHERE id = $1", same.id)
        changed = await ledger_store.execute(conn, [_t(BANK, TRADERS[3], 778, tid=same.id)])

    assert {o.result for o in outcomes} == {Result.OK}
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 49
    assert after.credits_posted - before.credits_posted == 777
    assert rows == 1
    assert (changed[0].result, changed[0].fields) == (Result.ID_CONFLICT, ("amount",))


async def test_transfers_cannot_be_changed_or_removed_and_a_hold_resolves_once(pool):
    async with pool.acquire() as conn:
        [moved] = await ledger_store.execute(conn, [_t(BANK, TRADERS[2], 10)])
        hold = next(_ids)
        await ledger_store.execute(conn, [_t(BANK, TRADERS[2], 5, TransferFlags.PENDING, tid=hold)])
        await ledger_store.execute(conn, [_t(0, 0, 0, TransferFlags.VOID_PENDING, pending=hold)])
        for statement in (
            "UPDATE ledger_transfers SET amount = amount + 1 WHERE id = $1",
            "DELETE FROM ledger_transfers WHERE id = $1",
        ):
            with pytest.raises(asyncpg.RestrictViolationError):
                await conn.execute(statement, moved.id)
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("TRUNCATE ledger_transfers CASCADE")
        with pytest.raises(asyncpg.UniqueViolationError):  # behind the rules, the schema too
            await conn.execute(
                """INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount,
                       currency, flags, pending_id, pending, cause_kind, cause_reference,
                       submitted)
                   VALUES ($1, $2, $3, 5, 'EUR', 4, $4, false, 'sql', 'by hand', '')""",
                next(_ids), BANK, TRADERS[2], hold,
            )  # fmt: skip
        amount = await conn.fetchval("SELECT amount FROM ledger_transfers WHERE id = $1", moved.id)

    assert amount == 10


async def test_the_trial_balance_holds_after_a_hold_is_voided(pool):
    fund = _t(BANK, TRADERS[0], 500)
    hold = _t(TRADERS[0], TRADERS[1], 200, TransferFlags.PENDING)
    async with pool.acquire() as conn:
        assert {o.result for o in await ledger_store.execute(conn, [fund, hold])} == {Result.OK}
        [void] = await ledger_store.execute(
            conn, [_t(0, 0, 0, TransferFlags.VOID_PENDING, pending=hold.id)]
        )
        found = await ledger_store.trial_balance(conn)

    assert void.result is Result.OK
    assert found.unlike_transfers == []  # a void records an amount but posts nothing
    assert found.holds
