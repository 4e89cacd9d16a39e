"""Awarding an RFQ: one or several quotes, a quantity each (docs/negotiation.md, "RFQs").

One transaction locks the RFQ's row, then its quotes', checks every line, issues one contract
per line through `issue_contracts` (a `Deal` of source `rfq` whose source id is the award's
id, a row of `rfq_awards`), marks the awarded quotes, declines the other live ones and settles
the RFQ as `awarded` or `partially_awarded`; all of it or nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from exchange.contracts.deal import Deal, DealSource
from exchange.contracts.issue import issue_contracts
from exchange.contracts.signing import Signer
from exchange.db import Conn
from exchange.errors import ConflictError
from exchange.messages.contracts import Contract
from exchange.messages.rfqs import QuoteStatus
from exchange.negotiation import rounds, sealing
from exchange.negotiation.listings import check_trading
from exchange.negotiation.quotes import quote_status
from exchange.negotiation.rfqs import Viewer, unprocessable, visible
from exchange.negotiation.suspension import check_suppliers_active
from exchange.reference import CommoditySpec

# the buyer may still award this long after closing; after it the RFQ has expired
AWARD_GRACE = timedelta(hours=24)
LIVE = (QuoteStatus.SUBMITTED, QuoteStatus.COUNTERED, QuoteStatus.REVISED)


def _check_rfq(rfq: asyncpg.Record, now: datetime) -> None:
    if rfq["status"] == "expired":
        raise ConflictError("the RFQ expired: its award grace has passed", code="RFQ_EXPIRED")
    if rfq["status"] != "open":
        raise ConflictError(f"the RFQ is {rfq['status']}", code="RFQ_NOT_OPEN")
    if now > rfq["closes_at"] + AWARD_GRACE:
        raise ConflictError("the RFQ expired: its award grace has passed", code="RFQ_EXPIRED")
    sealing.check_award(rfq, now)


def _check_line(rfq: asyncpg.Record, quote: asyncpg.Record | None, lots: int,
                now: datetime) -> asyncpg.Record:  # fmt: skip
    if quote is None or quote["rfq_id"] != rfq["id"]:
        raise unprocessable("awards", "names a quote that is not on this RFQ", "UNKNOWN_QUOTE")
    status = quote_status(quote, now)
    if status is QuoteStatus.WITHDRAWN:
        raise ConflictError(f"quote {quote['id']} was withdrawn", code="QUOTE_WITHDRAWN")
    if status not in LIVE:
        raise ConflictError(f"quote {quote['id']} is {status}", code="QUOTE_NOT_LIVE")
    if lots > quote["quantity_lots"]:
        raise unprocessable("awards", f"more than quote {quote['id']} offers",
                            "ABOVE_QUOTE_QUANTITY")  # fmt: skip
    if lots < min(rfq["min_quote_lots"], quote["quantity_lots"]):
        raise unprocessable("awards", "below the RFQ's minimum per supplier", "BELOW_MINIMUM")
    return quote


async def award(
    conn: Conn, rfq_id: int, buyer_id: int, lines: list[tuple[int, int]], spec: CommoditySpec,
    now: datetime, signer: Signer,
) -> tuple[asyncpg.Record, list[tuple[int, asyncpg.Record, int, Contract]]]:  # fmt: skip
    """(RFQ row after, [(award id, quote, lots, contract)]) of awarding `lines` (quote id,
    lots), in the caller's transaction."""
    rfq = await visible(conn, rfq_id, Viewer(buyer_id, supplier=False), lock=True)
    _check_rfq(rfq, now)
    if len({quote_id for quote_id, _ in lines}) != len(lines):
        raise unprocessable("awards", "names a quote twice", "DUPLICATE_QUOTE")
    total = sum(lots for _, lots in lines)
    if total > rfq["quantity_lots"]:
        raise unprocessable("awards", "more than the RFQ asks for", "ABOVE_RFQ_QUANTITY")
    rows = await conn.fetch(
        "SELECT * FROM quotes WHERE rfq_id = $1 ORDER BY id FOR UPDATE",
        rfq_id,
    )
    by_id = {row["id"]: row for row in rows}
    chosen = [(_check_line(rfq, by_id.get(q), lots, now), lots) for q, lots in lines]
    await check_suppliers_active(conn, [quote["supplier_id"] for quote, _ in chosen])
    check_trading(spec)
    made = []
    for quote, lots in chosen:
        award_id = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('rfq_awards', 'id'))")
        made.append((award_id, quote, lots))
    deals = [
        Deal(source=DealSource.RFQ, source_id=award_id, spec=spec, seller_id=quote["supplier_id"],
             buyer_id=buyer_id, quantity=lots, price=quote["price_ticks"],
             delivery_region=rfq["region"], origin_region=quote["origin_region"], made_at=now)
        for award_id, quote, lots in made
    ]  # fmt: skip
    contracts = await issue_contracts(conn, deals, signer)
    for (award_id, quote, lots), contract in zip(made, contracts, strict=True):
        await conn.execute(
            """INSERT INTO rfq_awards (id, rfq_id, quote_id, quantity_lots, contract_id,
                   awarded_at) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6)""",
            award_id, rfq_id, quote["id"], lots, contract.id, now,
        )  # fmt: skip
    awarded = [quote["id"] for _, quote, _ in made]
    await rounds.decided(conn, rfq_id, buyer_id, {q["id"]: n for _, q, n in made}, now)
    await conn.execute(
        """UPDATE quotes SET status = CASE WHEN id = ANY($2::bigint[]) THEN 'awarded'
                                           ELSE 'declined' END, updated_at = $3
            WHERE rfq_id = $1 AND status IN ('submitted', 'revised')""",
        rfq_id, awarded, now,
    )  # fmt: skip
    status = "awarded" if total == rfq["quantity_lots"] else "partially_awarded"
    await conn.execute(
        "UPDATE rfqs SET status = $2, updated_at = $3 WHERE id = $1", rfq_id, status, now
    )
    after = await visible(conn, rfq_id, Viewer(buyer_id, supplier=False))
    return after, [(a, q, lots, c) for (a, q, lots), c in zip(made, contracts, strict=True)]
