"""`MarketData`: the `MarketFeed` the book writers call, and the live state it keeps.

`book_loaded` and `committed` run on the writer's hot path: they are synchronous, do no I/O,
update the committed L2 view and hand encoded messages to the hub, which never waits on a
client. Ticker and candle messages need 24-hour statistics from SQL, so the feed only marks
them dirty and a refresher task publishes them at most every `refresh_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from aiohttp import web

from exchange.db import Queryable
from exchange.market import stats
from exchange.market.calc import floor_time
from exchange.market.feed import CommittedBatch, LevelUpdate
from exchange.market.hub import ChannelKey, Client, Hub, encode
from exchange.market.l2 import BookView
from exchange.market.user import OpenOrders
from exchange.messages.contracts import Contract, ContractStatus
from exchange.messages.market import (
    BookSnapshot,
    BookUpdate,
    CandlesUpdate,
    Channel,
    ChannelName,
    ContractNotice,
    Heartbeat,
    Interval,
    Level,
    Subscribed,
    TickerUpdate,
    TradesUpdate,
    Unsubscribed,
    UserSnapshot,
    UserUpdate,
)
from exchange.messages.orders import Fill, Order, PublicTrade, Side
from exchange.metrics import Metrics
from exchange.reference import CommoditySpec

log = structlog.get_logger("exchange.market")
MINUTE = timedelta(minutes=1)
RECENT_TRADES = 50


def levels_of(spec: CommoditySpec | None, levels: Iterable[tuple[int, int]]) -> list[Level]:
    if spec is None:
        return []
    return [Level(price=spec.price_text(p), quantity=spec.quantity_text(q)) for p, q in levels]


class MarketData:
    """Committed L2 views, recent trades and the WebSocket hub; implements `MarketFeed`."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        queue_limit: int = 1000,
        queue_bytes: int = 8 * 1024 * 1024,
        heartbeat_interval: float = 1.0,
        refresh_interval: float = 0.2,
        close_grace: float = 5.0,
    ) -> None:
        self.hub = Hub(metrics, queue_limit, queue_bytes, close_grace)
        self.heartbeat_interval = heartbeat_interval
        self.refresh_interval = refresh_interval
        self.specs: dict[str, CommoditySpec] = {}
        self.views: dict[str, BookView] = {}
        self._recent: dict[str, deque[PublicTrade]] = {}
        self._snapshots: dict[str, tuple[int, bytes]] = {}
        self._dirty_tickers: set[str] = set()
        self._dirty_candles: dict[str, set[datetime]] = {}
        self._dirty = asyncio.Event()
        self.open_orders = OpenOrders()
        self._pool: asyncpg.Pool | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._voiding: set[asyncio.Task[None]] = set()

    # -- life cycle ------------------------------------------------------------------------

    async def start(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._tasks = [
            asyncio.create_task(self._heartbeats(), name="market-heartbeat"),
            asyncio.create_task(self._refresher(), name="market-refresher"),
        ]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._voiding]:
            task.cancel()
        for task in [*self._tasks, *self._voiding]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._voiding.clear()

    # -- MarketFeed ------------------------------------------------------------------------

    def book_loaded(
        self,
        commodity: CommoditySpec,
        sequence: int,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
    ) -> None:
        try:
            code = commodity.code
            self.specs[code] = commodity
            self.views[code] = BookView(sequence, bids, asks)
            self._snapshots.pop(code, None)
            key: ChannelKey = (ChannelName.BOOK, code)
            if self.hub.has_subscribers(key):
                self.hub.next_sequence(key)
                self.hub.publish(key, self.book_snapshot(code))
            self._mark(code, ())
        except Exception:
            log.exception("market data could not take a loaded book", commodity=commodity.code)

    def committed(self, commodity: CommoditySpec, batch: CommittedBatch) -> None:
        try:
            self._committed(commodity, batch)
        except Exception:  # market data must never break the writer
            log.exception(
                "market data could not publish a batch",
                commodity=commodity.code,
                sequence=batch.sequence,
            )

    def _committed(self, spec: CommoditySpec, batch: CommittedBatch) -> None:
        code = spec.code
        self.specs[code] = spec
        view = self.views.get(code)
        if view is None:
            view = self.views[code] = BookView()
        view.apply(batch.sequence, batch.levels)
        self._snapshots.pop(code, None)
        if batch.levels:
            self._publish_levels(spec, view.sequence, batch.levels)
        if batch.trades:
            self._publish_trades(code, batch.trades)
        if batch.orders or batch.fills:
            self._publish_user(code, batch)
        if batch.levels or batch.trades:
            self._mark(code, {floor_time(t.executed_at, MINUTE) for t in batch.trades})

    def _publish_levels(
        self, spec: CommoditySpec, sequence: int, levels: list[LevelUpdate]
    ) -> None:
        key: ChannelKey = (ChannelName.BOOK, spec.code)
        if not self.hub.has_subscribers(key):
            return
        final = {(u.side, u.price_ticks): u.quantity_lots for u in levels}  # last one wins
        bids = [(p, q) for (side, p), q in final.items() if side is Side.BUY]
        asks = [(p, q) for (side, p), q in final.items() if side is Side.SELL]
        message = BookUpdate(
            commodity=spec.code,
            sequence=self.hub.next_sequence(key),
            book_sequence=sequence,
            bids=levels_of(spec, bids),
            asks=levels_of(spec, asks),
        )
        self.hub.publish(key, encode(message))

    def _publish_trades(self, code: str, trades: list[PublicTrade]) -> None:
        recent = self._recent.get(code)
        if recent is not None:
            recent.extend(trades)
        key: ChannelKey = (ChannelName.TRADES, code)
        if self.hub.has_subscribers(key):
            message = TradesUpdate(
                commodity=code, sequence=self.hub.next_sequence(key), trades=trades
            )
            self.hub.publish(key, encode(message))

    def _publish_user(self, code: str, batch: CommittedBatch) -> None:
        changes: dict[int, tuple[list[Order], list[Fill]]] = {}
        for pid, order in batch.orders:
            changes.setdefault(pid, ([], []))[0].append(order)
        for pid, fill in batch.fills:
            changes.setdefault(pid, ([], []))[1].append(fill)
        for pid, (orders, fills) in changes.items():
            if orders:
                self.open_orders.published(pid, orders)
            key: ChannelKey = (ChannelName.USER, pid)
            if self.hub.has_subscribers(key):
                message = UserUpdate(
                    commodity=code,
                    sequence=self.hub.next_sequence(key),
                    book_sequence=batch.sequence,
                    orders=orders,
                    fills=fills,
                )
                self.hub.publish(key, encode(message))

    def contract_changed(self, event: str, contract: Contract) -> None:
        for pid in {contract.buyer_id, contract.seller_id}:
            key: ChannelKey = (ChannelName.USER, pid)
            if self.hub.has_subscribers(key):
                notice = ContractNotice(
                    sequence=self.hub.next_sequence(key), event=event, contract=contract
                )
                self.hub.publish(key, encode(notice))
        trade = contract.terms.trade
        if contract.status is ContractStatus.REJECTED and trade is not None:
            task = asyncio.create_task(self._trade_voided(contract.commodity, trade.trade_id))
            self._voiding.add(task)
            task.add_done_callback(self._voiding.discard)

    async def _trade_voided(self, code: str, trade_id: int) -> None:
        """A trade's contract was rejected: show it void and take it out of the statistics."""
        try:
            spec = self.specs.get(code)
            if spec is None or self._pool is None:
                return
            trade = await stats.tape_entry(self._pool, spec, trade_id)
            if trade is None:
                return
            recent = self._recent.get(code)
            if recent is not None:
                self._recent[code] = deque(
                    (trade if t.id == trade_id else t for t in recent), maxlen=RECENT_TRADES
                )
            key: ChannelKey = (ChannelName.TRADES, code)
            if self.hub.has_subscribers(key):
                message = TradesUpdate(
                    commodity=code, sequence=self.hub.next_sequence(key), trades=[trade]
                )
                self.hub.publish(key, encode(message))
            self._mark(code, {floor_time(trade.executed_at, MINUTE)})
        except Exception:  # the rejection stands; the statistics read SQL and are right anyway
            log.exception("market data could not void a trade", commodity=code, trade=trade_id)

    def _mark(self, code: str, minutes: Iterable[datetime]) -> None:
        """Ask the refresher for a new ticker (and candles for `minutes`) if anyone listens."""
        if self.hub.has_subscribers((ChannelName.TICKER, code)):
            self._dirty_tickers.add(code)
            self._dirty.set()
        if minutes and self.hub.has_subscribers((ChannelName.CANDLES, code)):
            self._dirty_candles.setdefault(code, set()).update(minutes)
            self._dirty.set()

    # -- reading -----------------------------------------------------------------------------

    def view(self, code: str) -> BookView:
        return self.views.get(code) or BookView()

    async def spec(self, conn: Queryable, code: str) -> CommoditySpec | None:
        """The commodity's spec, from the cache or the database (None: no such commodity)."""
        spec = self.specs.get(code)
        if spec is None:
            spec = await stats.find_spec(conn, code)
            if spec is not None:
                spec = self.specs.setdefault(code, spec)
        return spec

    def book_snapshot(self, code: str) -> bytes:
        """The encoded snapshot of the book channel at its current sequence (cached)."""
        sequence = self.hub.sequence((ChannelName.BOOK, code))
        cached = self._snapshots.get(code)
        if cached is not None and cached[0] == sequence:
            return cached[1]
        view = self.view(code)
        bids, asks = view.depth()
        spec = self.specs.get(code)
        payload = encode(
            BookSnapshot(
                commodity=code,
                sequence=sequence,
                book_sequence=view.sequence,
                bids=levels_of(spec, bids),
                asks=levels_of(spec, asks),
            )
        )
        self._snapshots[code] = (sequence, payload)
        return payload

    # -- subscriptions -------------------------------------------------------------------------

    def connect(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        pid: int,
        key_id: int,
    ) -> Client:
        return self.hub.connect(ws, transport, pid, key_id)

    async def disconnect(self, client: Client) -> None:
        await self.hub.disconnect(client)

    async def prepare(self, spec: CommoditySpec) -> None:
        """Load the recent trades of a commodity once, so trade snapshots survive restarts."""
        if spec.code in self._recent or self._pool is None:
            return
        loaded = await stats.tape(self._pool, spec, None, RECENT_TRADES)
        if spec.code in self._recent:
            return
        # trades published while we waited may also be in `loaded`: merge by id
        merged = {t.id: t for t in reversed(loaded)}
        self._recent[spec.code] = deque((merged[i] for i in sorted(merged)), maxlen=RECENT_TRADES)

    async def subscribe(self, client: Client, channels: list[Channel]) -> None:
        """Read the open orders for a `user` snapshot, then subscribe (see `_subscribe`)."""
        orders: list[Order] = []
        if any(channel.name is ChannelName.USER for channel in channels):
            if self._pool is None:
                raise RuntimeError("market data is not started")
            pid, specs = client.participant_id, list(self.specs.values())
            orders = await self.open_orders.read(self._pool, pid, specs)
        # no await from here on: the user snapshot is exact at this moment only
        self._subscribe(client, channels, orders)

    def _subscribe(self, client: Client, channels: list[Channel], orders: list[Order]) -> None:
        """Subscribe and queue the acknowledgement, then each channel's snapshot."""
        client.send(encode(Subscribed(channels=channels)))
        for channel in channels:
            key = self.channel_key(client, channel)
            self.hub.subscribe(client, key)
            code = channel.commodity or ""
            if channel.name is ChannelName.BOOK:
                client.send(self.book_snapshot(code))
            elif channel.name is ChannelName.TRADES:
                trades = list(self._recent.get(code, ()))
                message = TradesUpdate(
                    commodity=code, sequence=self.hub.sequence(key), trades=trades
                )
                client.send(encode(message))
            elif channel.name is ChannelName.TICKER:
                self._dirty_tickers.add(code)
                self._dirty.set()
            elif channel.name is ChannelName.CANDLES:
                self._dirty_candles.setdefault(code, set())
                self._dirty.set()
            elif channel.name is ChannelName.USER:
                snapshot = UserSnapshot(sequence=self.hub.sequence(key), orders=orders)
                client.send(encode(snapshot))

    def unsubscribe(self, client: Client, channels: list[Channel]) -> None:
        for channel in channels:
            self.hub.unsubscribe(client, self.channel_key(client, channel))
        client.send(encode(Unsubscribed(channels=channels)))

    @staticmethod
    def channel_key(client: Client, channel: Channel) -> ChannelKey:
        if channel.name in (ChannelName.USER, ChannelName.NODE, ChannelName.RFQS):
            return (channel.name, client.participant_id)  # only ever one's own
        return (channel.name, channel.commodity)

    async def close_all(self, grace: float) -> None:
        await self.hub.close_all(grace)

    # -- background ----------------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        key: ChannelKey = (ChannelName.HEARTBEAT, None)
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            if self.hub.has_subscribers(key):
                message = Heartbeat(sequence=self.hub.next_sequence(key), time=datetime.now(UTC))
                self.hub.publish(key, encode(message))

    async def _refresher(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            tickers, self._dirty_tickers = self._dirty_tickers, set()
            candles, self._dirty_candles = self._dirty_candles, {}
            try:
                await self._refresh_tickers(tickers)
                for code, minutes in candles.items():
                    await self._refresh_candles(code, minutes)
            except Exception:  # keep refreshing: a failed round must not end the task
                log.exception("market data refresh failed")
            await asyncio.sleep(self.refresh_interval)

    async def _refresh_tickers(self, codes: set[str]) -> None:
        specs = [self.specs[code] for code in codes if code in self.specs]
        if not specs or self._pool is None:
            return
        found = await stats.trade_stats(self._pool, [spec.id for spec in specs])
        for spec in specs:
            key: ChannelKey = (ChannelName.TICKER, spec.code)
            ticker = stats.ticker_of(spec, found[spec.id], self.views.get(spec.code))
            if self.hub.has_subscribers(key):
                message = TickerUpdate(
                    commodity=spec.code, sequence=self.hub.next_sequence(key), ticker=ticker
                )
                self.hub.publish(key, encode(message))

    async def _refresh_candles(self, code: str, minutes: set[datetime]) -> None:
        """Publish the current state of the changed minutes (or the latest one on subscribe)."""
        spec = self.specs.get(code)
        key: ChannelKey = (ChannelName.CANDLES, code)
        if spec is None or self._pool is None or not self.hub.has_subscribers(key):
            return
        if not minutes:
            latest = await stats.latest_trade_time(self._pool, spec)
            minutes = {floor_time(latest, MINUTE)} if latest is not None else set()
        found = []
        if minutes:
            found = await stats.candles(
                self._pool, spec, MINUTE, min(minutes), max(minutes) + MINUTE
            )
        left = {candle.start for candle in found}
        message = CandlesUpdate(
            commodity=code,
            sequence=self.hub.next_sequence(key),
            interval=Interval.MINUTE,
            candles=found,
            removed=sorted(minute for minute in minutes if minute not in left),
        )
        self.hub.publish(key, encode(message))
