"""Commodities and regions in PostgreSQL, with exact unit conversion at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from exchange.bounds import check_bigint
from exchange.db import Conn, Queryable
from exchange.errors import ConflictError, NotFoundError, UnprocessableError
from exchange.messages.reference import (
    Commodity,
    CreateCommodity,
    CreateRegion,
    Region,
    TradingStatus,
    UpdateCommodity,
)
from exchange.units import (
    QUANTITY_SCALE,
    UnitsError,
    currency_exponent,
    format_scaled,
    parse_scaled,
    round_half_up,
)

_COMMODITY_COLUMNS = """id, code, name, unit, currency, tick_size_minor, lot_size_micro,
    min_quantity_lots, fee_rate_bps, review_threshold_minor, payment_due_hours, trading_status,
    delivery_days, late_payment_penalty_bps, late_delivery_penalty_bps, claim_window_days,
    payment_grace_hours, reference_price_minor, price_band_bps, max_order_lots, created_at,
    updated_at"""
_CONTRACT_TERMS = (
    "delivery_days",
    "late_payment_penalty_bps",
    "late_delivery_penalty_bps",
    "claim_window_days",
    "payment_grace_hours",
)


@dataclass(frozen=True, slots=True)
class CommoditySpec:
    """A commodity as the core sees it: integers only, and the conversions at the edge."""

    id: int
    code: str
    name: str
    unit: str
    currency: str
    price_scale: int
    tick_size_minor: int
    lot_size_micro: int
    min_quantity_lots: int
    fee_rate_bps: int
    review_threshold_minor: int
    payment_due_hours: int
    trading_status: TradingStatus
    delivery_days: int = 14
    late_payment_penalty_bps: int = 5
    late_delivery_penalty_bps: int = 5
    claim_window_days: int = 7
    payment_grace_hours: int = 72
    reference_price_minor: int | None = None  # with price_band_bps: the price band's centre
    price_band_bps: int | None = None
    max_order_lots: int | None = None

    def price_text(self, ticks: int) -> str:
        """A book price (whole ticks) as the decimal string the API speaks."""
        return format_scaled(ticks * self.tick_size_minor, self.price_scale)

    def quantity_text(self, lots: int) -> str:
        """A book quantity (whole lots) as a decimal string in the commodity's unit."""
        return format_scaled(lots * self.lot_size_micro, QUANTITY_SCALE)

    def amount_minor(self, ticks: int, lots: int) -> int:
        """price x quantity in minor currency units, rounded half-up to a whole minor unit."""
        exact = ticks * self.tick_size_minor * lots * self.lot_size_micro
        return round_half_up(exact, 10**QUANTITY_SCALE)

    def price_ticks(self, text: str) -> int:
        """A decimal price as whole ticks; UnitsError if it is not on the tick."""
        minor = parse_scaled(text, self.price_scale)
        if minor % self.tick_size_minor:
            raise UnitsError(f"{text} is not a multiple of the tick size")
        return minor // self.tick_size_minor

    def quantity_lots(self, text: str) -> int:
        """A decimal quantity as whole lots; UnitsError if it is not a whole number of lots."""
        micro = parse_scaled(text, QUANTITY_SCALE)
        if micro % self.lot_size_micro:
            raise UnitsError(f"{text} is not a multiple of the lot size")
        return micro // self.lot_size_micro


def _scaled(field: str, text: str, scale: int, *, positive: bool = True) -> int:
    """A decimal at `scale`, as an integer a `bigint` column holds (422 naming the field)."""
    try:
        value = parse_scaled(text, scale)
    except UnitsError as exc:
        raise UnprocessableError(
            f"{field}: {exc}", code="INVALID_DECIMAL", field_errors=[(f"$.{field}", str(exc))]
        ) from None
    if positive and value <= 0:
        raise UnprocessableError(
            f"{field} must be greater than zero",
            field_errors=[(f"$.{field}", "must be greater than zero")],
        )
    return check_bigint(value, field)


def _currency(code: str) -> int:
    try:
        return currency_exponent(code)
    except UnitsError as exc:
        raise UnprocessableError(
            str(exc), code="UNSUPPORTED_CURRENCY", field_errors=[("$.currency", str(exc))]
        ) from None


def _whole_lots(field: str, text: str, lot_size_micro: int) -> int:
    micro = _scaled(field, text, QUANTITY_SCALE)
    if micro % lot_size_micro:
        raise UnprocessableError(
            f"{field} must be a whole number of lots",
            code="QUANTITY_OFF_LOT",
            field_errors=[(f"$.{field}", "not a multiple of lot_size")],
        )
    return micro // lot_size_micro


