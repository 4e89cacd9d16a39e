"""Identifier types and enumerations shared by the matching engine's commands and events."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

OrderId = NewType("OrderId", int)
ParticipantId = NewType("ParticipantId", int)
CommodityId = NewType("CommodityId", int)
RegionId = NewType("RegionId", int)
TradeId = NewType("TradeId", int)

#: Nanoseconds since the Unix epoch (UTC). The engine never reads a clock: every command
#: carries its own timestamp, which is what makes replay exact.
Timestamp = NewType("Timestamp", int)

#: Position of a command in the book's journal, assigned by the caller.
Sequence = NewType("Sequence", int)


class Side(StrEnum):
    """Which side of the book an order rests on: buyers bid, sellers ask."""

    BUY = "buy"
    SELL = "sell"


class TimeInForce(StrEnum):
    """How long an order stays in the book."""

    GTC = "gtc"  # good till cancelled
    GTD = "gtd"  # good till the order's expires_at
    IOC = "ioc"  # immediate or cancel: fill what can be filled now, cancel the rest
    FOK = "fok"  # fill or kill: fill completely now or do nothing at all


class SelfTradePrevention(StrEnum):
    """What happens when an incoming order would trade with a resting order of the same owner.

    The incoming (taker) order's mode decides.
    """

    CANCEL_RESTING = "cancel_resting"  # cancel the resting order, keep matching (default)
    CANCEL_INCOMING = "cancel_incoming"  # cancel the rest of the incoming order
    CANCEL_BOTH = "cancel_both"  # cancel the resting order and the rest of the incoming one


class RejectReason(StrEnum):
    """Stable codes for rejected commands; the service maps them to API error codes."""

    UNKNOWN_COMMODITY = "unknown_commodity"
    HALTED = "halted"
    BAD_TICK = "bad_tick"  # price not positive or not a multiple of the tick size
    BAD_LOT = "bad_lot"  # quantity not positive or not a multiple of the lot size
    BELOW_MINIMUM = "below_minimum"  # quantity below the book's minimum order quantity
    BAD_MIN_FILL = "bad_min_fill"  # minimum fill negative or above the order quantity
    BAD_EXPIRY = "bad_expiry"  # GTD without a future expires_at, or expires_at on non-GTD
    FOK_NOT_FILLABLE = "fok_not_fillable"
    UNKNOWN_ORDER = "unknown_order"  # unknown, already closed, or owned by someone else
    DUPLICATE_ORDER_ID = "duplicate_order_id"  # an open order already has this id


class CancelReason(StrEnum):
    """Why an order left the book without being filled."""

    BY_OWNER = "by_owner"
    IOC_REMAINDER = "ioc_remainder"
    SELF_TRADE = "self_trade"
    EXPIRED = "expired"
    # The remainder would rest across an opposite order it may not trade with (a minimum
    # fill refused the trade); resting it would cross the book, so it is cancelled instead.
    WOULD_CROSS = "would_cross"
