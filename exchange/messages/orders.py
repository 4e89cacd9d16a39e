"""Orders, fills and public trades on the wire."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import Code, DecimalText, PageQuery, Problem, Struct

ClientOrderId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="The participant's own id for the order; unique per participant for good",
    ),
]


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class TimeInForce(enum.StrEnum):
    GTC = "gtc"
    GTD = "gtd"
    IOC = "ioc"
    FOK = "fok"


class SelfTradePrevention(enum.StrEnum):
    CANCEL_RESTING = "cancel_resting"
    CANCEL_INCOMING = "cancel_incoming"
    CANCEL_BOTH = "cancel_both"


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"


class PlaceOrder(Struct, frozen=True, kw_only=True):
    """A supplier's offer (sell) or a buyer's demand (buy) at a limit price."""

    client_order_id: ClientOrderId
    commodity: Code
    side: Side
    price: DecimalText
    quantity: DecimalText
    time_in_force: TimeInForce = TimeInForce.GTC
    expires_at: datetime | None = None
    min_fill_quantity: DecimalText | None = None
    region: Code | None = None
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_RESTING

    def __post_init__(self) -> None:
        if (self.time_in_force is TimeInForce.GTD) != (self.expires_at is not None):
            raise ValueError("expires_at is required for gtd orders and only for them")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a time zone offset")


class AmendOrder(Struct, frozen=True, kw_only=True):
    """New limit price and/or new open quantity; a price change or an increase loses priority."""

    price: DecimalText | None = None
    quantity: DecimalText | None = None

    def __post_init__(self) -> None:
        if self.price is None and self.quantity is None:
            raise ValueError("give a new price, a new quantity, or both")


class PlaceOrders(Struct, frozen=True, kw_only=True):
    orders: Annotated[list[PlaceOrder], msgspec.Meta(min_length=1, max_length=1000)]


class Order(Struct, frozen=True, kw_only=True):
    id: int
    client_order_id: str
    commodity: str
    side: Side
    price: str
    quantity: str
    open_quantity: str
    filled_quantity: str
    time_in_force: TimeInForce
    min_fill_quantity: str | None
    expires_at: datetime | None
    region: str | None
    status: OrderStatus
    reason: str | None
    created_at: datetime
    updated_at: datetime


class OrderQuery(PageQuery, frozen=True, kw_only=True):
    participant_id: (
        Annotated[
            int, msgspec.Meta(ge=1, description="Operators: whose orders (default: everyone's)")
        ]
        | None
    ) = None
    status: OrderStatus | None = None
    commodity: Code | None = None
    side: Side | None = None


class Liquidity(enum.StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class Fill(Struct, frozen=True, kw_only=True):
    """One side of a trade, as its participant sees it."""

    trade_id: int
    order_id: int
    commodity: str
    side: Side
    price: str
    quantity: str
    liquidity: Liquidity
    counterparty_id: int
    region: str | None
    executed_at: datetime


class PublicTrade(Struct, frozen=True, kw_only=True):
    """A trade on the public tape: no party names. `void`: its contract was rejected, so the
    trade is not a deal in force and counts in no statistics."""

    id: int
    commodity: str
    price: str
    quantity: str
    taker_side: Side
    executed_at: datetime
    void: bool = False


class FillQuery(PageQuery, frozen=True, kw_only=True):
    commodity: Code | None = None


class BatchResult(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One order of a batch: `status` is the HTTP status it would have had on its own."""

    index: int
    status: int
    order: Order | None = None
    error: Problem | None = None


class BatchResults(Struct, frozen=True, kw_only=True):
    results: list[BatchResult]