def _limit_columns(values: dict[str, Any], scale: int, lot_size_micro: int) -> dict[str, Any]:
    """The columns of the given price band and maximum order quantity (None clears them)."""
    columns: dict[str, Any] = {}
    if "reference_price" in values:
        text = values["reference_price"]
        columns["reference_price_minor"] = (
            None if text is None else _scaled("reference_price", text, scale)
        )
    if "price_band_bps" in values:
        columns["price_band_bps"] = values["price_band_bps"]
    if "max_order_quantity" in values:
        text = values["max_order_quantity"]
        columns["max_order_lots"] = (
            None if text is None else _whole_lots("max_order_quantity", text, lot_size_micro)
        )
    return columns


def _check_limits(min_quantity_lots: int, max_order_lots: int | None) -> None:
    if max_order_lots is not None and max_order_lots < min_quantity_lots:
        raise UnprocessableError(
            "max_order_quantity is below min_quantity",
            field_errors=[("$.max_order_quantity", "must not be below min_quantity")],
        )


def commodity_from_row(row: asyncpg.Record) -> Commodity:
    scale = currency_exponent(row["currency"])
    return Commodity(
        code=row["code"],
        name=row["name"],
        unit=row["unit"],
        currency=row["currency"],
        tick_size=format_scaled(row["tick_size_minor"], scale),
        lot_size=format_scaled(row["lot_size_micro"], QUANTITY_SCALE),
        min_quantity=format_scaled(
            row["min_quantity_lots"] * row["lot_size_micro"], QUANTITY_SCALE
        ),
        fee_rate_bps=row["fee_rate_bps"],
        review_threshold=format_scaled(row["review_threshold_minor"], scale),
        payment_due_hours=row["payment_due_hours"],
        trading_status=TradingStatus(row["trading_status"]),
        **{name: row[name] for name in _CONTRACT_TERMS},
        reference_price=(
            None
            if row["reference_price_minor"] is None
            else format_scaled(row["reference_price_minor"], scale)
        ),
        price_band_bps=row["price_band_bps"],
        max_order_quantity=(
            None
            if row["max_order_lots"] is None
            else format_scaled(row["max_order_lots"] * row["lot_size_micro"], QUANTITY_SCALE)
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def spec_from_row(row: asyncpg.Record) -> CommoditySpec:
    return CommoditySpec(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        unit=row["unit"],
        currency=row["currency"],
        price_scale=currency_exponent(row["currency"]),
        tick_size_minor=row["tick_size_minor"],
        lot_size_micro=row["lot_size_micro"],
        min_quantity_lots=row["min_quantity_lots"],
        fee_rate_bps=row["fee_rate_bps"],
        review_threshold_minor=row["review_threshold_minor"],
        payment_due_hours=row["payment_due_hours"],
        trading_status=TradingStatus(row["trading_status"]),
        **{name: row[name] for name in _CONTRACT_TERMS},
        reference_price_minor=row["reference_price_minor"],
        price_band_bps=row["price_band_bps"],
        max_order_lots=row["max_order_lots"],
    )


async def create_commodity(conn: Conn, new: CreateCommodity) -> Commodity:
    scale = _currency(new.currency)
    tick = _scaled("tick_size", new.tick_size, scale)
    lot = _scaled("lot_size", new.lot_size, QUANTITY_SCALE)
    min_lots = _whole_lots("min_quantity", new.min_quantity, lot)
    threshold = _scaled("review_threshold", new.review_threshold, scale, positive=False)
    limits = _limit_columns(msgspec.structs.asdict(new), scale, lot)
    _check_limits(min_lots, limits["max_order_lots"])
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO commodities (code, name, unit, currency, tick_size_minor,
                    lot_size_micro, min_quantity_lots, fee_rate_bps, review_threshold_minor,
                    payment_due_hours, delivery_days, late_payment_penalty_bps,
                    late_delivery_penalty_bps, claim_window_days, reference_price_minor,
                    price_band_bps, max_order_lots, payment_grace_hours)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                        $17, $18)
                RETURNING {_COMMODITY_COLUMNS}""",
            new.code, new.name, new.unit, new.currency, tick, lot, min_lots,
            new.fee_rate_bps, threshold, new.payment_due_hours, new.delivery_days,
            new.late_payment_penalty_bps, new.late_delivery_penalty_bps, new.claim_window_days,
            limits["reference_price_minor"], limits["price_band_bps"], limits["max_order_lots"],
            new.payment_grace_hours,
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        raise ConflictError(
            f"commodity {new.code!r} already exists", code="DUPLICATE_COMMODITY"
        ) from None
    assert row is not None
    return commodity_from_row(row)


async def _commodity_row(conn: Queryable, code: str) -> asyncpg.Record:
    row = await conn.fetchrow(f"SELECT {_COMMODITY_COLUMNS} FROM commodities WHERE code=$1", code)
    if row is None:
        raise NotFoundError(f"commodity {code!r} does not exist", code="UNKNOWN_COMMODITY")
    return row  # type: ignore[no-any-return]


async def get_commodity(conn: Queryable, code: str) -> Commodity:
    return commodity_from_row(await _commodity_row(conn, code))


async def list_commodities(pool: Queryable, after: str | None, limit: int) -> list[Commodity]:
    rows = await pool.fetch(
        f"SELECT {_COMMODITY_COLUMNS} FROM commodities WHERE code > $1 ORDER BY code LIMIT $2",
        after or "",
        limit,
    )
    return [commodity_from_row(row) for row in rows]


async def load_specs(conn: Queryable) -> list[CommoditySpec]:
    rows = await conn.fetch(f"SELECT {_COMMODITY_COLUMNS} FROM commodities ORDER BY id")
    return [spec_from_row(row) for row in rows]


async def update_commodity(conn: Conn, code: str, change: UpdateCommodity) -> Commodity:
    row = await _commodity_row(conn, code)
    scale = currency_exponent(row["currency"])
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    columns: dict[str, object] = {}
    for name in ("name", "unit", "fee_rate_bps", "payment_due_hours", *_CONTRACT_TERMS):
        if name in values:
            columns[name] = values[name]
    if "min_quantity" in values:
        columns["min_quantity_lots"] = _whole_lots(
            "min_quantity", values["min_quantity"], row["lot_size_micro"]
        )
    if "review_threshold" in values:
        columns["review_threshold_minor"] = _scaled(
            "review_threshold", values["review_threshold"], scale, positive=False
        )
    columns |= _limit_columns(values, scale, row["lot_size_micro"])
    _check_update(row, columns)
    if not columns:
        return commodity_from_row(row)
    assignments = ", ".join(f"{name}=${i}" for i, name in enumerate(columns, start=2))
    updated = await conn.fetchrow(
        f"UPDATE commodities SET {assignments}, updated_at=now() WHERE code=$1"
        f" RETURNING {_COMMODITY_COLUMNS}",
        code,
        *columns.values(),
    )
    assert updated is not None
    return commodity_from_row(updated)


def _check_update(row: asyncpg.Record, columns: dict[str, Any]) -> None:
    """The commodity as it would be after the change keeps its limits consistent."""
    after = {name: columns.get(name, row[name]) for name in row.keys()}  # noqa: SIM118
    if (after["reference_price_minor"] is None) != (after["price_band_bps"] is None):
        raise UnprocessableError(
            "reference_price and price_band_bps are set (or cleared) together",
            field_errors=[("$.price_band_bps", "give both, or null for both")],
        )
    _check_limits(after["min_quantity_lots"], after["max_order_lots"])


async def set_trading_status(conn: Conn, code: str, status: TradingStatus) -> Commodity:
    row = await conn.fetchrow(
        f"UPDATE commodities SET trading_status=$2, updated_at=now() WHERE code=$1"
        f" RETURNING {_COMMODITY_COLUMNS}",
        code,
        str(status),
    )
    if row is None:
        raise NotFoundError(f"commodity {code!r} does not exist", code="UNKNOWN_COMMODITY")
    return commodity_from_row(row)


# -- regions ------------------------------------------------------------------------------


def _region(row: asyncpg.Record) -> Region:
    return Region(**dict(row))


async def create_region(conn: Conn, new: CreateRegion) -> Region:
    try:
        row = await conn.fetchrow(
            "INSERT INTO regions (code, name) VALUES ($1, $2)"
            " RETURNING code, name, created_at, updated_at",
            new.code,
            new.name,
        )
    except asyncpg.UniqueViolationError:
        raise ConflictError(
            f"region {new.code!r} already exists", code="DUPLICATE_REGION"
        ) from None
    assert row is not None
    return _region(row)


async def list_regions(pool: Queryable, after: str | None, limit: int) -> list[Region]:
    rows = await pool.fetch(
        "SELECT code, name, created_at, updated_at FROM regions WHERE code > $1"
        " ORDER BY code LIMIT $2",
        after or "",
        limit,
    )
    return [_region(row) for row in rows]


async def get_region(pool: Queryable, code: str) -> Region:
    row = await pool.fetchrow(
        "SELECT code, name, created_at, updated_at FROM regions WHERE code=$1", code
    )
    if row is None:
        raise NotFoundError(f"region {code!r} does not exist", code="UNKNOWN_REGION")
    return _region(row)


async def rename_region(conn: Conn, code: str, name: str) -> Region:
    row = await conn.fetchrow(
        "UPDATE regions SET name=$2, updated_at=now() WHERE code=$1"
        " RETURNING code, name, created_at, updated_at",
        code,
        name,
    )
    if row is None:
        raise NotFoundError(f"region {code!r} does not exist", code="UNKNOWN_REGION")
    return _region(row)
