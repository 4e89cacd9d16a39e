"""Reverse auctions: the rules a bid meets, and the soft close it may trigger (docs/negotiation.md,
"Sealed quotes and reverse auctions").

A bid is a quote. In a reverse auction a revision must lower the supplier's own price (422
BID_NOT_LOWER) from the same origin (422 ORIGIN_FIXED, so its landed cost falls too), bids are
binding (no withdrawal: 409 BID_BINDING), and a bid or revision within the last
`soft_close_minutes` before closing moves the closing to now + that window, under the RFQ's row
lock the bid already holds. The arithmetic is `auction.py`'s."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from exchange.db import Conn
from exchange.errors import ConflictError, UnprocessableError
from exchange.messages.rfq_modes import AuctionTerms
from exchange.messages.rfqs import RfqMode
from exchange.negotiation import auction

if TYPE_CHECKING:
    from exchange.negotiation.quotes import Offer

AUCTION = str(RfqMode.REVERSE_AUCTION)


def unprocessable(field: str, message: str, code: str) -> UnprocessableError:
    return UnprocessableError(
        f"{field}: {message}", code=code, field_errors=[(f"$.{field}", message)]
    )


def soft_close(mode: RfqMode, minutes: int | None) -> int | None:
    """The soft-close window to store for a new RFQ: reverse auctions only (default 5)."""
    if mode is RfqMode.REVERSE_AUCTION:
        return auction.SOFT_CLOSE_DEFAULT if minutes is None else minutes
    if minutes is not None:
        raise unprocessable("soft_close_minutes", "applies to reverse auctions only",
                            "NOT_AN_AUCTION")  # fmt: skip
    return None


def terms(rfq: asyncpg.Record) -> AuctionTerms | None:
    """A reverse auction's soft close as shown; None for other modes."""
    if rfq["mode"] != AUCTION:
        return None
    return AuctionTerms(
        soft_close_minutes=rfq["soft_close_minutes"],
        original_closes_at=rfq["original_closes_at"] or rfq["closes_at"],
        extensions=rfq["extensions"],
    )


def check_revision(rfq: asyncpg.Record, quote: asyncpg.Record, offer: Offer) -> None:
    """In a reverse auction a revision undercuts the supplier's own bid, from the same origin."""
    if rfq["mode"] != AUCTION:
        return
    if not auction.lowers(quote["price_ticks"], offer.price):
        raise unprocessable("price", "must be lower than the bid's current price",
                            "BID_NOT_LOWER")  # fmt: skip
    if offer.origin_region != quote["origin_region"]:
        raise unprocessable("origin_region", "cannot change in a reverse auction",
                            "ORIGIN_FIXED")  # fmt: skip


def check_withdraw(rfq: asyncpg.Record) -> None:
    """Bids in a reverse auction are binding: a withdrawal could reopen a higher price."""
    if rfq["mode"] == AUCTION:
        raise ConflictError("bids in a reverse auction cannot be withdrawn", code="BID_BINDING")


async def after_bid(conn: Conn, rfq: asyncpg.Record, now: datetime) -> None:
    """Soft close: a bid in the last window moves the closing (the caller holds the row lock)."""
    if rfq["mode"] != AUCTION:
        return
    window = timedelta(minutes=rfq["soft_close_minutes"])
    closing = auction.after_bid(rfq["closes_at"], now, window)
    if closing.extended:
        await conn.execute(
            """UPDATE rfqs SET original_closes_at = coalesce(original_closes_at, closes_at),
                   closes_at = $2, extensions = extensions + 1, updated_at = $3
             WHERE id = $1""",
            rfq["id"], closing.closes_at, now,
        )  # fmt: skip
