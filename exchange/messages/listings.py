"""Named listings: a supplier's offer (sell) or a buyer's wanted notice (buy), with its poster."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated

import msgspec

from exchange.messages.common import NO_NUL, Code, DecimalText, PageQuery, Struct
from exchange.messages.contracts import Contract
from exchange.messages.market import ServerMessage
from exchange.messages.orders import Side

Specification = Annotated[
    str,
    msgspec.Meta(
        max_length=2000,
        pattern=NO_NUL,
        description="Free text: grade, packing, anything the price assumes (at most 2000"
        " characters)",
    ),
]


class ListingStatus(enum.StrEnum):
    OPEN = "open"  # can be taken
    FILLED = "filled"  # nothing left
    EXPIRED = "expired"  # valid_until has passed
    WITHDRAWN = "withdrawn"  # by its poster


class CreateListing(Struct, frozen=True, kw_only=True):
    commodity: Code
    side: Side  # sell: a supplier's offer; buy: a buyer's wanted notice
    quantity: DecimalText
    price: DecimalText  # per unit, on the commodity's tick
    min_quantity: DecimalText  # the least a counterparty may take (whole lots)
    region: Code  # sell: where the goods ship from; buy: where they are delivered
    delivery_earliest: date
    delivery_latest: date
    valid_until: datetime
    specification: Specification = ""

    def __post_init__(self) -> None:
        if self.delivery_latest < self.delivery_earliest:
            raise ValueError("delivery_latest is before delivery_earliest")
        if self.valid_until.tzinfo is None:
            raise ValueError("valid_until needs a timezone")


class AmendListing(Struct, frozen=True, kw_only=True):
    price: DecimalText | None = None
    quantity: DecimalText | None = None  # not below what was taken
    valid_until: datetime | None = None
    specification: Specification | None = None

    def __post_init__(self) -> None:
        if self.valid_until is not None and self.valid_until.tzinfo is None:
            raise ValueError("valid_until needs a timezone")


class TakeListing(Struct, frozen=True, kw_only=True):
    quantity: DecimalText


class Poster(Struct, frozen=True, kw_only=True):
    participant_id: int
    legal_name: str
    credit_score: int | None  # 0-100 (GET /v1/participants/{id}/credit); null without record


class Listing(Struct, frozen=True, kw_only=True):
    id: int
    commodity: str
    side: Side
    status: ListingStatus
    price: str
    currency: str
    quantity: str
    remaining: str
    min_quantity: str
    region: str
    delivery_earliest: date
    delivery_latest: date
    valid_until: datetime
    specification: str
    poster: Poster
    created_at: datetime
    updated_at: datetime


class Take(Struct, frozen=True, kw_only=True):
    id: int  # the take: the contract's source_id
    listing: Listing
    quantity: str
    contract: Contract


class ListingQuery(PageQuery, frozen=True, kw_only=True):
    commodity: Code | None = None
    side: Side | None = None
    region: Code | None = None
    include_closed: bool = False  # also filled, expired and withdrawn listings


class ListingsSnapshot(ServerMessage, frozen=True, kw_only=True, tag="listings_snapshot"):
    """The open listings of a commodity, newest first, as of `sequence` (at most `SNAPSHOT`;
    `complete` false: there are more, page them with GET /v1/listings)."""

    sequence: int
    commodity: str
    listings: list[Listing]
    complete: bool


class ListingEvent(enum.StrEnum):
    PUBLISHED = "published"
    AMENDED = "amended"
    TAKEN = "taken"
    WITHDRAWN = "withdrawn"


class ListingMessage(ServerMessage, frozen=True, kw_only=True, tag="listing"):
    """A listing of the commodity was published, amended, taken (in part) or withdrawn."""

    sequence: int
    event: ListingEvent
    listing: Listing
