"""One writer per book: drain a queue in batches, group-commit, then answer and publish."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import msgspec
import structlog

from exchange.audit import AuditRecord
from exchange.contracts.issue import issue_contracts
from exchange.contracts.signing import Signer
from exchange.errors import UnavailableError
from exchange.market.feed import CommittedBatch, MarketFeed
from exchange.messages.orders import Order
from exchange.orders import store
from exchange.orders.gate import SUSPENDED_REASON, TradingGate, resting_orders
from exchange.orders.projection import NewOrder, Projection, global_id
from exchange.orders.recovery import load_book, new_book
from exchange.orders.views import fills_of, order_from_new, order_from_row, public_trade
from exchange.reference import CommoditySpec
from matching import (
    AmendOrder,
    Book,
    CancelOrder,
    Command,
    Event,
    ExpireOrders,
    HaltBook,
    OrderCancelled,
    PlaceOrder,
    ResumeBook,
)
from matching.snapshot import snapshot
from matching.types import CommodityId, OrderId, ParticipantId, Sequence, Timestamp

log = structlog.get_logger("exchange.orders")

MAX_BATCH = 2000
_ENCODER = msgspec.msgpack.Encoder()
CommandT = TypeVar("CommandT", bound=Command)


@dataclass(slots=True)
class Placed:
    order: Order


@dataclass(slots=True)
class Duplicate:
    """The client_order_id was taken already (by an earlier request, or one in this batch)."""


@dataclass(slots=True)
class Changed:
    order: Order | None  # None for book commands (halt, resume)


@dataclass(slots=True)
class Refused:
    reason: str


Outcome = Placed | Duplicate | Changed | Refused


@dataclass(slots=True)
class Submission:
    """A command waiting for its batch; `command` lacks sequence, timestamp (and order id).

    Without a command it only asks for a batch: the gate is checked and the answer is that
    the batch committed. `reason` replaces the engine's reason for a cancel (the engine only
    knows cancels on the owner's behalf)."""

    command: Command | None
    participant_id: int = 0
    client_order_id: str = ""
    request_hash: bytes = b""
    region_code: str | None = None
    future: asyncio.Future[Outcome] | None = None
    order_id: int = 0
    queued: bool = True  # False for the writer's own commands (expiry, suspension cancels)
    reason: str | None = None
    audit: AuditRecord | None = None  # written with the batch if the command took effect


@dataclass(slots=True)
class _Batch:
    subs: list[Submission]
    commands: list[tuple[Submission, Command]] = field(default_factory=list)
    outcomes: list[tuple[Submission, Outcome]] = field(default_factory=list)


