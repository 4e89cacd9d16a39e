"""Group commit for the ledger: one task takes the calls of many clients and applies them in
one transaction, as the book writers do for orders.

A call is answered only after the transaction that holds it committed. Each call's transfers
apply as if they came alone (their chains are their own), so one client's refused transfer
never fails another's; a failure of the database fails the calls of that transaction, which
may be retried with the same transfer ids.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import asyncpg

from exchange.payments import ledger_store
from settlement.ledger import Outcome, Transfer

MAX_CALLS = 500  # calls in one transaction at most


class LedgerWriter:
    """The one task of a process that writes ledger transfers."""

    def __init__(self, pool: asyncpg.Pool, max_calls: int = MAX_CALLS) -> None:
        self._pool = pool
        self._max_calls = max_calls
        self._queue: asyncio.Queue[tuple[Sequence[Transfer], asyncio.Future[list[Outcome]]]]
        self._queue = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0  # transactions written: fewer than calls when calls arrive together

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-writer")

    async def stop(self) -> None:
        """Finish the calls queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def execute(self, transfers: Sequence[Transfer]) -> list[Outcome]:
        """Apply a batch of transfers; answered once it is committed."""
        if self._task is None:
            raise RuntimeError("the ledger writer is not running")
        future: asyncio.Future[list[Outcome]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((transfers, future))
        return await future

    async def _run(self) -> None:
        while True:
            calls = [await self._queue.get()]
            while len(calls) < self._max_calls and not self._queue.empty():
                calls.append(self._queue.get_nowait())
            try:
                async with self._pool.acquire() as conn:
                    results = await ledger_store.execute_many(conn, [c[0] for c in calls])
            except Exception as exc:  # the database's failure is each call's to see
                for _, future in calls:
                    if not future.done():
                        future.set_exception(exc)
            else:
                self.commits += 1
                for (_, future), outcomes in zip(calls, results, strict=True):
                    if not future.done():
                        future.set_result(outcomes)
            finally:
                for _ in calls:
                    self._queue.task_done()
