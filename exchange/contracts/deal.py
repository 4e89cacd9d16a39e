"""A deal: what every source of trade (the order book, a listing, an RFQ) hands to contracts.

Contracts know nothing of orders, listings or quotes; a deal says all a contract needs."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from exchange.contracts.terms import TradeReference
from exchange.ids import ID_BITS, commodity_of, global_id, local_of
from exchange.reference import CommoditySpec

# A contract's id is commodity_id << 40 | a 40-bit number. A book contract's number is its
# trade's (below 2**39, as it always was); every other contract has this bit set and its
# chain position below it, so ids from different sources can never meet (docs/contracts.md).
NEGOTIATED_BIT = 1 << (ID_BITS - 1)


class DealSource(enum.StrEnum):
    BOOK = "book"
    LISTING = "listing"
    RFQ = "rfq"


@dataclass(frozen=True, slots=True, kw_only=True)
class Deal:
    """Two parties agreed: seller sells `quantity` lots of `spec` to buyer at `price` ticks."""

    source: DealSource
    source_id: int  # the trade, the listing take or the RFQ award that made the deal
    spec: CommoditySpec
    seller_id: int
    buyer_id: int
    quantity: int  # whole lots of the commodity
    price: int  # whole ticks per unit
    delivery_region: str | None  # where the buyer takes delivery
    origin_region: str | None  # where the seller ships from
    made_at: datetime  # aware UTC: the contract is signed at this moment
    trade: TradeReference | None = None  # the book's trade (book deals only)

    def __post_init__(self) -> None:
        if (self.source is DealSource.BOOK) != (self.trade is not None):
            raise ValueError("a book deal names its trade, and only a book deal does")
        if self.seller_id == self.buyer_id:
            raise ValueError("a deal needs two parties")
        if self.quantity <= 0 or self.price <= 0:
            raise ValueError("a deal's quantity and price are positive")
        if self.made_at.tzinfo is None:
            raise ValueError("a deal's time is timezone-aware")
        if self.source is DealSource.BOOK and (
            commodity_of(self.source_id) != self.spec.id
            or local_of(self.source_id) & NEGOTIATED_BIT
        ):
            raise ValueError("a book deal's trade id is a trade of its commodity")


def contract_id(deal: Deal, position: int) -> int:
    """The id of the contract made from `deal` at `position` in its commodity's chain."""
    if deal.source is DealSource.BOOK:
        return deal.source_id
    if not 0 < position < NEGOTIATED_BIT:
        raise ValueError("the chain has outgrown its id space")
    return global_id(deal.spec.id, NEGOTIATED_BIT | position)
