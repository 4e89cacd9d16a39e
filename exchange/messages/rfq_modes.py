"""Wire types of sealed RFQs and reverse auctions (docs/negotiation.md, "Sealed quotes and
reverse auctions")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import Struct

SoftCloseMinutes = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=60,
        description="Reverse auctions: a bid this close to the closing moves it to now + this",
    ),
]


class AuctionTerms(Struct, frozen=True, kw_only=True):
    """A reverse auction's soft close."""

    soft_close_minutes: int
    original_closes_at: datetime  # the closing asked for; closes_at is where it stands now
    extensions: int  # how many bids moved the closing


class Standing(Struct, frozen=True, kw_only=True):
    """A supplier's place in a reverse auction: its own bid against the live bids, without
    who bids or what any other bid is."""

    rfq_id: int
    quote_id: int  # the supplier's own live bid
    rank: int  # 1 = lowest landed cost; ties go to the earlier bid
    live_bids: int  # how many live bids there are, the supplier's included
    best_landed_cost: str | None  # the lowest landed cost per unit among live bids
    price: str  # the supplier's own bid, per unit
    landed_cost: str | None  # the supplier's own landed cost per unit; null: no lane reaches
    currency: str
    closes_at: datetime
    auction: AuctionTerms
    method: str
