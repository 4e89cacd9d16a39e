"""Exact conversion between decimal strings on the wire and integers inside."""

from __future__ import annotations

from settlement.money import (
    CURRENCY_EXPONENTS,
    UnitsError,
    currency_exponent,
    format_scaled,
    parse_scaled,
)

__all__ = [
    "CURRENCY_EXPONENTS",
    "QUANTITY_SCALE",
    "UnitsError",
    "currency_exponent",
    "format_scaled",
    "parse_scaled",
    "round_half_up",
]

# Quantities are held in millionths of the commodity's unit (t, kg, pcs ...).
QUANTITY_SCALE = 6


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up (both non-negative, denominator > 0)."""
    whole, rest = divmod(numerator, denominator)
    return whole + (1 if 2 * rest >= denominator else 0)
