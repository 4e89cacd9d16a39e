"""One writer per book: drain a queue in batches, group-commit, then answer and publish."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import asyncpg
import msgspec
import structlog

from exchange.clock import Clock, SystemClock, nanoseconds
from exchange.contracts.issue import issue_contracts
from exchange.contracts.signing import Signer
from exchange.db.health import database_unavailable
from exchange.errors import DatabaseUnavailableError, UnavailableError
from exchange.ids import global_id
from exchange.market.feed import MarketFeed
from exchange.orders import store
from exchange.orders.answers import answer
from exchange.orders.gate import TradingGate, barred_orders
from exchange.orders.projection import NewOrder, Projection, trade_deal
from exchange.orders.recovery import LoadedBook, load_book, new_book
from exchange.orders.submission import (
    Batch,
    Changed,
    Committed,
    Duplicate,
    Outcome,
    Placed,
    Refused,
    Submission,
    answer_lost,
    fail,
    not_committed,
    rebuilding,
)
from exchange.reference import CommoditySpec
from matching import (
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

# the submission types are part of the writer's interface (order entry imports them here)
__all__ = ["BookWriter", "Changed", "Duplicate", "Outcome", "Placed", "Refused", "Submission"]

log = structlog.get_logger("exchange.orders")

MAX_BATCH = 2000
STOP_GRACE = 2.0  # seconds a stopping writer gives its queue (in-flight requests are done)
SNAPSHOT_TIMEOUT = 10.0
_ENCODER = msgspec.msgpack.Encoder()
CommandT = TypeVar("CommandT", bound=Command)


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
        on_database_lost: Callable[[], None] = lambda: None,
        clock: Clock | None = None,
    ) -> None:
        self.spec = spec
        self._clock = clock if clock is not None else SystemClock()
        self._on_database_lost = on_database_lost  # tells the rest of the center
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
        self._gate = TradingGate(spec.id)
        self._stopping = False
        self._clean = True  # no batch half-applied to the in-memory book
        self.available = True  # False until a rebuild succeeds: submissions get 503
        self._unavailable: Callable[[], Exception] = DatabaseUnavailableError

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Rebuild the book from the latest snapshot plus the journal, then start writing."""
        async with self._pool.acquire() as conn:
            self._adopt(await load_book(conn, self.spec))
        self._task = asyncio.create_task(self._run(), name=f"book-writer-{self.spec.code}")

    def _adopt(self, loaded: LoadedBook) -> None:
        """Take a book rebuilt from the database, and tell market information."""
        self.book = loaded.book
        self.sequence = loaded.sequence
        self._snapshot_sequence = loaded.snapshot_sequence
        self._next_local = loaded.next_local
        self._gate = TradingGate(self.spec.id)  # a failed batch's sweep did not commit
        depth = self.book.depth(1 << 30)
        self._feed.book_loaded(
            self.spec,
            self.sequence,
            [(level.price, level.quantity) for level in depth.bids],
            [(level.price, level.quantity) for level in depth.asks],
        )

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish what is queued (for at most `grace` seconds), stop, and leave a snapshot so
        the next start is quick; bounded even while the database is away."""
        if self._task is None:
            return
        self._stopping = True
        try:
            async with asyncio.timeout(grace if self.available else 0):
                await self._queue.join()
        except TimeoutError:
            log.warning("book writer stopping with commands unfinished", commodity=self.spec.code)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._fail_queued(
            lambda: UnavailableError("the center is stopping", code="BOOK_UNAVAILABLE")
        )
        # a book cut off mid-batch holds uncommitted effects: never snapshot that
        if self._clean and self.available and self.sequence > self._snapshot_sequence:
            try:
                async with asyncio.timeout(SNAPSHOT_TIMEOUT):
                    await self._snapshot()
            except TimeoutError:
                log.warning("no snapshot at stop: the database is slow", commodity=self.spec.code)

    # -- submitting -----------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Submissions waiting for the next batch."""
        return self._queue.qsize()

    async def submit(self, submission: Submission) -> Outcome:
        """Queue a command and wait until its batch is committed."""
        if self._task is None or self._stopping:
            raise UnavailableError("the book is not running", code="BOOK_UNAVAILABLE")
        if not self.available:
            raise self._unavailable()
        submission.future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(submission)
        return await submission.future

    # -- the loop -------------------------------------------------------------------------

    async def _next(self) -> Submission:
        """The next submission; an expiry command when the earliest GTD order is due."""
        if not self._queue.empty() or not self.book.expiry:
            return await self._queue.get()
        delay = (self.book.expiry[0][0] - nanoseconds(self._clock.now())) / 1e9
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
            self._clean = False
            try:
                await self._commit(batch)
            finally:
                for sub in batch:
                    if sub.queued:
                        self._queue.task_done()
            self._clean = True
            if self.sequence - self._snapshot_sequence >= self._snapshot_every:
                await self._snapshot()

    async def _commit(self, subs: list[Submission]) -> None:
        """Commit a batch; if it fails for any reason but the database being away, commit
        its commands one at a time so that only a faulty one fails."""
        try:
            done = await self._process(subs)
        except Exception as exc:
            if database_unavailable(exc):
                log.warning("database unavailable; batch not committed", error=repr(exc))
                self._pause(subs, DatabaseUnavailableError)
                await self._rebuild()
                return
            log.exception("batch failed; retrying its commands one by one", batch=len(subs))
            await self._rebuild(subs)
            await self._one_by_one(subs)
            return
        self._publish(done)

    async def _one_by_one(self, subs: list[Submission]) -> None:
        for index, sub in enumerate(subs):
            if sub.future is not None and sub.future.done():
                continue  # answered 503 while the rebuild waited for the database
            try:
                done = await self._process([sub])
            except Exception as exc:
                if database_unavailable(exc):
                    self._pause(subs[index:], DatabaseUnavailableError)
                    await self._rebuild()
                    return
                # the database refused this command alone: a bug to fix, not the others' fault
                log.exception("command not committed", command=type(sub.command).__name__)
                fail([sub], not_committed)
                await self._rebuild(subs[index + 1 :])
                continue
            self._publish(done)

    def _pause(self, subs: list[Submission], error: Callable[[], Exception]) -> None:
        """Until the book is rebuilt: answer these and everything queued with `error` (a
        503), and new submissions too, instead of letting them wait."""
        database_away = error is DatabaseUnavailableError
        if self.available or self._unavailable is not error:
            log.warning("book paused until rebuilt", commodity=self.spec.code, db=database_away)
        if database_away:
            self._on_database_lost()
        self.available = False
        self._unavailable = error
        fail(subs, error)
        self._fail_queued(error)

    def _fail_queued(self, error: Callable[[], Exception]) -> None:
        """Answer everything waiting in the queue with `error` instead of keeping it."""
        while not self._queue.empty():
            sub = self._queue.get_nowait()
            fail([sub], error)
            self._queue.task_done()

    async def _rebuild(self, waiting: list[Submission] | None = None) -> None:
        """Reload the book from the database. While the database is away, answer `waiting`
        and new submissions 503 and try again until it returns (cancellable at any time)."""
        delay = 0.1
        while True:
            try:
                async with self._pool.acquire() as conn:
                    loaded = await load_book(conn, self.spec)
            except Exception as exc:
                if database_unavailable(exc):
                    self._pause(waiting or [], DatabaseUnavailableError)
                else:
                    log.exception("book rebuild failed", commodity=self.spec.code)
                    self._pause(waiting or [], rebuilding)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self._adopt(loaded)
            if not self.available:
                log.info("book rebuilt; taking commands again", commodity=self.spec.code)
            self.available = True
            return

    def _stamp(self, command: CommandT, order_id: int = 0) -> CommandT:
        self.sequence += 1
        self._last_ns = max(nanoseconds(self._clock.now()), self._last_ns)
        if order_id:
            return msgspec.structs.replace(
                command, sequence=self.sequence, timestamp=self._last_ns, order_id=order_id
            )
        return msgspec.structs.replace(command, sequence=self.sequence, timestamp=self._last_ns)

    async def _process(self, subs: list[Submission]) -> Committed:
        batch = Batch([])
        projection = Projection(self.spec.id, self._region_codes())
        async with self._pool.acquire() as conn, conn.transaction():
            moved = await self._gate.check(conn)
            if moved:
                batch.subs += await self._sweep(conn, moved)
            await self._gate.learn(conn, [sub.command for sub in subs])
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
            deals = [trade_deal(self.spec, trade) for trade in projection.trades]
            contracts = await issue_contracts(conn, deals, self._signer)
            await self._book_status(conn, batch)
            for sub, command in batch.commands:
                if sub.audit is not None and command.sequence not in projection.rejections:
                    await sub.audit.write(conn)
        return Committed(batch, projection, changed_rows, contracts)

    def _publish(self, done: Committed) -> None:
        try:
            published = answer(
                self.spec, self.sequence, done.batch, done.projection, done.changed_rows
            )
            self._feed.committed(self.spec, published)
            for contract in done.contracts:
                self._feed.contract_changed("created", contract)
        except Exception:  # committed already: answer 500, never commit it again
            log.exception("answering a committed batch failed", commodity=self.spec.code)
            fail([sub for sub, _ in done.batch.outcomes] + done.batch.subs, answer_lost)

    def _settled(self, sub: Submission) -> Outcome | None:
        """The outcome of a submission decided before the book sees it, if it is."""
        if sub.command is None:
            return Changed(None)  # the batch itself was the point
        reason = self._gate.refusal(sub.command, self.book)
        return None if reason is None else Refused(reason)

    def _apply(
        self, batch: Batch, claimed: set[int], projection: Projection
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

    async def _sweep(self, conn: Any, moved: list[int]) -> list[Submission]:
        """Cancels, through the journal, of the resting orders of the participants the gate
        moved for that they may no longer trade (suspended, or the side's role removed)."""
        subs = []
        for order_id, owner, reason in await barred_orders(conn, self.spec.id, moved):
            if self.book.order(OrderId(order_id)) is None:
                continue
            cancel = CancelOrder(
                sequence=Sequence(0), timestamp=Timestamp(0), commodity=CommodityId(self.spec.id),
                order_id=OrderId(order_id), owner=ParticipantId(owner),
            )  # fmt: skip
            subs.append(Submission(cancel, queued=False, reason=reason))
        if subs:
            log.info("cancelling orders their owners may no longer trade",
                     commodity=self.spec.code, orders=len(subs))  # fmt: skip
        return subs

    async def _claim(self, conn: Any, batch: Batch) -> set[int]:
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

    async def _book_status(self, conn: Any, batch: Batch) -> None:
        for _, command in batch.commands:
            if isinstance(command, HaltBook | ResumeBook):
                status = "halted" if self.book.halted else "active"
                await store.set_trading_status(conn, self.spec.id, status)

    async def _snapshot(self) -> None:
        state = snapshot(self.book)
        sequence = self.sequence
        try:
            await store.save_snapshot(self._pool, self.spec.id, sequence, state)
        except (OSError, asyncpg.PostgresError):
            log.warning("snapshot failed; will retry later", commodity=self.spec.code)
            return
        self._snapshot_sequence = sequence
