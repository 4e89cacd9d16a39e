"""Requests for quotation and their quotes (docs/negotiation.md, "RFQs")."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated

import msgspec

from exchange.messages.common import Code, DecimalText, PageQuery, Struct
from exchange.messages.contracts import Contract
from exchange.messages.listings import Specification
from exchange.messages.negotiation import NegotiationRound
from exchange.messages.outcomes import CreditProfile
from exchange.messages.rfq_modes import AuctionTerms, SoftCloseMinutes

Invited = Annotated[list[int], msgspec.Meta(max_length=100)]


class RfqMode(enum.StrEnum):
    OPEN = "open"  # the buyer sees quotes as they come
    SEALED = "sealed"  # quotes hidden from the buyer until closing, then revealed together
    REVERSE_AUCTION = "reverse_auction"  # suppliers bid down live; soft close


class RfqStatus(enum.StrEnum):
    OPEN = "open"  # takes quotes until closes_at
    CLOSED = "closed"  # closes_at has passed (awards are not built yet)
    CANCELLED = "cancelled"  # by its buyer
    AWARDED = "awarded"  # its whole quantity was awarded
    PARTIALLY_AWARDED = "partially_awarded"  # awarded, for less than its quantity
    EXPIRED = "expired"  # nobody awarded it: no acceptable quote (auto), or the grace passed


class RfqAward(enum.StrEnum):
    MANUAL = "manual"  # the buyer awards (POST /v1/rfqs/{id}/award)
    AUTO = "auto"  # the center awards at closing, by landed cost, then time of quote


class QuoteStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    COUNTERED = "countered"  # the buyer's counter waits for the supplier's answer
    REVISED = "revised"  # the supplier changed it at least once
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"  # valid_until has passed
    AWARDED = "awarded"
    DECLINED = "declined"  # the RFQ was awarded to others


def _aware(moment: datetime | None, field: str) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError(f"{field} needs a timezone")


class CreateRfq(Struct, frozen=True, kw_only=True):
    commodity: Code
    mode: RfqMode = RfqMode.OPEN
    award: RfqAward = RfqAward.MANUAL
    quantity: DecimalText
    min_quantity: DecimalText  # the least one supplier's quote may offer (whole lots)
    max_price: DecimalText | None = None  # no quote above this unit price
    region: Code  # where the goods are delivered
    delivery_earliest: date
    delivery_latest: date
    closes_at: datetime
    invited: Invited | None = None  # supplier participant ids; none: open to all suppliers
    specification: Specification = ""
    soft_close_minutes: SoftCloseMinutes | None = None  # reverse_auction only; default 5

    def __post_init__(self) -> None:
        if self.delivery_latest < self.delivery_earliest:
            raise ValueError("delivery_latest is before delivery_earliest")
        _aware(self.closes_at, "closes_at")


class Rfq(Struct, frozen=True, kw_only=True):
    id: int
    commodity: str
    buyer_id: int
    mode: RfqMode
    award: RfqAward
    status: RfqStatus
    quantity: str
    min_quantity: str
    max_price: str | None
    currency: str
    region: str
    delivery_earliest: date
    delivery_latest: date
    closes_at: datetime
    invited: list[int] | None  # shown to the buyer only; null for suppliers and open RFQs
    specification: str
    created_at: datetime
    updated_at: datetime
    sealed_until: datetime | None = None  # sealed: the buyer sees no quote before this
    auction: AuctionTerms | None = None  # reverse_auction: its soft close


class RfqQuery(PageQuery, frozen=True, kw_only=True):
    commodity: Code | None = None
    include_closed: bool = False  # also closed and cancelled RFQs


class SubmitQuote(Struct, frozen=True, kw_only=True):
    price: DecimalText  # per unit, on the commodity's tick, ex works at origin_region
    quantity: DecimalText
    origin_region: Code  # where the goods ship from
    valid_until: datetime

    def __post_init__(self) -> None:
        _aware(self.valid_until, "valid_until")


class ReviseQuote(Struct, frozen=True, kw_only=True):
    price: DecimalText | None = None
    quantity: DecimalText | None = None
    origin_region: Code | None = None
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        _aware(self.valid_until, "valid_until")
        if (self.price, self.quantity, self.origin_region, self.valid_until) == (None,) * 4:
            raise ValueError("a revision changes at least one of the quote's terms")


class QuoteRevision(Struct, frozen=True, kw_only=True):
    revision: int
    price: str
    quantity: str
    origin_region: str
    valid_until: datetime
    made_at: datetime


class Quote(Struct, frozen=True, kw_only=True):
    id: int
    rfq_id: int
    supplier_id: int
    status: QuoteStatus
    revision: int
    price: str
    quantity: str
    origin_region: str
    valid_until: datetime
    history: list[QuoteRevision]  # every revision, oldest first
    negotiation: list[NegotiationRound]  # every round, both sides, oldest first
    created_at: datetime
    updated_at: datetime


class LaneUsed(Struct, frozen=True, kw_only=True):
    node: str
    rate: str  # per whole unit
    transit_days: int


class Supplier(Struct, frozen=True, kw_only=True):
    participant_id: int
    legal_name: str
    credit: CreditProfile  # score and its components (GET /v1/participants/{id}/credit)


class ComparedQuote(Struct, frozen=True, kw_only=True):
    rank: int  # 1 = lowest landed cost
    quote: Quote
    supplier: Supplier
    price: str  # per unit, ex works at the quote's origin
    freight: str | None  # per unit on `lane`; null: no published lane reaches the buyer
    landed_cost: str | None  # price + freight, per unit
    lane: LaneUsed | None
    explanation: str


class Comparison(Struct, frozen=True, kw_only=True):
    rfq_id: int
    currency: str
    region: str  # where the goods are delivered
    method: str
    quotes: list[ComparedQuote]  # live quotes, best landed cost first
    sealed_until: datetime | None = None  # sealed: no quote is shown before this


class AwardLine(Struct, frozen=True, kw_only=True):
    quote_id: int
    quantity: DecimalText


class AwardRfq(Struct, frozen=True, kw_only=True):
    awards: Annotated[list[AwardLine], msgspec.Meta(min_length=1, max_length=50)]


class AwardMade(Struct, frozen=True, kw_only=True):
    id: int  # the award: its contract's source_id
    quote_id: int
    supplier_id: int
    quantity: str
    contract: Contract


class Awarded(Struct, frozen=True, kw_only=True):
    rfq: Rfq
    awards: list[AwardMade]