class BookWriter:
    """Owns one commodity's book; the only task that changes it or its journal."""

    def __init__(
        self,
        spec: CommoditySpec,
        pool: asyncpg.Pool,
        feed: MarketFeed,
        region_codes: Callable[[], dict[int, str]],
        signer: Signer,
        snapshot_every: int = 100_000,
    ) -> None:
        self.spec = spec
        self._signer = signer
        self._snapshot_every = snapshot_every
        self._pool = pool
        self._feed = feed
        self._region_codes = region_codes
        self._queue: asyncio.Queue[Submission] = asyncio.Queue()
        self.book: Book = new_book(spec.id)
        self.sequence = 0
        self._snapshot_sequence = 0
        self._next_local = 1
        self._last_ns = 0
        self._task: asyncio.Task[None] | None = None
        self._gate = TradingGate()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild the book from the latest snapshot plus the journal, then start writing."""
        async with self._pool.acquire() as conn:
            loaded = await load_book(conn, self.spec)
        self.book = loaded.book
        self.sequence = loaded.sequence
        self._snapshot_sequence = loaded.snapshot_sequence
        self._next_local = loaded.next_local
        depth = self.book.depth(1 << 30)
        self._feed.book_loaded(
            self.spec,
            self.sequence,
            [(level.price, level.quantity) for level in depth.bids],
            [(level.price, level.quantity) for level in depth.asks],
        )
        self._task = asyncio.create_task(self._run(), name=f"book-writer-{self.spec.code}")

    async def stop(self) -> None:
        """Finish what is queued, stop, and leave a snapshot so the next start is quick."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.sequence > self._snapshot_sequence:
            await self._snapshot()

    # -- submitting -----------------------------------------------------------------------

    async def submit(self, submission: Submission) -> Outcome:
        """Queue a command and wait until its batch is committed."""
        if self._task is None:
            raise UnavailableError("the book is not running", code="BOOK_UNAVAILABLE")
        submission.future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(submission)
        return await submission.future

    # -- the loop -------------------------------------------------------------------------

    async def _next(self) -> Submission:
        """The next submission; an expiry command when the earliest GTD order is due."""
        if not self._queue.empty() or not self.book.expiry:
            return await self._queue.get()
        delay = (self.book.expiry[0][0] - time.time_ns()) / 1e9
        if delay > 0:
            try:
                return await asyncio.wait_for(self._queue.get(), delay)
            except TimeoutError:
                pass
        expire = ExpireOrders(
            sequence=Sequence(0), timestamp=Timestamp(0), commodity=CommodityId(self.spec.id)
        )
        return Submission(expire, queued=False)

    async def _run(self) -> None:
        while True:
            batch = [await self._next()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._process(batch)
            except Exception as exc:
                log.exception("batch failed; rebuilding the book", commodity=self.spec.code)
                for sub in batch:
                    if sub.future is not None and not sub.future.done():
                        sub.future.set_exception(
                            UnavailableError(f"not committed: {type(exc).__name__}")
                        )
                await self._rebuild()
            finally:
                for sub in batch:
                    if sub.queued:
                        self._queue.task_done()
            if self.sequence - self._snapshot_sequence >= self._snapshot_every:
                await self._snapshot()

    async def _rebuild(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as conn:
                    loaded = await load_book(conn, self.spec)
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.5)
                continue
            self.book = loaded.book
            self.sequence = loaded.sequence
            self._next_local = loaded.next_local
            self._gate = TradingGate()  # its sweep may not have committed: check afresh
            return

    def _stamp(self, command: CommandT, order_id: int = 0) -> CommandT:
        self.sequence += 1
        self._last_ns = max(time.time_ns(), self._last_ns)
        if order_id:
            return msgspec.structs.replace(
                command, sequence=self.sequence, timestamp=self._last_ns, order_id=order_id
            )
        return msgspec.structs.replace(command, sequence=self.sequence, timestamp=self._last_ns)

    async def _process(self, subs: list[Submission]) -> None:
        batch = _Batch([])
        projection = Projection(self.spec.id, self._region_codes())
        async with self._pool.acquire() as conn, conn.transaction():
            barred = await self._gate.check(conn)
            if barred:
                batch.subs += await self._sweep(conn, barred)
            for sub in subs:
                settled = self._settled(sub)
                if settled is None:
                    batch.subs.append(sub)
                else:
                    batch.outcomes.append((sub, settled))
            claimed = await self._claim(conn, batch)
            journal = self._apply(batch, claimed, projection)
            changed_rows = await store.write_batch(
                conn, self.spec.id, journal, projection.new.values(), projection.changed,
                projection.trades,
            )  # fmt: skip
            contracts = await issue_contracts(conn, self.spec, projection.trades, self._signer)
            await self._book_status(conn, batch)
            for sub, command in batch.commands:
                if sub.audit is not None and command.sequence not in projection.rejections:
                    await sub.audit.write(conn)
        self._answer(batch, projection, changed_rows)
        for contract in contracts:
            self._feed.contract_changed("created", contract)

    def _settled(self, sub: Submission) -> Outcome | None:
        """The outcome of a submission decided before the book sees it, if it is."""
        if sub.command is None:
            return Changed(None)  # the batch itself was the point
        if isinstance(sub.command, PlaceOrder | AmendOrder) and sub.command.owner in (
            self._gate.barred
        ):
            return Refused(SUSPENDED_REASON)
        return None

    def _apply(
        self, batch: _Batch, claimed: set[int], projection: Projection
    ) -> list[tuple[int, bytes]]:
        """Stamp and apply the batch's commands; return the journal entries."""
        events: list[Event] = []
        journal: list[tuple[int, bytes]] = []
        for sub in batch.subs:
            command: Command
            assert sub.command is not None
            if isinstance(sub.command, PlaceOrder):
                if sub.order_id not in claimed:
                    batch.outcomes.append((sub, Duplicate()))
                    continue
                placed = self._stamp(sub.command, sub.order_id)
                projection.add_order(
                    NewOrder(placed, sub.participant_id, sub.client_order_id, sub.region_code)
                )
                command = placed
            else:
                command = self._stamp(sub.command)
            batch.commands.append((sub, command))
            journal.append((command.sequence, _ENCODER.encode(command)))
            start = len(events)
            self.book.apply(command, events)
            for event in events[start:]:
                projection.apply(event)
                if sub.reason is not None and isinstance(event, OrderCancelled):
                    projection.relabel(event.order_id, sub.reason)
        return journal

    async def _sweep(self, conn: Any, barred: frozenset[int]) -> list[Submission]:
        """Cancels, through the journal, of the resting orders of newly barred participants."""
        subs = []
        for order_id, owner in await resting_orders(conn, self.spec.id, barred):
            if self.book.order(OrderId(order_id)) is None:
                continue
            cancel = CancelOrder(
                sequence=Sequence(0), timestamp=Timestamp(0), commodity=CommodityId(self.spec.id),
                order_id=OrderId(order_id), owner=ParticipantId(owner),
            )  # fmt: skip
            subs.append(Submission(cancel, queued=False, reason=SUSPENDED_REASON))
        if subs:
            log.info("cancelling suspended participants' orders", commodity=self.spec.code,
                     orders=len(subs))  # fmt: skip
        return subs

    async def _claim(self, conn: Any, batch: _Batch) -> set[int]:
        claims: list[tuple[int, str, int, bytes]] = []
        seen: set[tuple[int, str]] = set()
        for sub in batch.subs:
            if isinstance(sub.command, PlaceOrder):
                key = (sub.participant_id, sub.client_order_id)
                if key in seen:
                    continue  # the first of two in one batch wins; the other is a duplicate
                seen.add(key)
                sub.order_id = global_id(self.spec.id, self._next_local)
                self._next_local += 1
                claims.append((*key, sub.order_id, sub.request_hash))
        return await store.claim_client_ids(conn, claims)

    async def _book_status(self, conn: Any, batch: _Batch) -> None:
        for _, command in batch.commands:
            if isinstance(command, HaltBook | ResumeBook):
                status = "halted" if self.book.halted else "active"
                await store.set_trading_status(conn, self.spec.id, status)

    def _answer(
        self, batch: _Batch, projection: Projection, changed_rows: list[asyncpg.Record]
    ) -> None:
        spec = self.spec
        new_views = {oid: order_from_new(spec, new) for oid, new in projection.new.items()}
        changed_views = {row["id"]: order_from_row(spec, row) for row in changed_rows}
        for sub, command in batch.commands:
            if isinstance(command, PlaceOrder):
                outcome: Outcome = Placed(new_views[command.order_id])
            elif command.sequence in projection.rejections:
                outcome = Refused(projection.rejections[command.sequence])
            elif isinstance(command, CancelOrder | AmendOrder):
                view = changed_views.get(command.order_id) or new_views.get(command.order_id)
                outcome = Changed(view)
            else:
                outcome = Changed(None)
            batch.outcomes.append((sub, outcome))
        for sub, outcome in batch.outcomes:
            if sub.future is not None and not sub.future.done():
                sub.future.set_result(outcome)
        published = CommittedBatch(
            sequence=self.sequence,
            levels=projection.level_updates(),
            trades=[public_trade(spec, trade) for trade in projection.trades],
            orders=[(projection.new[oid].participant_id, view) for oid, view in new_views.items()]
            + [(row["participant_id"], changed_views[row["id"]]) for row in changed_rows],
            fills=[fill for trade in projection.trades for fill in fills_of(spec, trade)],
        )
        self._feed.committed(spec, published)

    async def _snapshot(self) -> None:
        state = snapshot(self.book)
        sequence = self.sequence
        try:
            await store.save_snapshot(self._pool, self.spec.id, sequence, state)
        except (OSError, asyncpg.PostgresError):
            log.warning("snapshot failed; will retry later", commodity=self.spec.code)
            return
        self._snapshot_sequence = sequence
