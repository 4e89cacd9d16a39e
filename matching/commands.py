"""Commands the matching engine accepts: a tagged union, so a journal of them replays exactly."""

from __future__ import annotations

import msgspec

from matching.types import (
    CommodityId,
    OrderId,
    ParticipantId,
    RegionId,
    SelfTradePrevention,
    Sequence,
    Side,
    TimeInForce,
    Timestamp,
)


class PlaceOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Place a limit order; ``region`` is the delivery region of a buy, the origin of a sell."""

    sequence: Sequence
    timestamp: Timestamp
    commodity: CommodityId
    order_id: OrderId
    owner: ParticipantId
    side: Side
    price: int  # ticks
    quantity: int  # lots
    time_in_force: TimeInForce = TimeInForce.GTC
    min_fill: int = 0  # lots; 0 means any trade size is acceptable
    expires_at: Timestamp | None = None  # required for GTD, forbidden otherwise
    region: RegionId = RegionId(0)
    client_ref: str = ""
    self_trade: SelfTradePrevention = SelfTradePrevention.CANCEL_RESTING


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Cancel the open remainder of an order on its owner's behalf."""

    sequence: Sequence
    timestamp: Timestamp
    commodity: CommodityId
    order_id: OrderId
    owner: ParticipantId


class AmendOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Change an open order's price and/or open quantity (``None`` keeps the current value).

    ``quantity`` is the new *open* quantity, not the original order size.
    """

    sequence: Sequence
    timestamp: Timestamp
    commodity: CommodityId
    order_id: OrderId
    owner: ParticipantId
    price: int | None = None
    quantity: int | None = None


class ExpireOrders(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Expire every GTD order whose ``expires_at`` is at or before this command's timestamp."""

    sequence: Sequence
    timestamp: Timestamp
    commodity: CommodityId


class HaltBook(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Stop accepting new orders and amendments; cancels and expiry still work."""

    sequence: Sequence
    timestamp: Timestamp
    commodity: CommodityId


class ResumeBook(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Resume accepting orders after a halt."""

    sequence: Sequence
    timestamp: Timestamp
    commodity: CommodityId


Command = PlaceOrder | CancelOrder | AmendOrder | ExpireOrders | HaltBook | ResumeBook
