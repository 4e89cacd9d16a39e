"""Sealed RFQs (docs/negotiation.md, "Sealed quotes and reverse auctions").

Until a sealed RFQ closes (its `closes_at`, on the center's clock) nobody but a quote's own
supplier sees the quote: the buyer's quote list and comparison are empty and it cannot award.
At closing every quote is revealed to the buyer together; a sealed RFQ cancelled before its
closing never reveals its quotes."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from exchange.errors import ConflictError


def sealed(rfq: asyncpg.Record, now: datetime) -> bool:
    """Whether the RFQ's quotes are still hidden from its buyer."""
    if rfq["mode"] != "sealed":
        return False
    return bool(rfq["status"] == "cancelled" or now < rfq["closes_at"])


def sealed_until(rfq: asyncpg.Record, now: datetime) -> datetime | None:
    """When the buyer will see the quotes (None: it sees them now, or never, if cancelled)."""
    if rfq["status"] == "cancelled" or not sealed(rfq, now):
        return None
    return rfq["closes_at"]  # type: ignore[no-any-return]


def check_award(rfq: asyncpg.Record, now: datetime) -> None:
    """A sealed RFQ is awarded only once its quotes are revealed."""
    if sealed(rfq, now):
        raise ConflictError(
            f"the RFQ is sealed until {rfq['closes_at'].isoformat()}", code="RFQ_SEALED"
        )
