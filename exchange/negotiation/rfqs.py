"""Requests for quotation: create, show to the parties it concerns, cancel (docs/negotiation.md).

An RFQ is the buyer's; a supplier sees it when it is open to all suppliers or the supplier is
invited. To anyone else it does not exist (404 UNKNOWN_RFQ)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from exchange.bounds import BIGINT_MAX, check_bigint, check_date, check_time
from exchange.db import Conn, Queryable
from exchange.errors import ConflictError, NotFoundError, UnprocessableError
from exchange.messages.rfqs import Rfq, RfqAward, RfqMode, RfqStatus
from exchange.negotiation import bidding, sealing
from exchange.negotiation.listings import check_region, spec_by_id
from exchange.reference import CommoditySpec

COLUMNS = """r.id, r.commodity_id, r.buyer_id, r.mode, r.quantity_lots, r.min_quote_lots,
    r.max_price_ticks, r.region, r.delivery_earliest, r.delivery_latest, r.closes_at,
    r.specification, r.invited_only, r.status, r.created_at, r.updated_at, r.award,
    r.soft_close_minutes, r.original_closes_at, r.extensions"""
# the RFQs a participant ($1) may see: its own, and those open to it as a supplier ($2)
VISIBLE = """(r.buyer_id = $1 OR ($2 AND (NOT r.invited_only OR EXISTS (
    SELECT 1 FROM rfq_invitations i WHERE i.rfq_id = r.id AND i.supplier_id = $1))))"""


@dataclass(frozen=True, slots=True)
class NewRfq:
    """An RFQ as the buyer asked for it, in integers."""

    spec: CommoditySpec
    buyer_id: int
    mode: RfqMode
    quantity: int
    min_quote: int
    max_price: int | None
    region: str
    window: tuple[Any, Any]
    closes_at: datetime
    invited: list[int] | None
    specification: str
    award: RfqAward = RfqAward.MANUAL
    soft_close_minutes: int | None = None  # reverse auctions: bidding.soft_close


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks: the RFQ's buyer sees all of it, a supplier what is open to it."""

    participant_id: int
    supplier: bool


def unprocessable(field: str, message: str, code: str) -> UnprocessableError:
    return UnprocessableError(
        f"{field}: {message}", code=code, field_errors=[(f"$.{field}", message)]
    )


def status_of(row: asyncpg.Record, now: datetime) -> RfqStatus:
    if row["status"] != "open":
        return RfqStatus(row["status"])
    return RfqStatus.OPEN if row["closes_at"] > now else RfqStatus.CLOSED


async def _check_invited(conn: Conn, invited: list[int]) -> None:
    found = await conn.fetchval(
        """SELECT count(*) FROM participants
            WHERE id = ANY($1::bigint[]) AND 'supplier' = ANY(roles)""",
        [check_bigint(i, "invited") for i in set(invited)],
    )
    if found != len(set(invited)):
        raise unprocessable("invited", "names a participant that is not a supplier",
                            "UNKNOWN_SUPPLIER")  # fmt: skip


async def create(conn: Conn, new: NewRfq, now: datetime) -> asyncpg.Record:
    soft_close = bidding.soft_close(new.mode, new.soft_close_minutes)
    check_time(new.closes_at, "closes_at")
    check_date(new.window[0], "delivery_earliest")
    check_date(new.window[1], "delivery_latest")
    if new.max_price is not None:
        check_bigint(new.spec.amount_minor(new.max_price, new.quantity), "max_price",
                     "max_price x quantity")  # fmt: skip
    if new.min_quote > new.quantity:
        raise unprocessable("min_quantity", "is more than the quantity", "MINIMUM_ABOVE_QUANTITY")
    if new.closes_at <= now:
        raise unprocessable("closes_at", "is not in the future", "CLOSES_AT_PASSED")
    await check_region(conn, new.region)
    if new.invited:
        await _check_invited(conn, new.invited)
    rfq_id = await conn.fetchval(
        """INSERT INTO rfqs (commodity_id, buyer_id, mode, quantity_lots, min_quote_lots,
               max_price_ticks, region, delivery_earliest, delivery_latest, closes_at,
               specification, invited_only, created_at, updated_at, award,
               soft_close_minutes)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15)
         RETURNING id""",
        new.spec.id, new.buyer_id, str(new.mode), new.quantity, new.min_quote, new.max_price,
        new.region, new.window[0], new.window[1], new.closes_at, new.specification,
        bool(new.invited), now, str(new.award), soft_close,
    )  # fmt: skip
    if new.invited:
        await conn.execute(
            "INSERT INTO rfq_invitations (rfq_id, supplier_id)"
            " SELECT $1, unnest($2::bigint[])",
            rfq_id, sorted(set(new.invited)),
        )  # fmt: skip
    return await visible(conn, rfq_id, Viewer(new.buyer_id, supplier=False))


async def visible(
    conn: Queryable, rfq_id: int, viewer: Viewer, *, lock: bool = False
) -> asyncpg.Record:
    """The RFQ's row if the viewer may see it (locked if asked), or 404."""
    suffix = " FOR UPDATE OF r" if lock else ""
    if rfq_id > BIGINT_MAX:
        raise NotFoundError(f"RFQ {rfq_id} does not exist", code="UNKNOWN_RFQ")
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM rfqs r WHERE r.id = $3 AND {VISIBLE}{suffix}",
        viewer.participant_id, viewer.supplier, rfq_id,
    )  # fmt: skip
    if row is None:
        raise NotFoundError(f"RFQ {rfq_id} does not exist", code="UNKNOWN_RFQ")
    return row  # type: ignore[no-any-return]


async def view(conn: Queryable, row: asyncpg.Record, viewer: Viewer, now: datetime) -> Rfq:
    spec = await spec_by_id(conn, row["commodity_id"])
    invited = None
    if row["invited_only"] and row["buyer_id"] == viewer.participant_id:
        invited = [
            r["supplier_id"]
            for r in await conn.fetch(
                "SELECT supplier_id FROM rfq_invitations WHERE rfq_id = $1 ORDER BY 1", row["id"]
            )
        ]
    maximum = row["max_price_ticks"]
    return Rfq(
        id=row["id"], commodity=spec.code, buyer_id=row["buyer_id"], mode=RfqMode(row["mode"]),
        award=RfqAward(row["award"]), status=status_of(row, now),
        quantity=spec.quantity_text(row["quantity_lots"]),
        min_quantity=spec.quantity_text(row["min_quote_lots"]),
        max_price=None if maximum is None else spec.price_text(maximum),
        currency=spec.currency, region=row["region"],
        delivery_earliest=row["delivery_earliest"], delivery_latest=row["delivery_latest"],
        closes_at=row["closes_at"], invited=invited, specification=row["specification"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        sealed_until=sealing.sealed_until(row, now), auction=bidding.terms(row),
    )  # fmt: skip


async def cancel(conn: Conn, rfq_id: int, buyer_id: int, now: datetime) -> asyncpg.Record:
    row = await visible(conn, rfq_id, Viewer(buyer_id, supplier=False), lock=True)
    if status_of(row, now) is not RfqStatus.OPEN:
        raise ConflictError(f"the RFQ is {status_of(row, now)}", code="RFQ_NOT_OPEN")
    await conn.execute(
        "UPDATE rfqs SET status = 'cancelled', updated_at = $2 WHERE id = $1", rfq_id, now
    )
    return await visible(conn, rfq_id, Viewer(buyer_id, supplier=False))
