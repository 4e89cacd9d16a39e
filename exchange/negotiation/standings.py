"""A supplier's standing in a reverse auction, read from the rows the buyer's comparison reads
(docs/negotiation.md, "Sealed quotes and reverse auctions").

`standing_of` is what `GET /v1/rfqs/{id}/standing` answers and what a push of a supplier's
standing (the `rfqs` WebSocket channel) can send: its own bid, its rank, the best landed cost
and the number of live bids; never who bids or what another bid is."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from exchange.db import Queryable
from exchange.errors import ConflictError
from exchange.messages.rfq_modes import Standing
from exchange.negotiation import auction, bidding
from exchange.negotiation.comparison import live_quotes
from exchange.reference import CommoditySpec
from exchange.units import format_scaled

METHOD = (
    "rank among the live bids by landed cost per unit (price + freight on the cheapest lane"
    " an active node publishes from the bid's origin_region to the RFQ's region), then by the"
    " time of the latest bid; bids no lane reaches come last. best_landed_cost is the lowest"
    " landed cost of any live bid."
)


async def standing_of(
    conn: Queryable, rfq: asyncpg.Record, supplier_id: int, spec: CommoditySpec, now: datetime
) -> Standing:
    """The supplier's standing, or 409 if the RFQ is no auction or it has no live bid."""
    found = await standings_of(conn, rfq, spec, now)
    if supplier_id not in found:
        raise ConflictError("the supplier has no live bid on this RFQ", code="NO_LIVE_BID")
    return found[supplier_id]


async def standings_of(
    conn: Queryable, rfq: asyncpg.Record, spec: CommoditySpec, now: datetime
) -> dict[int, Standing]:
    """Every bidder's standing (supplier id -> standing) from one read of the live bids, or
    409 if the RFQ is no auction."""
    terms = bidding.terms(rfq)
    if terms is None:
        raise ConflictError("the RFQ is not a reverse auction", code="NOT_AN_AUCTION")
    live, costs, arrival = await live_quotes(conn, rfq, spec, now)

    def text(minor: int | None) -> str | None:
        return None if minor is None else format_scaled(minor, spec.price_scale)

    found = {}
    for quote_id, row in live.items():  # one live bid per supplier
        place = auction.standing(costs, arrival, quote_id)
        found[row["supplier_id"]] = Standing(
            rfq_id=rfq["id"], quote_id=quote_id, rank=place.rank, live_bids=place.live_bids,
            best_landed_cost=text(place.best_landed_minor),
            price=format_scaled(place.own.price_minor, spec.price_scale),
            landed_cost=text(place.own.landed_minor), currency=spec.currency,
            closes_at=rfq["closes_at"], auction=terms, method=METHOD,
        )  # fmt: skip
    return found
