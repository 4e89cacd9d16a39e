"""Market information on the wire: REST answers and the WebSocket protocol.

The protocol is described in docs/market-data.md.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated

import msgspec

from exchange.messages.common import Code, Struct
from exchange.messages.contracts import Contract
from exchange.messages.orders import Fill, Order, PublicTrade

Depth = Annotated[int, msgspec.Meta(ge=1, le=1000, description="Price levels per side")]


class Interval(enum.StrEnum):
    MINUTE = "1m"
    HOUR = "1h"
    DAY = "1d"


class Level(Struct, frozen=True, kw_only=True, array_like=True):
    """One aggregated price level, sent as `[price, quantity]`."""

    price: str
    quantity: str


class BookQuery(Struct, frozen=True, kw_only=True):
    depth: Depth | None = None


class Book(Struct, frozen=True, kw_only=True):
    """Aggregated depth as of the book's last committed batch (`sequence`)."""

    commodity: str
    sequence: int
    bids: list[Level]
    asks: list[Level]


class Ticker(Struct, frozen=True, kw_only=True):
    """Top of book, last trade and the statistics of the last 24 hours (null: no trade)."""

    commodity: str
    currency: str
    best_bid: str | None
    best_ask: str | None
    book_sequence: int
    last_price: str | None
    last_quantity: str | None
    last_trade_at: datetime | None
    open_24h: str | None
    high_24h: str | None
    low_24h: str | None
    change_24h: str | None
    volume_24h: str
    trades_24h: int


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} needs a time zone offset")


class CandleQuery(Struct, frozen=True, kw_only=True):
    interval: Interval = Interval.MINUTE
    start: datetime | None = msgspec.field(default=None, name="from")
    end: datetime | None = msgspec.field(default=None, name="to")

    def __post_init__(self) -> None:
        _aware(self.start, "from")
        _aware(self.end, "to")


class Candle(Struct, frozen=True, kw_only=True):
    """Open, high, low, close and volume of the trades in [start, start + interval)."""

    start: datetime
    open: str
    high: str
    low: str
    close: str
    volume: str
    trades: int


class Candles(Struct, frozen=True, kw_only=True):
    commodity: str
    interval: Interval
    candles: list[Candle]


class IndexQuery(Struct, frozen=True, kw_only=True):
    start: date | None = msgspec.field(default=None, name="from")
    end: date | None = msgspec.field(default=None, name="to")


class IndexPoint(Struct, frozen=True, kw_only=True):
    """The volume-weighted average price of one UTC day's trades."""

    date: date
    vwap: str
    volume: str
    trades: int


class PriceIndex(Struct, frozen=True, kw_only=True):
    commodity: str
    currency: str
    points: list[IndexPoint]


# -- WebSocket: what a client sends -------------------------------------------------------


class ChannelName(enum.StrEnum):
    BOOK = "book"
    TRADES = "trades"
    TICKER = "ticker"
    CANDLES = "candles"
    HEARTBEAT = "heartbeat"
    USER = "user"
    NODE = "node"  # a node's delivery tasks (docs/delivery.md)
    LISTINGS = "listings"  # a commodity's named listings (docs/negotiation.md)
    RFQS = "rfqs"  # RFQs open to the subscriber or its own, and their quotes (docs/negotiation.md)


MARKET_CHANNELS = frozenset(
    {ChannelName.BOOK, ChannelName.TRADES, ChannelName.TICKER, ChannelName.CANDLES}
)
COMMODITY_CHANNELS = MARKET_CHANNELS | {ChannelName.LISTINGS}


class Channel(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A channel: market channels name a commodity; `heartbeat` and `user` do not."""

    name: ChannelName
    commodity: Code | None = None

    def __post_init__(self) -> None:
        if (self.name in COMMODITY_CHANNELS) != (self.commodity is not None):
            raise ValueError(
                "commodity is required for book, trades, ticker, candles and listings, and not"
                " allowed for heartbeat, user, node and rfqs"
            )


Channels = Annotated[list[Channel], msgspec.Meta(min_length=1, max_length=50)]


class Subscribe(Struct, frozen=True, kw_only=True, tag_field="type", tag="subscribe"):
    channels: Channels


class Unsubscribe(Struct, frozen=True, kw_only=True, tag_field="type", tag="unsubscribe"):
    channels: Channels


ClientMessage = Subscribe | Unsubscribe


# -- WebSocket: what the server sends ------------------------------------------------------


class ServerMessage(Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class Subscribed(ServerMessage, frozen=True, kw_only=True, tag="subscribed"):
    channels: list[Channel]


class Unsubscribed(ServerMessage, frozen=True, kw_only=True, tag="unsubscribed"):
    channels: list[Channel]


class BookSnapshot(ServerMessage, frozen=True, kw_only=True, tag="book_snapshot"):
    """The whole committed book; replaces whatever the client held."""

    commodity: str
    sequence: int
    book_sequence: int
    bids: list[Level]
    asks: list[Level]


class BookUpdate(ServerMessage, frozen=True, kw_only=True, tag="book_update"):
    """New absolute quantities at changed levels ("0" removes the level)."""

    commodity: str
    sequence: int
    book_sequence: int
    bids: list[Level]
    asks: list[Level]


class TradesUpdate(ServerMessage, frozen=True, kw_only=True, tag="trades"):
    commodity: str
    sequence: int
    trades: list[PublicTrade]


class TickerUpdate(ServerMessage, frozen=True, kw_only=True, tag="ticker"):
    commodity: str
    sequence: int
    ticker: Ticker


class CandlesUpdate(ServerMessage, frozen=True, kw_only=True, tag="candles"):
    """The current state of each 1-minute candle that changed, oldest first; `removed`: the
    starts of candles that no longer hold any trade in force (their trades were voided)."""

    commodity: str
    sequence: int
    interval: Interval
    candles: list[Candle]
    removed: list[datetime] = msgspec.field(default_factory=list)


class Heartbeat(ServerMessage, frozen=True, kw_only=True, tag="heartbeat"):
    sequence: int
    time: datetime


class UserUpdate(ServerMessage, frozen=True, kw_only=True, tag="user"):
    """The subscriber's own order changes and fills from one committed batch."""

    commodity: str
    sequence: int
    book_sequence: int
    orders: list[Order]
    fills: list[Fill]


class UserSnapshot(ServerMessage, frozen=True, kw_only=True, tag="user_snapshot"):
    """The subscriber's open orders (open or partially filled) as of `sequence`, by id."""

    sequence: int
    orders: list[Order]


class ContractNotice(ServerMessage, frozen=True, kw_only=True, tag="contract"):
    """One of the subscriber's contracts was signed (`created`) or changed state."""

    sequence: int
    event: str
    contract: Contract


class MoneyNotice(ServerMessage, frozen=True, kw_only=True, tag="money"):
    """Money of the subscriber changed, or a payment of its is due (see docs/payments.md for
    the events); `available` is its available funds in `currency` after the change."""

    sequence: int
    event: str
    currency: str
    amount: str | None = None
    contract_id: int | None = None
    withdrawal_id: int | None = None
    reference: str | None = None
    available: str | None = None
    due_at: datetime | None = None  # a reminder: when the payment is due
    detail: str = ""


class ErrorMessage(ServerMessage, frozen=True, kw_only=True, tag="error"):
    """Same codes as the HTTP problems; the socket stays open unless the code says otherwise."""

    code: str
    message: str
