"""Exact money: integer minor units inside, decimal strings on the wire (shared by the center
and the bank, so neither ever holds an amount in a float)."""

from __future__ import annotations

import re

# ISO 4217 minor-unit digits of the currencies the center settles in.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "EUR": 2, "GBP": 2, "HKD": 2,
    "INR": 2, "JPY": 0, "KRW": 0, "MXN": 2, "NOK": 2, "SEK": 2, "SGD": 2, "USD": 2,
    "ZAR": 2,
}  # fmt: skip

_DECIMAL = re.compile(r"([0-9]{1,18})(?:\.([0-9]{1,18}))?")  # fullmatch, ASCII digits only


class UnitsError(ValueError):
    """A decimal string cannot be held exactly at the required scale."""


def parse_scaled(text: str, scale: int) -> int:
    """'12.50' at scale 2 -> 1250; refuses digits beyond the scale instead of rounding."""
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise UnitsError(f"{text!r} is not a plain non-negative decimal number")
    whole, fraction = match[1], (match[2] or "").rstrip("0")
    if len(fraction) > scale:
        raise UnitsError(f"{text!r} has more than {scale} decimal places")
    units: int = int(whole) * 10**scale
    return units + int(fraction.ljust(scale, "0") or "0")


def format_scaled(value: int, scale: int) -> str:
    """1250 at scale 2 -> '12.50'."""
    if scale == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**scale)
    return f"{sign}{whole}.{fraction:0{scale}d}"


def currency_exponent(currency: str) -> int:
    """Minor-unit digits of a currency the center supports."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnitsError(f"currency {currency!r} is not supported") from None
