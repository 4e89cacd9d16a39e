"""Events the matching engine emits: a tagged union, journaled and published by the service.

Every event carries the ``sequence`` and ``timestamp`` of the command that caused it. Events
hold scalars only, so they are created with ``gc=False``: the garbage collector never has to
track the hundreds of thousands of them a busy book produces. Unlike the commands they are not
``kw_only``: the engine builds them with positional arguments, because msgspec matches keyword
arguments by name on every construction, which made an event about half as fast again to build.
Only the engine builds events; everyone else decodes or reads them by name.
"""

from __future__ import annotations

import msgspec

from matching.types import (
    CancelReason,
    OrderId,
    ParticipantId,
    RegionId,
    RejectReason,
    Sequence,
    Side,
    TimeInForce,
    Timestamp,
    TradeId,
)


class OrderAccepted(msgspec.Struct, frozen=True, tag=True, gc=False):
    """The order passed validation and takes part in matching from now on."""

    sequence: Sequence
    timestamp: Timestamp
    order_id: OrderId
    owner: ParticipantId
    side: Side
    price: int
    quantity: int
    time_in_force: TimeInForce


class OrderRejected(msgspec.Struct, frozen=True, tag=True, gc=False):
    """A command was refused and the book is unchanged (``order_id`` None: a book command)."""

    sequence: Sequence
    timestamp: Timestamp
    order_id: OrderId | None
    reason: RejectReason


class TradeExecuted(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Two orders traded at the maker's (resting order's) price.

    ``maker_remaining``/``taker_remaining`` are the open quantities after the trade, so a
    consumer sees an order filled (0) without a separate event.
    """

    sequence: Sequence
    timestamp: Timestamp
    trade_id: TradeId
    maker_order_id: OrderId
    taker_order_id: OrderId
    maker_owner: ParticipantId
    taker_owner: ParticipantId
    taker_side: Side
    price: int
    quantity: int
    buyer_region: RegionId  # the buy order's delivery region
    seller_region: RegionId  # the sell order's origin region
    maker_remaining: int
    taker_remaining: int


class OrderCancelled(msgspec.Struct, frozen=True, tag=True, gc=False):
    """An order's open ``quantity`` left the book unfilled, for ``reason``."""

    sequence: Sequence
    timestamp: Timestamp
    order_id: OrderId
    owner: ParticipantId
    quantity: int
    reason: CancelReason


class OrderAmended(msgspec.Struct, frozen=True, tag=True, gc=False):
    """An order's price and open quantity changed; ``priority_kept`` is False if re-queued."""

    sequence: Sequence
    timestamp: Timestamp
    order_id: OrderId
    price: int
    quantity: int
    priority_kept: bool


class BookLevelChanged(msgspec.Struct, frozen=True, tag=True, gc=False):
    """The total open quantity at one price level is now ``quantity`` (0: the level is gone).

    Emitted at most once per level per command, with the absolute quantity, so it can be
    published as an L2 update as is.
    """

    sequence: Sequence
    timestamp: Timestamp
    side: Side
    price: int
    quantity: int


class BookHalted(msgspec.Struct, frozen=True, tag=True, gc=False):
    """The book stopped accepting orders."""

    sequence: Sequence
    timestamp: Timestamp


class BookResumed(msgspec.Struct, frozen=True, tag=True, gc=False):
    """The book accepts orders again."""

    sequence: Sequence
    timestamp: Timestamp


Event = (
    OrderAccepted
    | OrderRejected
    | TradeExecuted
    | OrderCancelled
    | OrderAmended
    | BookLevelChanged
    | BookHalted
    | BookResumed
)
