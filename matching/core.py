"""The matching core: price-time priority, minimum fills and self-trade prevention.

This is the hot path of the engine (compiled with mypyc when available). It appends events to
the caller's list instead of returning new lists, and emits at most one level update per level
per command.
"""

from __future__ import annotations

from heapq import heappush
from typing import Final

from matching.config import BookConfig
from matching.events import (
    BookLevelChanged,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    TradeExecuted,
)
from matching.levels import BookSide, Boxed, Level, Order
from matching.types import (
    CancelReason,
    OrderId,
    SelfTradePrevention,
    Sequence,
    Side,
    TimeInForce,
    Timestamp,
    TradeId,
)

# Module-level finals live in C statics under mypyc: the hot path neither looks up a global
# name nor an enum member on each use. Events are built with positional arguments (see
# matching.events), in the order of their fields.
BUY: Final = Side.BUY
SELL: Final = Side.SELL
GTC: Final = TimeInForce.GTC
GTD: Final = TimeInForce.GTD
IOC: Final = TimeInForce.IOC
FOK: Final = TimeInForce.FOK
CANCEL_RESTING: Final = SelfTradePrevention.CANCEL_RESTING
CANCEL_INCOMING: Final = SelfTradePrevention.CANCEL_INCOMING
CANCEL_BOTH: Final = SelfTradePrevention.CANCEL_BOTH
SELF_TRADE: Final = CancelReason.SELF_TRADE
IOC_REMAINDER: Final = CancelReason.IOC_REMAINDER
WOULD_CROSS: Final = CancelReason.WOULD_CROSS
ACCEPTED: Final = OrderAccepted
REJECTED: Final = OrderRejected
TRADED: Final = TradeExecuted
CANCELLED: Final = OrderCancelled
LEVEL_CHANGED: Final = BookLevelChanged


