"""Read-only answers to book queries, and the snapshot of a whole book."""

from __future__ import annotations

import msgspec

from matching.config import BookConfig
from matching.types import (
    OrderId,
    ParticipantId,
    RegionId,
    SelfTradePrevention,
    Sequence,
    Side,
    TimeInForce,
    Timestamp,
)


class OpenOrder(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An order resting in the book; ``quantity`` is its open (unfilled) quantity."""

    order_id: OrderId
    owner: ParticipantId
    side: Side
    price: int
    quantity: int
    time_in_force: TimeInForce
    min_fill: int
    expires_at: Timestamp | None
    region: RegionId
    client_ref: str
    self_trade: SelfTradePrevention


class PriceLevel(msgspec.Struct, frozen=True, kw_only=True):
    """One L2 level: total open quantity and number of orders at a price."""

    price: int
    quantity: int
    orders: int


class Depth(msgspec.Struct, frozen=True, kw_only=True):
    """The best levels of both sides, best price first."""

    bids: list[PriceLevel]
    asks: list[PriceLevel]


class BookSnapshot(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole state of a book: restoring it gives a book that behaves identically.

    ``bids`` and ``asks`` list the open orders best price first, and within a price in queue
    (time priority) order. ``sequence`` is the last command applied: replay the journal
    from the next one.
    """

    config: BookConfig
    sequence: Sequence
    next_trade_id: int
    traded_quantity: int
    halted: bool
    bids: list[OpenOrder]
    asks: list[OpenOrder]
