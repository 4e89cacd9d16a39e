"""The buyer's comparison of an RFQ's live quotes, ranked by landed cost (docs/negotiation.md).

Reads the quotes, the published lanes of active nodes and each supplier's credit profile;
the arithmetic is `landed.py`'s."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from exchange.db import Queryable
from exchange.delivery.credit import credit_profile
from exchange.messages.rfqs import ComparedQuote, Comparison, LaneUsed, QuoteStatus, Supplier
from exchange.negotiation import quotes, sealing
from exchange.negotiation.landed import Landed, LaneRate, landed, ranked
from exchange.reference import CommoditySpec
from exchange.units import format_scaled

METHOD = (
    "landed_cost = price + freight, per unit; freight = the rate per whole unit of the cheapest"
    " lane (then the fastest) that an active node publishes for this commodity from the quote's"
    " origin_region to the RFQ's region. Ranked by landed cost, then by time of quote; quotes no"
    " lane reaches come last. Withdrawn and lapsed quotes are left out."
)
_LANES = """SELECT n.code, l.rate_minor, l.transit_days
  FROM lanes l JOIN nodes n ON n.id = l.node_id
 WHERE l.commodity_id = $1 AND l.origin_region = $2 AND l.destination_region = $3
   AND n.status = 'active'"""


def _explain(spec: CommoditySpec, cost: Landed, origin: str, region: str) -> str:
    def money(minor: int) -> str:
        return f"{format_scaled(minor, spec.price_scale)} {spec.currency}"

    if cost.lane is None or cost.landed_minor is None:
        return f"price {money(cost.price_minor)}; no active node publishes a lane {origin} ->" \
            f" {region} for this commodity, so no landed cost"  # fmt: skip
    return (
        f"price {money(cost.price_minor)} + freight {money(cost.lane.rate_minor)} (node"
        f" {cost.lane.node}, lane {origin} -> {region}, {cost.lane.transit_days} days) ="
        f" landed {money(cost.landed_minor)} per unit"
    )


async def live_quotes(
    conn: Queryable, rfq: asyncpg.Record, spec: CommoditySpec, now: datetime
) -> tuple[dict[int, asyncpg.Record], dict[int, Landed], dict[int, int]]:
    """The RFQ's live quotes (id -> row), their landed costs and their order of arrival (by
    the time of the latest revision): what the comparison and an auction's standing rank."""
    rows = await conn.fetch(
        """SELECT q.*, p.legal_name, p.status AS supplier_status
             FROM quotes q JOIN participants p ON p.id = q.supplier_id
            WHERE q.rfq_id = $1 ORDER BY q.updated_at, q.id""",
        rfq["id"],
    )
    live = {r["id"]: r for r in rows if quotes.quote_status(r, now) not in _GONE}
    costs: dict[int, Landed] = {}
    for quote_id, row in live.items():
        found = await conn.fetch(_LANES, spec.id, row["origin_region"], rfq["region"])
        lanes = [LaneRate(r["code"], r["rate_minor"], r["transit_days"]) for r in found]
        costs[quote_id] = landed(row["price_ticks"] * spec.tick_size_minor, lanes)
    return live, costs, {quote_id: n for n, quote_id in enumerate(live)}


async def compare(
    conn: Queryable, rfq: asyncpg.Record, spec: CommoditySpec, now: datetime
) -> Comparison:
    if sealing.sealed(rfq, now):
        return Comparison(rfq_id=rfq["id"], currency=spec.currency, region=rfq["region"],
                          method=METHOD, quotes=[],
                          sealed_until=sealing.sealed_until(rfq, now))  # fmt: skip
    live, costs, arrival = await live_quotes(conn, rfq, spec, now)
    compared = []
    for rank, quote_id in enumerate(ranked(costs, arrival), start=1):
        row, cost = live[quote_id], costs[quote_id]
        compared.append(await _compared(conn, rank, row, cost, spec, rfq["region"], now))
    return Comparison(rfq_id=rfq["id"], currency=spec.currency, region=rfq["region"],
                      method=METHOD, quotes=compared)  # fmt: skip


_GONE = {QuoteStatus.WITHDRAWN, QuoteStatus.LAPSED}


async def _compared(
    conn: Queryable, rank: int, row: asyncpg.Record, cost: Landed, spec: CommoditySpec,
    region: str, now: datetime,
) -> ComparedQuote:  # fmt: skip
    def text(minor: int | None) -> str | None:
        return None if minor is None else format_scaled(minor, spec.price_scale)

    lane = cost.lane
    return ComparedQuote(
        rank=rank,
        quote=await quotes.view(conn, row, spec, now),
        supplier=Supplier(
            participant_id=row["supplier_id"],
            legal_name=row["legal_name"],
            credit=await credit_profile(conn, row["supplier_id"]),
        ),
        price=format_scaled(cost.price_minor, spec.price_scale),
        freight=text(cost.freight_minor),
        landed_cost=text(cost.landed_minor),
        lane=None
        if lane is None
        else LaneUsed(
            node=lane.node,
            rate=format_scaled(lane.rate_minor, spec.price_scale),
            transit_days=lane.transit_days,
        ),
        explanation=_explain(spec, cost, row["origin_region"], region),
    )
