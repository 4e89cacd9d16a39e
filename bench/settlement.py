"""Durable ledger transfers per second through the storage layer, on a few hot accounts.

Concurrent clients move money from their own funded account to one of a few hot escrow
accounts (and from those to the center's fee revenue), as real flows do: every escrow and the
fee account are touched by everyone. Each call is one transaction of the storage layer
(`exchange.payments.ledger_store.execute`): first one transfer per call, then batches. The
invariants are checked at the end: the sums are zero, no limited account is below zero, and
every stored balance equals the sum of its transfers. PostgreSQL is an embedded one of its own
in a scratch folder, stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

# run as a script, this file's folder comes first on the path, and its name would hide the
# `settlement` package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import asyncpg  # noqa: E402

from exchange.db.embedded import EmbeddedPostgres  # noqa: E402
from exchange.db.migrate import migrate  # noqa: E402
from exchange.payments import ledger_store  # noqa: E402
from exchange.payments.ledger_writer import LedgerWriter  # noqa: E402
from settlement.ledger import (  # noqa: E402
    Account,
    AccountId,
    AccountKind,
    Cause,
    Outcome,
    Result,
    Transfer,
    TransferFlags,
    TransferId,
)

BANK, FEES = AccountId(1), AccountId(2)
CAUSE = Cause(kind="bench", reference="settlement")


def _accounts(clients: int, hot: int) -> tuple[list[Account], list[AccountId], list[AccountId]]:
    own = [AccountId(100 + n) for n in range(clients)]
    escrows = [AccountId(10 + n) for n in range(hot)]
    accounts = [
        Account(id=BANK, currency="EUR", kind=AccountKind.CLEARING, limited=False),
        Account(id=FEES, currency="EUR", kind=AccountKind.REVENUE, limited=False),
        *(Account(id=a, currency="EUR", kind=AccountKind.ESCROW, limited=True) for a in escrows),
        *(Account(id=a, currency="EUR", kind=AccountKind.AVAILABLE, limited=True) for a in own),
    ]
    return accounts, own, escrows


_IDS = itertools.count(1_000_000)  # fresh transfer ids, across both phases


class Run:
    def __init__(self, escrows: list[AccountId]) -> None:
        self.ids = _IDS
        self.escrows = escrows
        self.done = 0
        self.refused = 0

    def transfer(self, rng: random.Random, own: AccountId) -> Transfer:
        escrow = rng.choice(self.escrows)
        # mostly payments into escrow; a tenth are fees out of escrow (hot on both sides)
        debit, credit = (escrow, FEES) if rng.random() < 0.1 else (own, escrow)
        return Transfer(
            id=TransferId(next(self.ids)), debit_account=debit, credit_account=credit,
            amount=rng.randint(1, 100), currency="EUR", cause=CAUSE, flags=TransferFlags.NONE,
        )  # fmt: skip

    async def client(
        self, pool: asyncpg.Pool, own: AccountId, batch: int, until: float, seed: int
    ) -> None:
        rng = random.Random(seed)
        async with pool.acquire() as conn:
            while time.monotonic() < until:
                self._count(
                    await ledger_store.execute(
                        conn, [self.transfer(rng, own) for _ in range(batch)]
                    )
                )

    async def writer_client(
        self, writer: LedgerWriter, own: AccountId, batch: int, until: float, seed: int
    ) -> None:
        rng = random.Random(seed)
        while time.monotonic() < until:
            self._count(await writer.execute([self.transfer(rng, own) for _ in range(batch)]))

    def _count(self, outcomes: list[Outcome]) -> None:
        ok = sum(1 for o in outcomes if o.result is Result.OK and not o.replayed)
        self.done += ok
        self.refused += len(outcomes) - ok


async def _phase(
    pool: asyncpg.Pool, own, escrows, batch: int, seconds: float, writer_callers: int = 0
) -> tuple[int, int]:
    """Transfers a second and refusals: `batch` transfers a call, each call its own
    transaction, or (`writer_callers` per account) through the group-committing writer."""
    run = Run(escrows)
    until = time.monotonic() + seconds
    started = time.monotonic()
    if not writer_callers:
        await asyncio.gather(
            *(run.client(pool, account, batch, until, n) for n, account in enumerate(own))
        )
    else:
        writer = LedgerWriter(pool)
        writer.start()
        await asyncio.gather(
            *(run.writer_client(writer, account, batch, until, n * 1000 + k)
              for n, account in enumerate(own) for k in range(writer_callers))
        )  # fmt: skip
        await writer.stop()
    elapsed = time.monotonic() - started
    return round(run.done / elapsed), run.refused


async def _invariants(conn: asyncpg.Connection) -> str:
    check = await ledger_store.trial_balance(conn)
    return (
        f"invariants {'hold' if check.holds else 'BROKEN'}: sum posted {check.posted}, sum"
        f" pending {check.pending}, least limited balance {check.least_limited}, balances"
        f" unlike their transfers {len(check.unlike_transfers)}, transfers stored"
        f" {check.transfers}"
    )


async def main(args: argparse.Namespace, folder: Path) -> None:
    server = EmbeddedPostgres(folder)
    dsn = await asyncio.to_thread(server.start)
    try:
        async with asyncpg.create_pool(dsn, min_size=args.clients, max_size=args.clients) as pool:
            async with pool.acquire() as conn:
                await migrate(conn)
                accounts, own, escrows = _accounts(args.clients, args.hot)
                await ledger_store.open_accounts(conn, accounts)
                funding = [
                    Transfer(id=TransferId(n + 1), debit_account=BANK, credit_account=a,
                             amount=10**12, currency="EUR", cause=CAUSE)
                    for n, a in enumerate(own + escrows)
                ]  # fmt: skip
                await ledger_store.execute(conn, funding)
            single, refused_single = await _phase(pool, own, escrows, 1, args.seconds)
            batched, refused_batched = await _phase(pool, own, escrows, args.batch, args.seconds)
            grouped, refused_grouped = await _phase(
                pool, own, escrows, 1, args.seconds, args.writer_clients
            )
            batched_grouped, refused_batched_grouped = await _phase(
                pool, own, escrows, args.batch, args.seconds, 1
            )
            async with pool.acquire() as conn:
                verdict = await _invariants(conn)
    finally:
        await asyncio.to_thread(server.stop)
    print(f"single: {single:,} transfers/s ({args.clients} clients, one transfer a call,"
          f" {refused_single} refused)")  # fmt: skip
    print(f"batched: {batched:,} transfers/s ({args.clients} clients, {args.batch} a call,"
          f" {refused_batched} refused)")  # fmt: skip
    print(f"group commit: {grouped:,} transfers/s ({args.clients * args.writer_clients} clients,"
          f" one transfer a call, through one writer; {refused_grouped} refused)")  # fmt: skip
    print(f"batched group commit: {batched_grouped:,} transfers/s ({args.clients} clients,"
          f" {args.batch} a call, through one writer;"
          f" {refused_batched_grouped} refused)")  # fmt: skip
    print(verdict)
    print(f"single_per_sec={single} batched_per_sec={batched} group_commit_per_sec={grouped}"
          f" batched_group_commit_per_sec={batched_grouped}"
          f" clients={args.clients}"
          f" hot_accounts={args.hot} batch={args.batch} seconds={args.seconds}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--hot", type=int, default=4, help="hot escrow accounts")
    parser.add_argument("--batch", type=int, default=100, help="transfers a call when batched")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    parser.add_argument(
        "--writer-clients", type=int, default=16, help="callers per account through the writer"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    arguments = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-settlement-"))
    try:
        asyncio.run(main(arguments, scratch))
    finally:
        if arguments.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
