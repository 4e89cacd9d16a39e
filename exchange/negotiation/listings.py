"""Named listings: publish, amend, withdraw and take (docs/negotiation.md).

A take locks its listing's row, so concurrent takes queue and never oversell; the take, the
listing's new remainder and the contract (issued through `issue_contracts` from a `Deal` of
source `listing`, source id the take's id) commit together or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from exchange.bounds import check_bigint, check_date, check_time
from exchange.contracts.deal import Deal, DealSource
from exchange.contracts.issue import issue_contracts
from exchange.contracts.signing import Signer
from exchange.db import Conn, Queryable
from exchange.delivery.credit import credit_score
from exchange.errors import ConflictError, ForbiddenError, NotFoundError, UnprocessableError
from exchange.messages.contracts import Contract
from exchange.messages.listings import Listing as ListingView
from exchange.messages.listings import ListingStatus, Poster
from exchange.messages.orders import Side
from exchange.messages.reference import TradingStatus
from exchange.reference import CommoditySpec, spec_from_row
from exchange.units import UnitsError

COLUMNS = """l.id, l.commodity_id, l.poster_id, l.side, l.price_ticks, l.quantity_lots,
    l.taken_lots, l.min_take_lots, l.region, l.delivery_earliest, l.delivery_latest,
    l.valid_until, l.specification, l.status, l.created_at, l.updated_at,
    p.legal_name AS poster_name, p.status AS poster_status"""
FROM = "FROM listings l JOIN participants p ON p.id = l.poster_id"
# a listing that may be taken at the moment given as the parameter numbered {now}
OPEN_AT = "l.status = 'open' AND l.taken_lots < l.quantity_lots AND l.valid_until > ${now}"


@dataclass(frozen=True, slots=True)
class NewListing:
    """A listing as the poster asked for it, in integers."""

    spec: CommoditySpec
    poster_id: int
    side: Side
    price: int
    quantity: int
    min_take: int
    region: str
    window: tuple[Any, Any]
    valid_until: datetime
    specification: str


def lots(spec: CommoditySpec, field: str, text: str) -> int:
    """A positive quantity in whole lots, or 422 naming the field."""
    try:
        value = spec.quantity_lots(text)
    except UnitsError as exc:
        raise _unprocessable(field, str(exc), "QUANTITY_OFF_LOT") from None
    if value <= 0:
        raise _unprocessable(field, "must be greater than zero", "INVALID_QUANTITY")
    return check_bigint(value, field)


def ticks(spec: CommoditySpec, text: str) -> int:
    """A positive price in whole ticks, or 422."""
    try:
        value = spec.price_ticks(text)
    except UnitsError as exc:
        raise _unprocessable("price", str(exc), "PRICE_OFF_TICK") from None
    if value <= 0:
        raise _unprocessable("price", "must be greater than zero", "INVALID_PRICE")
    return check_bigint(value, "price")


def _unprocessable(field: str, message: str, code: str) -> UnprocessableError:
    return UnprocessableError(
        f"{field}: {message}", code=code, field_errors=[(f"$.{field}", message)]
    )


async def spec_by_code(conn: Queryable, code: str) -> CommoditySpec:
    row = await conn.fetchrow("SELECT * FROM commodities WHERE code = $1", code)
    if row is None:
        raise UnprocessableError(f"commodity {code!r} does not exist", code="UNKNOWN_COMMODITY")
    return spec_from_row(row)


async def check_region(conn: Queryable, region: str) -> None:
    if await conn.fetchval("SELECT 1 FROM regions WHERE code = $1", region) is None:
        raise _unprocessable("region", f"region {region!r} does not exist", "UNKNOWN_REGION")


def status_of(row: asyncpg.Record, now: datetime) -> ListingStatus:
    if row["status"] == "withdrawn":
        return ListingStatus.WITHDRAWN
    if row["taken_lots"] >= row["quantity_lots"]:
        return ListingStatus.FILLED
    if row["valid_until"] <= now:
        return ListingStatus.EXPIRED
    return ListingStatus.OPEN


async def view(
    conn: Queryable, row: asyncpg.Record, spec: CommoditySpec, now: datetime
) -> ListingView:
    return ListingView(
        id=row["id"],
        commodity=spec.code,
        side=Side(row["side"]),
        status=status_of(row, now),
        price=spec.price_text(row["price_ticks"]),
        currency=spec.currency,
        quantity=spec.quantity_text(row["quantity_lots"]),
        remaining=spec.quantity_text(row["quantity_lots"] - row["taken_lots"]),
        min_quantity=spec.quantity_text(row["min_take_lots"]),
        region=row["region"],
        delivery_earliest=row["delivery_earliest"],
        delivery_latest=row["delivery_latest"],
        valid_until=row["valid_until"],
        specification=row["specification"],
        poster=Poster(
            participant_id=row["poster_id"],
            legal_name=row["poster_name"],
            credit_score=await credit_score(conn, row["poster_id"]),
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def check_amount(spec: CommoditySpec, price: int, quantity: int) -> None:
    """Refuse a listing whose whole amount a contract could not hold (422)."""
    check_bigint(spec.amount_minor(price, quantity), "quantity", "price x quantity")


async def publish(conn: Conn, new: NewListing, now: datetime) -> asyncpg.Record:
    check_time(new.valid_until, "valid_until")
    check_date(new.window[0], "delivery_earliest")
    check_date(new.window[1], "delivery_latest")
    check_amount(new.spec, new.price, new.quantity)
    if new.min_take > new.quantity:
        raise _unprocessable("min_quantity", "is more than the quantity", "MINIMUM_ABOVE_QUANTITY")
    if new.valid_until <= now:
        raise _unprocessable("valid_until", "is not in the future", "VALID_UNTIL_PASSED")
    await check_region(conn, new.region)
    listing_id = await conn.fetchval(
        """INSERT INTO listings (commodity_id, poster_id, side, price_ticks, quantity_lots,
               min_take_lots, region, delivery_earliest, delivery_latest, valid_until,
               specification, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id""",
        new.spec.id, new.poster_id, str(new.side), new.price, new.quantity, new.min_take,
        new.region, new.window[0], new.window[1], new.valid_until, new.specification, now,
    )  # fmt: skip
    return await locked(conn, listing_id)


async def locked(conn: Queryable, listing_id: int, *, lock: bool = False) -> asyncpg.Record:
    """The listing's row (locked for the transaction if asked), or 404."""
    suffix = " FOR UPDATE OF l" if lock else ""
    row = await conn.fetchrow(f"SELECT {COLUMNS} {FROM} WHERE l.id = $1{suffix}", listing_id)
    if row is None:
        raise NotFoundError(f"listing {listing_id} does not exist", code="UNKNOWN_LISTING")
    return row  # type: ignore[no-any-return]


async def owned(conn: Conn, listing_id: int, poster_id: int, now: datetime) -> asyncpg.Record:
    """The poster's own listing, locked, still open; 404 for anyone else's."""
    row = await locked(conn, listing_id, lock=True)
    if row["poster_id"] != poster_id:
        raise NotFoundError(f"listing {listing_id} does not exist", code="UNKNOWN_LISTING")
    if row["status"] == "withdrawn":
        raise ConflictError("the listing was withdrawn", code="LISTING_NOT_OPEN")
    return row


async def amend(
    conn: Conn, row: asyncpg.Record, changes: dict[str, Any], now: datetime
) -> asyncpg.Record:
    quantity = changes.get("quantity_lots")
    check_time(changes.get("valid_until"), "valid_until")
    check_amount(
        await spec_by_id(conn, row["commodity_id"]),
        changes.get("price_ticks") or row["price_ticks"],
        quantity or row["quantity_lots"],
    )
    if quantity is not None and quantity < row["taken_lots"]:
        raise ConflictError("quantity cannot go below what was already taken", code="BELOW_TAKEN")
    if changes.get("valid_until") is not None and changes["valid_until"] <= now:
        raise _unprocessable("valid_until", "is not in the future", "VALID_UNTIL_PASSED")
    await conn.execute(
        """UPDATE listings SET price_ticks = coalesce($2, price_ticks),
               quantity_lots = coalesce($3, quantity_lots),
               valid_until = coalesce($4, valid_until),
               specification = coalesce($5, specification), updated_at = $6
         WHERE id = $1""",
        row["id"], changes.get("price_ticks"), quantity, changes.get("valid_until"),
        changes.get("specification"), now,
    )  # fmt: skip
    return await locked(conn, row["id"])


async def withdraw(conn: Conn, row: asyncpg.Record, now: datetime) -> asyncpg.Record:
    await conn.execute(
        "UPDATE listings SET status = 'withdrawn', updated_at = $2 WHERE id = $1", row["id"], now
    )
    return await locked(conn, row["id"])


@dataclass(frozen=True, slots=True)
class Taker:
    participant_id: int
    roles: frozenset[str]


def _check_take(row: asyncpg.Record, taker: Taker, quantity: int, now: datetime) -> None:
    if row["poster_id"] == taker.participant_id:
        raise ConflictError("a participant cannot take its own listing", code="OWN_LISTING")
    wanted = "buyer" if row["side"] == "sell" else "supplier"
    if wanted not in taker.roles:
        raise ForbiddenError(
            f"taking a {row['side']} listing needs the {wanted} role", code="ROLE_REQUIRED"
        )
    if status_of(row, now) is not ListingStatus.OPEN or row["poster_status"] != "active":
        raise ConflictError(
            f"the listing is {status_of(row, now)}, it cannot be taken", code="LISTING_NOT_OPEN"
        )
    remaining = row["quantity_lots"] - row["taken_lots"]
    if quantity > remaining:
        raise ConflictError("the quantity is more than the listing has left",
                            code="EXCEEDS_REMAINING")  # fmt: skip
    if quantity < min(row["min_take_lots"], remaining):
        raise UnprocessableError(
            "the quantity is below the listing's minimum", code="BELOW_MINIMUM",
            field_errors=[("$.quantity", "below the listing's minimum")],
        )  # fmt: skip


async def take(
    conn: Conn, listing_id: int, taker: Taker, quantity_text: str, now: datetime, signer: Signer
) -> tuple[int, asyncpg.Record, int, Contract]:
    """(take id, listing row after, lots taken, contract) of one take, in the caller's
    transaction."""
    row = await locked(conn, listing_id, lock=True)
    spec = await spec_by_id(conn, row["commodity_id"])
    quantity = lots(spec, "quantity", quantity_text)
    _check_take(row, taker, quantity, now)
    check_trading(spec)
    take_id = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('listing_takes', 'id'))")
    sell = row["side"] == "sell"
    deal = Deal(
        source=DealSource.LISTING, source_id=take_id, spec=spec,
        seller_id=row["poster_id"] if sell else taker.participant_id,
        buyer_id=taker.participant_id if sell else row["poster_id"],
        quantity=quantity, price=row["price_ticks"],
        delivery_region=None if sell else row["region"],
        origin_region=row["region"] if sell else None, made_at=now,
    )  # fmt: skip
    [contract] = await issue_contracts(conn, [deal], signer)
    await conn.execute(
        """INSERT INTO listing_takes (id, listing_id, taker_id, quantity_lots, contract_id,
               taken_at)
           OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6)""",
        take_id, listing_id, taker.participant_id, quantity, contract.id, now,
    )  # fmt: skip
    await conn.execute(
        "UPDATE listings SET taken_lots = taken_lots + $2, updated_at = $3 WHERE id = $1",
        listing_id, quantity, now,
    )  # fmt: skip
    return take_id, await locked(conn, listing_id), quantity, contract


def check_trading(spec: CommoditySpec) -> None:
    """No contract of any source in a commodity its operators halted (409 MARKET_HALTED)."""
    if spec.trading_status is TradingStatus.HALTED:
        raise ConflictError(f"trading in {spec.code} is halted", code="MARKET_HALTED")


async def spec_by_id(conn: Queryable, commodity_id: int) -> CommoditySpec:
    row = await conn.fetchrow("SELECT * FROM commodities WHERE id = $1", commodity_id)
    assert row is not None  # a listing's commodity is never deleted (foreign key)
    return spec_from_row(row)
