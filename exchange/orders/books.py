"""The running books: one writer per commodity, started at boot or on first use."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

import asyncpg
import structlog

from exchange.clock import Clock, SystemClock
from exchange.contracts.signing import Signer
from exchange.market.feed import MarketFeed
from exchange.orders.writer import BookWriter, Submission
from exchange.reference import CommoditySpec, load_specs

log = structlog.get_logger("exchange.orders")


class Books:
    """Writers by commodity code, and the region ids the engine uses."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        feed: MarketFeed,
        signer: Signer,
        snapshot_every: int = 100_000,
        on_database_lost: Callable[[], None] = lambda: None,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock if clock is not None else SystemClock()  # stamps every command
        self._pool = pool
        self._on_database_lost = on_database_lost
        self._signer = signer
        # journal entries between snapshots: bounds the replay at restart
        self._snapshot_every = snapshot_every
        self._feed = feed
        self._writers: dict[str, BookWriter] = {}
        self._by_id: dict[int, BookWriter] = {}
        self._lock = asyncio.Lock()
        self._region_ids: dict[str, int] = {}
        self._region_codes: dict[int, str] = {}
        # one per order being amended, alive while some request holds it
        self._order_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def start(self) -> None:
        """Rebuild every book from the database."""
        await self._load_regions()
        for spec in await load_specs(self._pool):
            await self._start_writer(spec)
        log.info("books loaded", books=len(self._writers))

    async def stop(self) -> None:
        """Stop every writer, side by side: each is bounded, so this is too."""
        await asyncio.gather(*(writer.stop() for writer in self._writers.values()))
        self._writers.clear()
        self._by_id.clear()

    async def _start_writer(self, spec: CommoditySpec) -> BookWriter:
        writer = BookWriter(
            spec,
            self._pool,
            self._feed,
            lambda: self._region_codes,
            self._signer,
            self._snapshot_every,
            self._on_database_lost,
            self.clock,
        )
        await writer.start()
        self._writers[spec.code] = writer
        self._by_id[spec.id] = writer
        return writer

    async def writer(self, code: str) -> BookWriter | None:
        """The writer of a commodity's book; None if there is no such commodity."""
        writer = self._writers.get(code)
        if writer is not None:
            return writer
        async with self._lock:
            if code in self._writers:
                return self._writers[code]
            spec = next((s for s in await load_specs(self._pool) if s.code == code), None)
            return None if spec is None else await self._start_writer(spec)

    def rebuilding(self) -> list[str]:
        """Codes of the books that take no commands until their rebuild succeeds (mostly:
        waiting for the database to return)."""
        return [code for code, writer in self._writers.items() if not writer.available]

    async def sync(self) -> None:
        """Run a batch in every book now, so each sees the trading gate as it is (and cancels
        the resting orders of participants suspended since); a book that cannot do so now
        does it in its next batch, before it matches anything."""
        writers = list(self._writers.values())
        results = await asyncio.gather(
            *(writer.submit(Submission(None)) for writer in writers), return_exceptions=True
        )
        for writer, result in zip(writers, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("book not synced", commodity=writer.spec.code, error=repr(result))

    def writer_by_id(self, commodity_id: int) -> BookWriter | None:
        """The writer of the book with this commodity id, if it runs."""
        return self._by_id.get(commodity_id)

    def spec_by_id(self, commodity_id: int) -> CommoditySpec:
        """The settings of a running book's commodity (every stored order or trade has one)."""
        return self._by_id[commodity_id].spec

    async def filter_id(self, code: str | None) -> int | None:
        """A commodity filter for a list: None for none, -1 (matches nothing) for no such code."""
        if code is None:
            return None
        writer = await self.writer(code)
        return writer.spec.id if writer is not None else -1

    def refresh(self, spec: CommoditySpec) -> None:
        """A commodity's settings changed (fees, minimum quantity): use them from now on."""
        writer = self._writers.get(spec.code)
        if writer is not None:
            writer.spec = spec

    def order_lock(self, order_id: int) -> asyncio.Lock:
        """Held while an order is checked and changed, so concurrent amends see each other."""
        lock = self._order_locks.get(order_id)
        if lock is None:
            lock = self._order_locks[order_id] = asyncio.Lock()
        return lock

    async def _load_regions(self) -> None:
        rows = await self._pool.fetch("SELECT id, code FROM regions")
        self._region_ids = {row["code"]: row["id"] for row in rows}
        self._region_codes = {row["id"]: row["code"] for row in rows}

    async def region_id(self, code: str) -> int | None:
        """The engine's id of a region code; None if there is no such region."""
        if code not in self._region_ids:
            await self._load_regions()
        return self._region_ids.get(code)