class BookCore:
    """State of one commodity's book and the matching that changes it."""

    def __init__(self, config: BookConfig) -> None:
        self.config = config
        self.commodity = config.commodity
        self.tick_size = config.tick_size
        self.lot_size = config.lot_size
        self.min_quantity = config.min_quantity
        self.bids = BookSide(True)
        self.asks = BookSide(False)
        self.orders: dict[OrderId, Order] = {}
        # GTD orders by (expires_at, order_id); entries of orders that left the book early
        # stay until their time comes and are skipped then (cheaper than removing them).
        self.expiry: list[tuple[Timestamp, OrderId]] = []
        self.halted = False
        self.sequence = Sequence(0)
        self.next_trade_id = 1
        self.traded_quantity = 0

    def __del__(self) -> None:
        # Orders and levels are invisible to the cycle collector (see matching.levels).
        self.bids.clear()
        self.asks.clear()

    def _execute(self, order: Order, seq: Boxed, ts: Boxed, out: list[Event], new: bool) -> None:
        """Match an accepted order as taker, then rest or cancel what is left of it."""
        price = order.price
        stopped = False
        if order.is_buy:
            keys = self.asks.keys
            if keys and -keys[-1] <= price:
                stopped = self._match(order, self.asks, seq, ts, out)
                crossed = bool(keys) and -keys[-1] <= price
            else:
                crossed = False
        else:
            keys = self.bids.keys
            if keys and keys[-1] >= price:
                stopped = self._match(order, self.bids, seq, ts, out)
                crossed = bool(keys) and keys[-1] >= price
            else:
                crossed = False
        remaining = order.remaining
        if remaining == 0:
            return
        tif = order.tif
        if stopped or crossed or tif is IOC or tif is FOK:
            if stopped:
                reason = SELF_TRADE
            elif tif is IOC or tif is FOK:
                reason = IOC_REMAINDER
            else:
                reason = WOULD_CROSS
            out.append(CANCELLED(seq, ts, order.order_id, order.owner, remaining, reason))
            return
        self._rest(order, seq, ts, out, new)

    def _rest(self, order: Order, seq: Boxed, ts: Boxed, out: list[Event], new: bool) -> None:
        """Queue ``order`` at the back of its price level."""
        price = order.price
        side = self.bids if order.is_buy else self.asks
        level = side.levels.get(price)
        if level is None:
            level = side.add_level(price)
        level.append(order)
        self.orders[order.order_id] = order
        expires_at = order.expires_at
        if new and expires_at is not None:
            heappush(self.expiry, (expires_at, order.order_id))
        side_name = BUY if order.is_buy else SELL
        out.append(LEVEL_CHANGED(seq, ts, side_name, level.price_box, level.quantity))

    def load(self, order: Order) -> None:
        """Queue an order without matching it or emitting events, to rebuild a snapshot."""
        side = self.bids if order.is_buy else self.asks
        level = side.levels.get(order.price)
        if level is None:
            level = side.add_level(order.price)
        level.append(order)
        self.orders[order.order_id] = order
        if order.expires_at is not None:
            heappush(self.expiry, (order.expires_at, order.order_id))

    def _match(
        self, taker: Order, opposite: BookSide, seq: Boxed, ts: Boxed, out: list[Event]
    ) -> bool:
        """Trade ``taker`` against ``opposite``, best level first; True if STP stopped it."""
        keys = opposite.keys
        levels = opposite.levels
        limit = taker.price
        is_buy = taker.is_buy
        side = SELL if is_buy else BUY
        i = len(keys) - 1
        while i >= 0:
            key = keys[i]
            if is_buy:
                price = -key
                if price > limit:
                    break
            else:
                price = key
                if price < limit:
                    break
            level = levels[price]
            before = level.quantity
            stopped = self._match_level(taker, level, seq, ts, out)
            after = level.quantity
            if after != before:
                out.append(LEVEL_CHANGED(seq, ts, side, level.price_box, after))
            if level.head is None:
                del levels[price]
                del keys[i]
            if stopped:
                return True
            if taker.remaining == 0:
                return False
            i -= 1
        return False

    def _match_level(
        self, taker: Order, level: Level, seq: Boxed, ts: Boxed, out: list[Event]
    ) -> bool:
        """Trade ``taker`` against one level's queue; True if STP stopped it."""
        remaining = taker.remaining
        taker_min = taker.min_fill
        owner = taker.owner
        maker = level.head
        while maker is not None:
            following = maker.next
            available = maker.remaining
            size = remaining if remaining < available else available
            # An order refuses a trade below its minimum fill unless the trade completes it;
            # a refused resting order is skipped without losing its place.
            if (size < maker.min_fill and size != available) or (
                size < taker_min and size != remaining
            ):
                maker = following
                continue
            if maker.owner == owner:
                if self._prevent_self_trade(taker, maker, level, seq, ts, out):
                    taker.remaining = remaining
                    return True
                maker = following
                continue
            available -= size
            remaining -= size
            maker.remaining = available
            level.quantity -= size
            self._trade(taker, maker, level.price_box, size, remaining, seq, ts, out)
            if available == 0:
                level.unlink(maker)
                del self.orders[maker.order_id]
            if remaining == 0:
                break
            maker = following
        taker.remaining = remaining
        return False

    def _trade(
        self,
        taker: Order,
        maker: Order,
        price: Boxed,
        size: int,
        taker_remaining: int,
        seq: Boxed,
        ts: Boxed,
        out: list[Event],
    ) -> None:
        """Record one trade at the maker's price."""
        trade_id = self.next_trade_id
        self.next_trade_id = trade_id + 1
        self.traded_quantity += size
        if taker.is_buy:
            side = BUY
            buyer_region = taker.region
            seller_region = maker.region
        else:
            side = SELL
            buyer_region = maker.region
            seller_region = taker.region
        out.append(
            TRADED(
                seq,
                ts,
                TradeId(trade_id),
                maker.order_id,
                taker.order_id,
                maker.owner,
                taker.owner,
                side,  # taker_side
                price,
                size,
                buyer_region,
                seller_region,
                maker.remaining,
                taker_remaining,
            )
        )

    def _prevent_self_trade(
        self, taker: Order, maker: Order, level: Level, seq: Boxed, ts: Boxed, out: list[Event]
    ) -> bool:
        """Apply the taker's self-trade prevention mode; True if the taker must stop."""
        mode = taker.stp
        if mode is not CANCEL_INCOMING:
            level.quantity -= maker.remaining
            self._drop(maker)
            out.append(
                CANCELLED(
                    sequence=seq,
                    timestamp=ts,
                    order_id=maker.order_id,
                    owner=maker.owner,
                    quantity=maker.remaining,
                    reason=SELF_TRADE,
                )
            )
        return mode is not CANCEL_RESTING

    def _drop(self, order: Order) -> None:
        """Take an order out of its level and the id index (the level may be left empty)."""
        level = order.level
        assert level is not None
        level.unlink(order)
        del self.orders[order.order_id]

    def _fillable(self, order: Order) -> bool:
        """Whether ``order`` could fill completely now: a dry run of ``match``, for FOK."""
        is_buy = order.is_buy
        limit = order.price
        min_fill = order.min_fill
        owner = order.owner
        opposite = self.asks if is_buy else self.bids
        keys = opposite.keys
        remaining = order.remaining
        i = len(keys) - 1
        while i >= 0:
            key = keys[i]
            price = -key if is_buy else key
            if (price > limit) if is_buy else (price < limit):
                return False
            maker = opposite.levels[price].head
            while maker is not None:
                available = maker.remaining
                size = remaining if remaining < available else available
                refused = (size < maker.min_fill and size != available) or (
                    size < min_fill and size != remaining
                )
                if not refused:
                    if maker.owner == owner:
                        if order.stp is not CANCEL_RESTING:
                            return False
                    else:
                        remaining -= size
                        if remaining == 0:
                            return True
                maker = maker.next
            i -= 1
        return False
