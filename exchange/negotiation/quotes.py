"""Quotes on an RFQ: submit, revise (every revision kept), withdraw (docs/negotiation.md).

A quote is its supplier's; the RFQ's buyer sees every quote on it (open mode), a supplier only
its own. Each change locks the RFQ's row first, then the quote's, the same order every time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from exchange.bounds import BIGINT_MAX, check_bigint, check_time
from exchange.db import Conn, Queryable
from exchange.errors import ConflictError, NotFoundError
from exchange.messages.negotiation import RoundAction
from exchange.messages.rfqs import Quote, QuoteRevision, QuoteStatus, RfqStatus
from exchange.negotiation import bidding, rounds, sealing
from exchange.negotiation.listings import check_region, spec_by_id
from exchange.negotiation.rfqs import Viewer, status_of, unprocessable, visible
from exchange.reference import CommoditySpec


@dataclass(frozen=True, slots=True)
class Offer:
    """A quote's terms, in integers."""

    price: int
    quantity: int
    origin_region: str
    valid_until: datetime


def quote_status(row: asyncpg.Record, now: datetime) -> QuoteStatus:
    if row["status"] in ("withdrawn", "awarded", "declined", "lapsed"):
        return QuoteStatus(row["status"])
    if row["valid_until"] <= now:
        return QuoteStatus.LAPSED
    if row.get("pending_counter") is not None:  # a counter waits for the supplier
        return QuoteStatus.COUNTERED
    return QuoteStatus(row["status"])


async def _check_offer(
    conn: Conn, rfq: asyncpg.Record, spec: CommoditySpec, offer: Offer, now: datetime
) -> None:
    check_time(offer.valid_until, "valid_until")
    check_bigint(spec.amount_minor(offer.price, offer.quantity), "quantity", "price x quantity")
    if status_of(rfq, now) is not RfqStatus.OPEN:
        raise ConflictError(f"the RFQ is {status_of(rfq, now)}", code="RFQ_NOT_OPEN")
    if rfq["max_price_ticks"] is not None and offer.price > rfq["max_price_ticks"]:
        raise unprocessable("price", "is above the RFQ's maximum price", "ABOVE_MAX_PRICE")
    if offer.quantity > rfq["quantity_lots"]:
        raise unprocessable("quantity", "is more than the RFQ asks for", "ABOVE_RFQ_QUANTITY")
    if offer.quantity < rfq["min_quote_lots"]:
        raise unprocessable("quantity", "is below the RFQ's minimum per supplier",
                            "BELOW_MINIMUM")  # fmt: skip
    if offer.valid_until <= now:
        raise unprocessable("valid_until", "is not in the future", "VALID_UNTIL_PASSED")
    await check_region(conn, offer.origin_region)


