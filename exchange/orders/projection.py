"""Turn a batch's engine events into rows: new orders, changes to resting ones, trades."""

from __future__ import annotations

from dataclasses import dataclass, field

from exchange.clock import ns_to_datetime
from exchange.contracts.deal import Deal, DealSource
from exchange.contracts.terms import TradeReference
from exchange.ids import global_id
from exchange.market.feed import LevelUpdate
from exchange.messages.orders import OrderStatus
from exchange.messages.orders import Side as WireSide
from exchange.reference import CommoditySpec
from matching import (
    BookLevelChanged,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    PlaceOrder,
    TradeExecuted,
)
from matching.types import CancelReason, Side


@dataclass(slots=True)
class NewOrder:
    """An order placed in this batch, with its state after the batch."""

    command: PlaceOrder
    participant_id: int
    client_order_id: str
    region_code: str | None
    price: int = 0
    quantity: int = 0
    open_lots: int = 0
    filled_lots: int = 0
    status: OrderStatus = OrderStatus.OPEN
    reason: str | None = None
    updated_ns: int = 0


@dataclass(slots=True)
class Change:
    """What the batch did to an order that was already stored."""

    open_lots: int
    filled_delta: int = 0
    status: OrderStatus | None = None  # None: open or partially filled, decided by fills
    reason: str | None = None
    price: int | None = None
    # after an amend: the order's quantity less what was filled before this batch (fills of
    # this batch up to the amend, plus the new open quantity). What comes after the amend
    # (fills, or a would_cross cancel) changes the open and filled quantities, not this.
    amended_quantity: int | None = None
    updated_ns: int = 0


@dataclass(slots=True)
class TradeRow:
    id: int
    sequence: int
    executed_ns: int
    price: int
    quantity: int
    taker_side: WireSide
    buy_order_id: int
    sell_order_id: int
    buyer_id: int
    seller_id: int
    buyer_region: str | None
    seller_region: str | None


def trade_deal(spec: CommoditySpec, trade: TradeRow) -> Deal:
    """The deal a trade is: what its contract is issued from."""
    executed = ns_to_datetime(trade.executed_ns)
    return Deal(
        source=DealSource.BOOK,
        source_id=trade.id,
        spec=spec,
        seller_id=trade.seller_id,
        buyer_id=trade.buyer_id,
        quantity=trade.quantity,
        price=trade.price,
        delivery_region=trade.buyer_region,
        origin_region=trade.seller_region,
        made_at=executed,
        trade=TradeReference(
            trade_id=trade.id,
            buy_order_id=trade.buy_order_id,
            sell_order_id=trade.sell_order_id,
            executed_at=executed,
        ),
    )


@dataclass(slots=True)
class Projection:
    """Accumulates one batch: apply events in journal order, then write the rows."""

    commodity_id: int
    region_codes: dict[int, str]
    new: dict[int, NewOrder] = field(default_factory=dict)
    changed: dict[int, Change] = field(default_factory=dict)
    trades: list[TradeRow] = field(default_factory=list)
    levels: dict[tuple[WireSide, int], int] = field(default_factory=dict)
    rejections: dict[int, str] = field(default_factory=dict)  # command sequence -> reason

    def add_order(self, new: NewOrder) -> None:
        new.price = new.command.price
        new.quantity = new.command.quantity
        self.new[new.command.order_id] = new

    def apply(self, event: Event) -> None:
        """Fold one engine event into the batch's rows."""
        if isinstance(event, TradeExecuted):
            self._trade(event)
        elif isinstance(event, BookLevelChanged):
            self.levels[(WireSide(event.side), event.price)] = event.quantity
        elif isinstance(event, OrderAccepted):
            order = self.new[event.order_id]
            order.open_lots = event.quantity
            order.updated_ns = event.timestamp
        elif isinstance(event, OrderCancelled):
            status = (
                OrderStatus.EXPIRED
                if event.reason is CancelReason.EXPIRED
                else OrderStatus.CANCELLED
            )
            self._close(event.order_id, status, str(event.reason), event.timestamp)
        elif isinstance(event, OrderAmended) and event.order_id in self.new:
            order = self.new[event.order_id]
            order.price = event.price
            order.quantity = order.filled_lots + event.quantity
            order.open_lots = event.quantity
            order.updated_ns = event.timestamp
        elif isinstance(event, OrderAmended):
            change = self._change(event.order_id, event.timestamp)
            change.open_lots = event.quantity
            change.price = event.price
            change.amended_quantity = change.filled_delta + event.quantity
        elif isinstance(event, OrderRejected):
            self.rejections[event.sequence] = str(event.reason)
            if event.order_id is not None and event.order_id in self.new:
                order = self.new[event.order_id]
                if order.command.sequence == event.sequence:
                    order.status = OrderStatus.REJECTED
                    order.reason = str(event.reason)
                    order.updated_ns = event.timestamp

    def relabel(self, order_id: int, reason: str) -> None:
        """Record why an order was cancelled when the engine's reason is not the whole story."""
        new = self.new.get(order_id)
        if new is not None:
            new.reason = reason
        elif order_id in self.changed:
            self.changed[order_id].reason = reason

    def _change(self, order_id: int, ns: int) -> Change:
        change = self.changed.get(order_id)
        if change is None:
            change = self.changed[order_id] = Change(open_lots=-1)
        change.updated_ns = ns
        return change

    def _fill(self, order_id: int, remaining: int, quantity: int, ns: int) -> None:
        new = self.new.get(order_id)
        if new is not None:
            new.open_lots = remaining
            new.filled_lots += quantity
            new.updated_ns = ns
            new.status = OrderStatus.FILLED if remaining == 0 else OrderStatus.PARTIALLY_FILLED
            return
        change = self._change(order_id, ns)
        change.open_lots = remaining
        change.filled_delta += quantity
        change.status = OrderStatus.FILLED if remaining == 0 else None

    def _close(self, order_id: int, status: OrderStatus, reason: str, ns: int) -> None:
        new = self.new.get(order_id)
        if new is not None:
            new.open_lots = 0
            new.status = status
            new.reason = reason
            new.updated_ns = ns
            return
        change = self._change(order_id, ns)
        change.open_lots = 0
        change.status = status
        change.reason = reason

    def _trade(self, event: TradeExecuted) -> None:
        taker_buys = event.taker_side is Side.BUY
        buy_id, sell_id = (
            (event.taker_order_id, event.maker_order_id)
            if taker_buys
            else (event.maker_order_id, event.taker_order_id)
        )
        buyer, seller = (
            (event.taker_owner, event.maker_owner)
            if taker_buys
            else (event.maker_owner, event.taker_owner)
        )
        self.trades.append(
            TradeRow(
                id=global_id(self.commodity_id, event.trade_id),
                sequence=event.sequence,
                executed_ns=event.timestamp,
                price=event.price,
                quantity=event.quantity,
                taker_side=WireSide(event.taker_side),
                buy_order_id=buy_id,
                sell_order_id=sell_id,
                buyer_id=buyer,
                seller_id=seller,
                buyer_region=self.region_codes.get(event.buyer_region),
                seller_region=self.region_codes.get(event.seller_region),
            )
        )
        self._fill(event.maker_order_id, event.maker_remaining, event.quantity, event.timestamp)
        self._fill(event.taker_order_id, event.taker_remaining, event.quantity, event.timestamp)

    def level_updates(self) -> list[LevelUpdate]:
        return [LevelUpdate(side, price, qty) for (side, price), qty in self.levels.items()]
