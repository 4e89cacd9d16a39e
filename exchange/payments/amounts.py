"""Amounts of money in requests: a supported currency and a positive decimal string that its
minor units hold exactly (else a 422 naming the field)."""

from __future__ import annotations

from exchange.errors import invalid_field
from exchange.units import CURRENCY_EXPONENTS, UnitsError, currency_exponent, parse_scaled
from settlement.ledger import MAX_AMOUNT


def supported(currency: str) -> str:
    """`currency`, if the center settles in it; else 422 UNSUPPORTED_CURRENCY."""
    if currency not in CURRENCY_EXPONENTS:
        raise invalid_field(
            "UNSUPPORTED_CURRENCY", "currency", f"the center does not settle in {currency}"
        )
    return currency


def amount_minor(text: str, currency: str, field: str = "amount") -> int:
    """`text` in minor units of `currency`; 422 for an unsupported currency, digits beyond
    the currency's scale, zero, or an amount beyond what the ledger holds."""
    supported(currency)
    try:
        minor = parse_scaled(text, currency_exponent(currency))
    except UnitsError as exc:
        raise invalid_field("INVALID_AMOUNT", field, str(exc)) from None
    if not 0 < minor <= MAX_AMOUNT:
        raise invalid_field("INVALID_AMOUNT", field, f"{text} {currency} is not an amount to move")
    return minor