async def _record(conn: Conn, quote_id: int, revision: int, offer: Offer, now: datetime) -> None:
    await conn.execute(
        """INSERT INTO quote_revisions (quote_id, revision, price_ticks, quantity_lots,
               origin_region, valid_until, made_at) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        quote_id, revision, offer.price, offer.quantity, offer.origin_region, offer.valid_until,
        now,
    )  # fmt: skip


async def submit(
    conn: Conn, rfq_id: int, supplier_id: int, spec: CommoditySpec, offer: Offer, now: datetime
) -> asyncpg.Record:
    rfq = await visible(conn, rfq_id, Viewer(supplier_id, supplier=True), lock=True)
    if rfq["buyer_id"] == supplier_id:
        raise ConflictError("a participant cannot quote on its own RFQ", code="OWN_RFQ")
    await _check_offer(conn, rfq, spec, offer, now)
    live = await conn.fetchval(
        "SELECT id FROM quotes WHERE rfq_id = $1 AND supplier_id = $2 AND status <> 'withdrawn'",
        rfq_id, supplier_id,
    )  # fmt: skip
    if live is not None:
        raise ConflictError(f"quote {live} is already live on this RFQ: revise it",
                            code="QUOTE_EXISTS")  # fmt: skip
    quote_id = await conn.fetchval(
        """INSERT INTO quotes (rfq_id, supplier_id, revision, price_ticks, quantity_lots,
               origin_region, valid_until, status, created_at, updated_at)
           VALUES ($1, $2, 1, $3, $4, $5, $6, 'submitted', $7, $7) RETURNING id""",
        rfq_id, supplier_id, offer.price, offer.quantity, offer.origin_region,
        offer.valid_until, now,
    )  # fmt: skip
    await _record(conn, quote_id, 1, offer, now)
    await rounds.by_supplier(conn, quote_id, RoundAction.QUOTED, now)
    await bidding.after_bid(conn, rfq, now)
    return await owned(conn, quote_id, supplier_id)


async def owned(conn: Queryable, quote_id: int, supplier_id: int) -> asyncpg.Record:
    """The supplier's own quote, or 404."""
    if quote_id > BIGINT_MAX:
        raise NotFoundError(f"quote {quote_id} does not exist", code="UNKNOWN_QUOTE")
    row = await conn.fetchrow(
        "SELECT * FROM quotes WHERE id = $1 AND supplier_id = $2",
        quote_id, supplier_id,
    )  # fmt: skip
    if row is None:
        raise NotFoundError(f"quote {quote_id} does not exist", code="UNKNOWN_QUOTE")
    return row  # type: ignore[no-any-return]


async def _locked(conn: Conn, quote_id: int, supplier_id: int) -> tuple[Any, Any]:
    """(RFQ, quote), locked in that order; the quote must be the supplier's and live."""
    quote = await owned(conn, quote_id, supplier_id)
    rfq = await visible(conn, quote["rfq_id"], Viewer(supplier_id, supplier=True), lock=True)
    quote = await conn.fetchrow("SELECT * FROM quotes WHERE id = $1 FOR UPDATE", quote_id)  # type: ignore[assignment]
    assert quote is not None  # quotes are never deleted
    if quote["status"] == "withdrawn":
        raise ConflictError("the quote was withdrawn", code="QUOTE_WITHDRAWN")
    if quote["status"] in ("awarded", "declined"):
        raise ConflictError(f"the quote was {quote['status']}", code="RFQ_NOT_OPEN")
    return rfq, quote


async def revise(
    conn: Conn, quote_id: int, supplier_id: int, spec: CommoditySpec,
    changes: dict[str, Any], now: datetime, *,
    action: RoundAction = RoundAction.REVISED, message: str = "",
) -> asyncpg.Record:  # fmt: skip
    rfq, quote = await _locked(conn, quote_id, supplier_id)
    offer = Offer(
        price=changes.get("price") or quote["price_ticks"],
        quantity=changes.get("quantity") or quote["quantity_lots"],
        origin_region=changes.get("origin_region") or quote["origin_region"],
        valid_until=changes.get("valid_until") or quote["valid_until"],
    )
    await _check_offer(conn, rfq, spec, offer, now)
    bidding.check_revision(rfq, quote, offer)
    revision = quote["revision"] + 1
    await conn.execute(
        """UPDATE quotes SET revision = $2, price_ticks = $3, quantity_lots = $4,
               origin_region = $5, valid_until = $6, status = 'revised', updated_at = $7
         WHERE id = $1""",
        quote_id, revision, offer.price, offer.quantity, offer.origin_region,
        offer.valid_until, now,
    )  # fmt: skip
    await _record(conn, quote_id, revision, offer, now)
    await rounds.by_supplier(conn, quote_id, action, now, message)  # answers a pending counter
    await bidding.after_bid(conn, rfq, now)
    return await owned(conn, quote_id, supplier_id)


async def withdraw(conn: Conn, quote_id: int, supplier_id: int, now: datetime) -> asyncpg.Record:
    rfq, _ = await _locked(conn, quote_id, supplier_id)
    if status_of(rfq, now) is not RfqStatus.OPEN:
        raise ConflictError(f"the RFQ is {status_of(rfq, now)}", code="RFQ_NOT_OPEN")
    bidding.check_withdraw(rfq)
    await conn.execute(
        "UPDATE quotes SET status = 'withdrawn', updated_at = $2 WHERE id = $1", quote_id, now
    )
    await rounds.by_supplier(conn, quote_id, RoundAction.WITHDRAWN, now)
    return await owned(conn, quote_id, supplier_id)


async def view(conn: Queryable, row: asyncpg.Record, spec: CommoditySpec, now: datetime) -> Quote:
    history = [
        QuoteRevision(
            revision=r["revision"],
            price=spec.price_text(r["price_ticks"]),
            quantity=spec.quantity_text(r["quantity_lots"]),
            origin_region=r["origin_region"],
            valid_until=r["valid_until"],
            made_at=r["made_at"],
        )
        for r in await conn.fetch(
            "SELECT * FROM quote_revisions WHERE quote_id = $1 ORDER BY revision", row["id"]
        )
    ]
    return Quote(
        id=row["id"], rfq_id=row["rfq_id"], supplier_id=row["supplier_id"],
        status=quote_status(row, now), revision=row["revision"],
        price=spec.price_text(row["price_ticks"]),
        quantity=spec.quantity_text(row["quantity_lots"]),
        origin_region=row["origin_region"], valid_until=row["valid_until"], history=history,
        negotiation=await rounds.history(conn, row["id"], spec),
        created_at=row["created_at"], updated_at=row["updated_at"],
    )  # fmt: skip


async def of_rfq(
    conn: Queryable, rfq: asyncpg.Record, viewer: Viewer, now: datetime
) -> list[asyncpg.Record]:
    """The quotes on an RFQ the viewer may see: all for its buyer (none while sealed), its own
    for a supplier."""
    everyone = rfq["buyer_id"] == viewer.participant_id and not sealing.sealed(rfq, now)
    return await conn.fetch(
        "SELECT * FROM quotes WHERE rfq_id = $1 AND ($2 OR supplier_id = $3) ORDER BY id",
        rfq["id"], everyone, viewer.participant_id,
    )  # fmt: skip


async def spec_of(conn: Queryable, rfq_id: int) -> CommoditySpec:
    """The commodity of an RFQ (and of its quotes)."""
    commodity_id = await conn.fetchval("SELECT commodity_id FROM rfqs WHERE id = $1", rfq_id)
    return await spec_by_id(conn, commodity_id)
