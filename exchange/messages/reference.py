"""Reference data: commodities and regions."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import NO_NUL, Code, DecimalText, Struct
from exchange.units import CURRENCY_EXPONENTS

Unit = Annotated[str, msgspec.Meta(min_length=1, max_length=16, pattern=NO_NUL)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Currency = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of a currency the center settles in"
        " (others: 422 UNSUPPORTED_CURRENCY)",
        extra_json_schema={"enum": sorted(CURRENCY_EXPONENTS)},
    ),
]
FeeRateBps = Annotated[int, msgspec.Meta(ge=0, le=10000, description="Fee in basis points")]
Hours = Annotated[int, msgspec.Meta(ge=1, le=24 * 90)]
Days = Annotated[int, msgspec.Meta(ge=1, le=365)]
GraceHours = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=24 * 90,
        description="Hours after the due time in which a late payment (with"
        " its penalty) is still taken; past them the contract defaults",
    ),
]
PenaltyBps = Annotated[
    int, msgspec.Meta(ge=0, le=10000, description="Penalty per day late, in basis points")
]
BandBps = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=10000,
        description="Half-width of the price band, in basis points of the reference price",
    ),
]


def _band_complete(reference_price: object, price_band_bps: object) -> None:
    if (reference_price is None) != (price_band_bps is None):
        raise ValueError("reference_price and price_band_bps are set (or cleared) together")


class TradingStatus(enum.StrEnum):
    ACTIVE = "active"
    HALTED = "halted"


class CreateCommodity(Struct, frozen=True, kw_only=True):
    code: Code
    name: Name
    unit: Unit
    currency: Currency
    tick_size: DecimalText
    lot_size: DecimalText
    min_quantity: DecimalText
    fee_rate_bps: FeeRateBps
    review_threshold: DecimalText
    payment_due_hours: Hours = 48
    payment_grace_hours: GraceHours = 72
    delivery_days: Days = 14
    late_payment_penalty_bps: PenaltyBps = 5
    late_delivery_penalty_bps: PenaltyBps = 5
    claim_window_days: Days = 7
    reference_price: DecimalText | None = None
    price_band_bps: BandBps | None = None
    max_order_quantity: DecimalText | None = None

    def __post_init__(self) -> None:
        _band_complete(self.reference_price, self.price_band_bps)


class UpdateCommodity(Struct, frozen=True, kw_only=True):
    """Tick and lot size are fixed once a commodity exists: resting orders are held in them.

    `null` clears a price band (both of its fields) or the maximum order quantity.
    """

    name: Name | msgspec.UnsetType = msgspec.UNSET
    unit: Unit | msgspec.UnsetType = msgspec.UNSET
    min_quantity: DecimalText | msgspec.UnsetType = msgspec.UNSET
    fee_rate_bps: FeeRateBps | msgspec.UnsetType = msgspec.UNSET
    review_threshold: DecimalText | msgspec.UnsetType = msgspec.UNSET
    payment_due_hours: Hours | msgspec.UnsetType = msgspec.UNSET
    payment_grace_hours: GraceHours | msgspec.UnsetType = msgspec.UNSET
    delivery_days: Days | msgspec.UnsetType = msgspec.UNSET
    late_payment_penalty_bps: PenaltyBps | msgspec.UnsetType = msgspec.UNSET
    late_delivery_penalty_bps: PenaltyBps | msgspec.UnsetType = msgspec.UNSET
    claim_window_days: Days | msgspec.UnsetType = msgspec.UNSET
    reference_price: DecimalText | msgspec.UnsetType | None = msgspec.UNSET
    price_band_bps: BandBps | msgspec.UnsetType | None = msgspec.UNSET
    max_order_quantity: DecimalText | msgspec.UnsetType | None = msgspec.UNSET


class Commodity(Struct, frozen=True, kw_only=True):
    code: str
    name: str
    unit: str
    currency: str
    tick_size: str
    lot_size: str
    min_quantity: str
    fee_rate_bps: int
    review_threshold: str
    payment_due_hours: int
    payment_grace_hours: int
    trading_status: TradingStatus
    delivery_days: int
    late_payment_penalty_bps: int
    late_delivery_penalty_bps: int
    claim_window_days: int
    reference_price: str | None
    price_band_bps: int | None
    max_order_quantity: str | None
    created_at: datetime
    updated_at: datetime


class CreateRegion(Struct, frozen=True, kw_only=True):
    code: Code
    name: Name


class UpdateRegion(Struct, frozen=True, kw_only=True):
    name: Name


class Region(Struct, frozen=True, kw_only=True):
    code: str
    name: str
    created_at: datetime
    updated_at: datetime
