"""One commodity's order book: the command handlers, queries and snapshot of the engine."""

from __future__ import annotations

from heapq import heappop
from typing import Final

from msgspec.structs import astuple

from matching.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    ExpireOrders,
    HaltBook,
    PlaceOrder,
    ResumeBook,
)
from matching.core import (
    ACCEPTED,
    BUY,
    CANCEL_BOTH,
    CANCEL_INCOMING,
    CANCEL_RESTING,
    CANCELLED,
    FOK,
    GTC,
    GTD,
    IOC,
    LEVEL_CHANGED,
    REJECTED,
    SELL,
    BookCore,
)
from matching.events import (
    BookHalted,
    BookResumed,
    Event,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
)
from matching.levels import Boxed, Level, Order
from matching.types import (
    CancelReason,
    CommodityId,
    OrderId,
    ParticipantId,
    RejectReason,
    Sequence,
    Timestamp,
)
from matching.views import Depth, OpenOrder

ASTUPLE: Final = astuple
PLACE: Final = PlaceOrder
CANCEL: Final = CancelOrder
BY_OWNER: Final = CancelReason.BY_OWNER
UNKNOWN_ORDER: Final = RejectReason.UNKNOWN_ORDER


def check_members(side: object, tif: object, stp: object) -> None:
    """Raise TypeError unless the enums of a PlaceOrder are enum members, not plain strings.

    The hot path compares enum members by identity, so a plain "buy" would silently be a
    sell; decoding and typed code always produce members, so this is a programming error.
    """
    if (
        (side is not BUY and side is not SELL)
        or (tif is not GTC and tif is not IOC and tif is not GTD and tif is not FOK)
        or (stp is not CANCEL_RESTING and stp is not CANCEL_INCOMING and stp is not CANCEL_BOTH)
    ):
        raise TypeError(f"PlaceOrder needs enum members, got {side!r}, {tif!r}, {stp!r}")


