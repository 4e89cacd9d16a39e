"""Limits an order must keep before it reaches the book: the operators' fat-finger guards
(price band, maximum order quantity) and what the storage can hold (`bigint` columns)."""

from __future__ import annotations

from exchange.bounds import BIGINT_MAX, out_of_range
from exchange.errors import invalid_field
from exchange.reference import CommoditySpec
from exchange.units import format_scaled


def check_band(spec: CommoditySpec, ticks: int) -> None:
    """A price within the commodity's band: reference price +/- price_band_bps (inclusive)."""
    reference, band = spec.reference_price_minor, spec.price_band_bps
    if reference is None or band is None:
        return
    price = ticks * spec.tick_size_minor
    if reference * (10_000 - band) <= price * 10_000 <= reference * (10_000 + band):
        return
    low = -(-reference * (10_000 - band) // 10_000)  # rounded up: the lowest price allowed
    high = reference * (10_000 + band) // 10_000
    raise invalid_field(
        "PRICE_OUTSIDE_BAND",
        "price",
        f"must be from {format_scaled(low, spec.price_scale)} to"
        f" {format_scaled(high, spec.price_scale)} (the price band of {spec.code})",
    )


def check_size(spec: CommoditySpec, lots: int, field: str = "quantity") -> None:
    """A quantity no larger than the commodity's maximum order quantity."""
    if spec.max_order_lots is not None and lots > spec.max_order_lots:
        raise invalid_field(
            "ORDER_TOO_LARGE",
            field,
            f"the maximum order quantity of {spec.code} is"
            f" {spec.quantity_text(spec.max_order_lots)}",
        )


def check_storable(spec: CommoditySpec, ticks: int, lots: int, filled: int = 0) -> None:
    """Price, quantity (with what is filled already) and their amount fit `bigint` columns.

    Every trade of the order is at most its quantity, at a price whose order passed the same
    check, so its contract's amount (and fee, at most the amount) fits as well.
    """
    if ticks > BIGINT_MAX:
        raise out_of_range("price", "the price is too large for the center to hold")
    if lots + filled > BIGINT_MAX:
        raise out_of_range("quantity", "the quantity is too large for the center to hold")
    if spec.amount_minor(ticks, lots) > BIGINT_MAX:
        raise out_of_range(
            "quantity", "price x quantity is too large an amount for the center to settle"
        )
