"""A deliberately simple reference order book: one list of orders, sorted on every use.

It shares no code with the engine, so the stateful test can hold them against each other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from matching.types import SelfTradePrevention, TimeInForce

Trade = tuple[int, int, int, int]  # maker id, taker id, price, quantity


@dataclass
class RefOrder:
    """One order of the reference book."""

    order_id: int
    owner: int
    is_buy: bool
    price: int
    remaining: int
    min_fill: int
    tif: TimeInForce
    expires_at: int | None
    stp: SelfTradePrevention
    priority: int = 0


@dataclass
class Outcome:
    """What one command did in the reference book."""

    trades: list[Trade] = field(default_factory=list)
    cancelled: list[tuple[int, int]] = field(default_factory=list)  # order id, quantity
    rejected: bool = False


class ReferenceBook:
    """Orders in a dict; each side sorted by (price, arrival) whenever it is needed."""

    def __init__(self) -> None:
        self.orders: dict[int, RefOrder] = {}
        self.clock = 0
        self.halted = False

    def side(self, is_buy: bool) -> list[RefOrder]:
        """Return one side in priority order."""
        orders = [o for o in self.orders.values() if o.is_buy == is_buy]
        return sorted(orders, key=lambda o: (-o.price if is_buy else o.price, o.priority))

    def place(self, order: RefOrder) -> Outcome:
        """Place a new order."""
        if self.halted or order.order_id in self.orders:
            return Outcome(rejected=True)
        if order.tif is TimeInForce.FOK:
            trial = copy.deepcopy(self)
            trial_order = copy.copy(order)
            trial.take(trial_order, Outcome())
            if trial_order.remaining:
                return Outcome(rejected=True)
        outcome = Outcome()
        self.enter(order, outcome)
        return outcome

    def enter(self, order: RefOrder, outcome: Outcome) -> None:
        """Match an order and rest or cancel the remainder."""
        stopped = self.take(order, outcome)
        if order.remaining == 0:
            return
        crossed = any(
            o.price <= order.price if order.is_buy else o.price >= order.price
            for o in self.side(not order.is_buy)
        )
        if stopped or crossed or order.tif in (TimeInForce.IOC, TimeInForce.FOK):
            outcome.cancelled.append((order.order_id, order.remaining))
            return
        self.clock += 1
        order.priority = self.clock
        self.orders[order.order_id] = order

    def take(self, taker: RefOrder, outcome: Outcome) -> bool:
        """Trade ``taker`` against the other side; True if self-trade prevention stopped it."""
        for maker in self.side(not taker.is_buy):
            if taker.remaining == 0:
                break
            crosses = maker.price <= taker.price if taker.is_buy else maker.price >= taker.price
            if not crosses:
                break
            size = min(taker.remaining, maker.remaining)
            if size < maker.min_fill and size != maker.remaining:
                continue
            if size < taker.min_fill and size != taker.remaining:
                continue
            if maker.owner == taker.owner:
                if taker.stp is not SelfTradePrevention.CANCEL_INCOMING:
                    del self.orders[maker.order_id]
                    outcome.cancelled.append((maker.order_id, maker.remaining))
                if taker.stp is not SelfTradePrevention.CANCEL_RESTING:
                    return True
                continue
            maker.remaining -= size
            taker.remaining -= size
            outcome.trades.append((maker.order_id, taker.order_id, maker.price, size))
            if maker.remaining == 0:
                del self.orders[maker.order_id]
        return False

    def cancel(self, order_id: int, owner: int) -> Outcome:
        """Cancel an open order."""
        order = self.orders.get(order_id)
        if order is None or order.owner != owner:
            return Outcome(rejected=True)
        del self.orders[order_id]
        return Outcome(cancelled=[(order_id, order.remaining)])

    def amend(self, order_id: int, owner: int, price: int | None, quantity: int | None) -> Outcome:
        """Amend an open order: reducing keeps priority, anything else re-enters it."""
        order = self.orders.get(order_id)
        if self.halted or order is None or order.owner != owner:
            return Outcome(rejected=True)
        new_price = order.price if price is None else price
        new_quantity = order.remaining if quantity is None else quantity
        if new_price == order.price and new_quantity <= order.remaining:
            order.remaining = new_quantity
            return Outcome()
        del self.orders[order_id]
        order.price = new_price
        order.remaining = new_quantity
        outcome = Outcome()
        self.enter(order, outcome)
        return outcome

    def expire(self, now: int) -> Outcome:
        """Cancel the GTD orders due at ``now``, earliest first."""
        due = [o for o in self.orders.values() if o.expires_at is not None and o.expires_at <= now]
        due.sort(key=lambda o: (o.expires_at, o.order_id))
        for order in due:
            del self.orders[order.order_id]
        return Outcome(cancelled=[(o.order_id, o.remaining) for o in due])