class Book(BookCore):
    """A deterministic price-time order book for one commodity.

    Command methods append the events they cause to ``out`` (so that a batch of commands
    collects its events in one list) and never raise for a bad command: a refusal is an
    ``OrderRejected`` event with a reason.
    """

    def apply(self, command: Command, out: list[Event]) -> None:
        """Apply any command, appending its events to ``out``."""
        if isinstance(command, PLACE):
            self.place_order(command, out)
        elif isinstance(command, CANCEL):
            self.cancel_order(command, out)
        elif isinstance(command, AmendOrder):
            self.amend_order(command, out)
        elif isinstance(command, ExpireOrders):
            self.expire_orders(command, out)
        elif isinstance(command, HaltBook):
            self.halt(command, out)
        else:
            self.resume(command, out)

    def apply_batch(self, commands: list[Command], out: list[Event]) -> None:
        """Apply commands in order, appending all their events to ``out``."""
        for command in commands:
            self.apply(command, out)

    def place_order(self, command: PlaceOrder, out: list[Event]) -> None:
        """Validate and match a new order; rest what is left unless it is IOC or FOK."""
        # One C call instead of a dozen attribute lookups; PlaceOrder's field order is pinned
        # by a test.
        fields = ASTUPLE(command)
        seq: Boxed = fields[0]
        ts: Boxed = fields[1]
        self.sequence = seq
        check_members(fields[5], fields[8], fields[13])
        order = Order(
            fields[3],  # order_id
            fields[4],  # owner
            fields[5] is BUY,  # side
            fields[6],  # price
            fields[7],  # quantity
            fields[9],  # min_fill
            fields[8],  # time_in_force
            fields[10],  # expires_at
            fields[11],  # region
            fields[12],  # client_ref
            fields[13],  # self_trade
        )
        reason = self._place_refusal(fields[2], order, ts)
        if reason is None and order.tif is FOK and not self._fillable(order):
            reason = RejectReason.FOK_NOT_FILLABLE
        if reason is not None:
            out.append(REJECTED(seq, ts, fields[3], reason))
            return
        # order_id, owner, side, price, quantity, time_in_force
        out.append(
            ACCEPTED(seq, ts, fields[3], fields[4], fields[5], fields[6], fields[7], fields[8])
        )
        self._execute(order, seq, ts, out, True)

    def _place_refusal(self, commodity: Boxed, order: Order, now: Boxed) -> RejectReason | None:
        """Return why a new order is refused, or None if it is valid."""
        if commodity != self.commodity:
            return RejectReason.UNKNOWN_COMMODITY
        if self.halted:
            return RejectReason.HALTED
        price = order.price
        quantity = order.remaining
        if price <= 0 or price % self.tick_size != 0:
            return RejectReason.BAD_TICK
        if quantity <= 0 or quantity % self.lot_size != 0:
            return RejectReason.BAD_LOT
        if quantity < self.min_quantity:
            return RejectReason.BELOW_MINIMUM
        if order.min_fill < 0 or order.min_fill > quantity:
            return RejectReason.BAD_MIN_FILL
        expires_at = order.expires_at
        if (order.tif is GTD) != (expires_at is not None) or (
            expires_at is not None and expires_at <= now
        ):
            return RejectReason.BAD_EXPIRY
        if order.order_id in self.orders:
            return RejectReason.DUPLICATE_ORDER_ID
        return None

    def cancel_order(self, command: CancelOrder, out: list[Event]) -> None:
        """Cancel an open order on its owner's behalf."""
        fields = ASTUPLE(command)  # sequence, timestamp, commodity, order_id, owner
        seq: Boxed = fields[0]
        ts: Boxed = fields[1]
        order_id: Boxed = fields[3]
        self.sequence = seq
        # One dict operation on the way in: pop, and put back in the rare refused case.
        order = self.orders.pop(order_id, None)
        if order is None or order.owner != fields[4] or fields[2] != self.commodity:
            if order is not None:
                self.orders[order_id] = order
            reason = self._order_refusal(fields[2], order_id, fields[4], False)
            out.append(REJECTED(seq, ts, order_id, reason or UNKNOWN_ORDER))
            return
        level = order.level
        assert level is not None
        level.quantity -= order.remaining
        level.unlink(order)
        out.append(CANCELLED(seq, ts, order_id, order.owner, order.remaining, BY_OWNER))
        self._level_changed(level, seq, ts, out)

    def _order_refusal(
        self, commodity: Boxed, order_id: Boxed, owner: Boxed, amend: bool
    ) -> RejectReason | None:
        """Return why a cancel or amend of ``order_id`` is refused, or None."""
        if commodity != self.commodity:
            return RejectReason.UNKNOWN_COMMODITY
        if amend and self.halted:
            return RejectReason.HALTED
        order = self.orders.get(order_id)
        # Someone else's order is reported as unknown, so ids of others leak nothing.
        if order is None or order.owner != owner:
            return RejectReason.UNKNOWN_ORDER
        return None

    def _level_changed(self, level: Level, seq: Boxed, ts: Boxed, out: list[Event]) -> None:
        """Publish a level's new quantity, and forget the level if it is empty."""
        side = BUY if level.is_buy else SELL
        out.append(LEVEL_CHANGED(seq, ts, side, level.price_box, level.quantity))
        if level.head is None:
            (self.bids if level.is_buy else self.asks).remove_level(level)

    def amend_order(self, command: AmendOrder, out: list[Event]) -> None:
        """Reduce an order in place (keeps priority), or re-queue it at a new price or size."""
        seq = command.sequence
        ts = command.timestamp
        self.sequence = seq
        order_id = command.order_id
        reason = self._order_refusal(command.commodity, order_id, command.owner, True)
        order = self.orders.get(order_id)
        price = quantity = 0
        if reason is None and order is not None:
            price = order.price if command.price is None else command.price
            quantity = order.remaining if command.quantity is None else command.quantity
            if price <= 0 or price % self.tick_size != 0:
                reason = RejectReason.BAD_TICK
            elif quantity <= 0 or quantity % self.lot_size != 0:
                reason = RejectReason.BAD_LOT
        if reason is not None or order is None:
            out.append(
                OrderRejected(
                    sequence=seq,
                    timestamp=ts,
                    order_id=order_id,
                    reason=reason or RejectReason.UNKNOWN_ORDER,
                )
            )
            return
        self._reprice(order, price, quantity, seq, ts, out)

    def _reprice(
        self,
        order: Order,
        price: int,
        quantity: int,
        seq: Sequence,
        ts: Timestamp,
        out: list[Event],
    ) -> None:
        """Carry out a validated amendment of a resting order."""
        level = order.level
        assert level is not None
        keeps = price == order.price and quantity <= order.remaining
        out.append(
            OrderAmended(
                sequence=seq,
                timestamp=ts,
                order_id=order.order_id,
                price=price,
                quantity=quantity,
                priority_kept=keeps,
            )
        )
        if keeps:
            level.quantity -= order.remaining - quantity
            order.remaining = quantity
            self._level_changed(level, seq, ts, out)
            return
        level.quantity -= order.remaining
        if price == order.price:
            # A bigger order at the same price goes to the back of its own level.
            level.unlink(order)
            order.remaining = quantity
            level.append(order)
            self._level_changed(level, seq, ts, out)
        else:
            self._drop(order)
            self._level_changed(level, seq, ts, out)
            order.price = price
            order.remaining = quantity
            self._execute(order, seq, ts, out, False)

    def expire_orders(self, command: ExpireOrders, out: list[Event]) -> None:
        """Cancel every GTD order whose time has come at the command's timestamp."""
        seq = command.sequence
        now = command.timestamp
        self.sequence = seq
        if command.commodity != self.commodity:
            out.append(
                OrderRejected(
                    sequence=seq,
                    timestamp=now,
                    order_id=None,
                    reason=RejectReason.UNKNOWN_COMMODITY,
                )
            )
            return
        heap = self.expiry
        touched: dict[Level, None] = {}
        while heap and heap[0][0] <= now:
            expires_at, order_id = heappop(heap)
            order = self.orders.get(order_id)
            # Stale entry: the order left the book, or its id was reused by a later order.
            if order is None or order.expires_at != expires_at:
                continue
            level = order.level
            assert level is not None
            level.quantity -= order.remaining
            self._drop(order)
            touched[level] = None
            out.append(
                OrderCancelled(
                    sequence=seq,
                    timestamp=now,
                    order_id=order_id,
                    owner=order.owner,
                    quantity=order.remaining,
                    reason=CancelReason.EXPIRED,
                )
            )
        for level in touched:
            self._level_changed(level, seq, now, out)

    def halt(self, command: HaltBook, out: list[Event]) -> None:
        """Stop accepting orders and amendments."""
        if self._book_command_ok(command.sequence, command.timestamp, command.commodity, out):
            self.halted = True
            out.append(BookHalted(sequence=command.sequence, timestamp=command.timestamp))

    def resume(self, command: ResumeBook, out: list[Event]) -> None:
        """Accept orders again after a halt."""
        if self._book_command_ok(command.sequence, command.timestamp, command.commodity, out):
            self.halted = False
            out.append(BookResumed(sequence=command.sequence, timestamp=command.timestamp))

    def _book_command_ok(
        self, seq: Sequence, ts: Timestamp, commodity: CommodityId, out: list[Event]
    ) -> bool:
        """Record the sequence and check the commodity of a book-wide command."""
        self.sequence = seq
        if commodity == self.commodity:
            return True
        out.append(
            OrderRejected(
                sequence=seq, timestamp=ts, order_id=None, reason=RejectReason.UNKNOWN_COMMODITY
            )
        )
        return False

    # Queries.

    def best_bid(self) -> int | None:
        """Return the highest bid price, or None."""
        return self.bids.best_price()

    def best_ask(self) -> int | None:
        """Return the lowest ask price, or None."""
        return self.asks.best_price()

    def depth(self, levels: int) -> Depth:
        """Return up to ``levels`` L2 levels of each side, best first."""
        return Depth(bids=self.bids.depth(levels), asks=self.asks.depth(levels))

    def order(self, order_id: OrderId) -> OpenOrder | None:
        """Return an open order by id, or None if it is not (or no longer) open."""
        order = self.orders.get(order_id)
        return None if order is None else order.view()

    def open_orders(self, owner: ParticipantId) -> list[OpenOrder]:
        """Return a participant's open orders by order id.

        A scan of the open orders: a per-owner index would cost every order on the hot path
        for a query the service answers from its own store.
        """
        mine = [order.view() for order in self.orders.values() if order.owner == owner]
        mine.sort(key=lambda view: view.order_id)
        return mine
