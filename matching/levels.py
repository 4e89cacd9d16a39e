"""Price levels and their FIFO queues of resting orders: the engine's hot data structures.

A level's queue is a doubly linked list of its orders, so an order leaves it in O(1) from
anywhere (cancel, fill, self-trade prevention) without scanning. A side keeps its prices in a
plain sorted list of keys with the best price last, so the best level is ``keys[-1]`` and
emptying it is a ``pop()``: books have few price levels and most activity is at the top.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

from matching.types import SelfTradePrevention, Side, TimeInForce, Timestamp
from matching.views import OpenOrder, PriceLevel


def plain_class_options(*_: str, **__: object) -> Any:
    """Stand in for mypyc_attr where mypy is not installed: the options only matter to mypyc."""
    return lambda cls: cls


try:
    from mypy_extensions import mypyc_attr
except ImportError:
    mypyc_attr = plain_class_options


#: A value the hot path only compares and hands on (ids, owners, regions, a command's sequence
#: and timestamp). Typed Any so that mypyc keeps the command's own int object: every event and
#: dict operation then reuses it instead of allocating a new int. Its real type is the one
#: named beside it.
Boxed = Any


# Orders and levels are "acyclic" for mypyc: the garbage collector does not track them, which
# saved ~10% of the hot path's time (it kept walking every resting order). They do form cycles
# while an order rests (prev/next, order.level/level.head), so whoever drops a populated book
# must break them: BookSide.clear, called when a book is deleted.
@mypyc_attr(acyclic=True)
class Order:
    """A resting (or incoming) order and its place in its level's queue."""

    def __init__(
        self,
        order_id: Boxed,  # OrderId
        owner: Boxed,  # ParticipantId
        is_buy: bool,
        price: int,
        remaining: int,
        min_fill: int,
        tif: TimeInForce,
        expires_at: Timestamp | None,
        region: Boxed,  # RegionId
        client_ref: str,
        stp: SelfTradePrevention,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.is_buy = is_buy
        self.price = price
        self.remaining = remaining
        self.min_fill = min_fill
        self.tif = tif
        self.expires_at = expires_at
        self.region = region
        self.client_ref = client_ref
        self.stp = stp
        self.prev: Order | None = None
        self.next: Order | None = None
        self.level: Level | None = None

    def view(self) -> OpenOrder:
        """Return the order as an immutable query answer."""
        return OpenOrder(
            order_id=self.order_id,
            owner=self.owner,
            side=Side.BUY if self.is_buy else Side.SELL,
            price=self.price,
            quantity=self.remaining,
            time_in_force=self.tif,
            min_fill=self.min_fill,
            expires_at=self.expires_at,
            region=self.region,
            client_ref=self.client_ref,
            self_trade=self.stp,
        )


@mypyc_attr(acyclic=True)
class Level:
    """All resting orders at one price on one side, oldest first."""

    def __init__(self, price: int, is_buy: bool) -> None:
        self.price = price
        self.price_box: Boxed = price  # boxed once, for the events that carry it
        self.is_buy = is_buy
        self.quantity = 0
        self.count = 0
        self.head: Order | None = None
        self.tail: Order | None = None

    def append(self, order: Order) -> None:
        """Queue ``order`` at the back of the level."""
        tail = self.tail
        order.prev = tail
        order.next = None
        order.level = self
        if tail is None:
            self.head = order
        else:
            tail.next = order
        self.tail = order
        self.quantity += order.remaining
        self.count += 1

    def unlink(self, order: Order) -> None:
        """Take ``order`` out of the queue; the caller has already settled its quantity."""
        prev = order.prev
        nxt = order.next
        if prev is None:
            self.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            self.tail = prev
        else:
            nxt.prev = prev
        order.prev = None
        order.next = None
        self.count -= 1


class BookSide:
    """One side of a book: levels by price, and their prices sorted best-last."""

    def __init__(self, is_buy: bool) -> None:
        self.is_buy = is_buy
        # Bids are keyed by price and asks by -price, so that on both sides the best price
        # has the largest key and sits at the end of the list.
        self.keys: list[int] = []
        self.levels: dict[int, Level] = {}

    def add_level(self, price: int) -> Level:
        """Create the (new) level for ``price``."""
        level = Level(price, self.is_buy)
        self.levels[price] = level
        key = price if self.is_buy else -price
        keys = self.keys
        if not keys or key > keys[-1]:
            keys.append(key)
        else:
            insort(keys, key)
        return level

    def remove_level(self, level: Level) -> None:
        """Forget an empty level."""
        price = level.price
        del self.levels[price]
        key = price if self.is_buy else -price
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    def clear(self) -> None:
        """Unlink every order and level, so that reference counting alone frees them."""
        for level in self.levels.values():
            order = level.head
            while order is not None:
                following = order.next
                order.prev = None
                order.next = None
                order.level = None
                order = following
            level.head = None
            level.tail = None
        self.levels.clear()
        self.keys.clear()

    def best_price(self) -> int | None:
        """Return the best price on this side, or None if it is empty."""
        keys = self.keys
        if not keys:
            return None
        key = keys[-1]
        return key if self.is_buy else -key

    def depth(self, limit: int) -> list[PriceLevel]:
        """Return up to ``limit`` levels, best first."""
        result: list[PriceLevel] = []
        keys = self.keys
        i = len(keys) - 1
        while i >= 0 and len(result) < limit:
            key = keys[i]
            level = self.levels[key if self.is_buy else -key]
            result.append(
                PriceLevel(price=level.price, quantity=level.quantity, orders=level.count)
            )
            i -= 1
        return result

    def orders(self) -> list[Order]:
        """Return all orders in priority order: best price first, then queue order."""
        result: list[Order] = []
        keys = self.keys
        i = len(keys) - 1
        while i >= 0:
            key = keys[i]
            order = self.levels[key if self.is_buy else -key].head
            while order is not None:
                result.append(order)
                order = order.next
            i -= 1
        return result
