"""Market statistics from the `trades` table: tape, 24-hour stats, candles, daily VWAP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from exchange.db import Queryable
from exchange.market.calc import EPOCH, vwap_minor
from exchange.market.l2 import BookView
from exchange.messages.market import Candle, IndexPoint, Ticker
from exchange.messages.orders import PublicTrade, Side
from exchange.reference import CommoditySpec, spec_from_row
from exchange.units import format_scaled

# A trade counts in market statistics only while its contract is in force: a trade whose
# contract was rejected stays on the tape, marked void, and is left out of everything else.
_VOID = """EXISTS (SELECT 1 FROM contracts k
                 WHERE k.trade_id = t.id AND k.commodity_id = t.commodity_id
                   AND k.status = 'rejected')"""
_IN_FORCE = f"NOT {_VOID}"

_STATS = f"""
SELECT c.id, l.price_ticks AS last_price, l.quantity_lots AS last_quantity,
       l.executed_at AS last_at, o.price_ticks AS open, w.trades, w.volume, w.high, w.low
  FROM unnest($1::bigint[]) AS c(id)
  LEFT JOIN LATERAL (
       SELECT price_ticks, quantity_lots, executed_at FROM trades t
        WHERE t.commodity_id = c.id AND {_IN_FORCE}
        ORDER BY t.executed_at DESC, t.id DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (
       SELECT price_ticks FROM trades t
        WHERE t.commodity_id = c.id AND t.executed_at >= now() - interval '24 hours'
          AND {_IN_FORCE}
        ORDER BY t.executed_at, t.id LIMIT 1) o ON true
  LEFT JOIN LATERAL (
       SELECT count(*) AS trades, coalesce(sum(quantity_lots), 0) AS volume,
              max(price_ticks) AS high, min(price_ticks) AS low
         FROM trades t
        WHERE t.commodity_id = c.id AND t.executed_at >= now() - interval '24 hours'
          AND {_IN_FORCE}) w ON true
"""

_CANDLES = f"""
SELECT date_bin($2::interval, executed_at, $5::timestamptz) AS start,
       (array_agg(price_ticks ORDER BY executed_at, id))[1] AS open,
       max(price_ticks) AS high, min(price_ticks) AS low,
       (array_agg(price_ticks ORDER BY executed_at DESC, id DESC))[1] AS close,
       sum(quantity_lots) AS volume, count(*) AS trades
  FROM trades t
 WHERE commodity_id = $1 AND executed_at >= $3 AND executed_at < $4 AND {_IN_FORCE}
 GROUP BY start ORDER BY start
"""

_DAILY = f"""
SELECT (executed_at AT TIME ZONE 'UTC')::date AS day,
       sum(price_ticks::numeric * quantity_lots) AS notional,
       sum(quantity_lots) AS volume, count(*) AS trades
  FROM trades t
 WHERE commodity_id = $1 AND executed_at >= $2 AND executed_at < $3 AND {_IN_FORCE}
 GROUP BY day ORDER BY day
"""


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Last trade ever, and the trades of the last 24 hours, in book integers."""

    last_price: int | None = None
    last_quantity: int | None = None
    last_at: datetime | None = None
    open: int | None = None
    high: int | None = None
    low: int | None = None
    volume: int = 0
    trades: int = 0


async def find_spec(conn: Queryable, code: str) -> CommoditySpec | None:
    row = await conn.fetchrow("SELECT * FROM commodities WHERE code = $1", code)
    return None if row is None else spec_from_row(row)


async def list_specs(conn: Queryable, after: str | None, limit: int) -> list[CommoditySpec]:
    rows = await conn.fetch(
        "SELECT * FROM commodities WHERE code > $1 ORDER BY code LIMIT $2", after or "", limit
    )
    return [spec_from_row(row) for row in rows]


async def trade_stats(conn: Queryable, commodity_ids: list[int]) -> dict[int, TradeStats]:
    """24-hour statistics of each commodity, in one query."""
    rows = await conn.fetch(_STATS, commodity_ids)
    return {
        row["id"]: TradeStats(
            last_price=row["last_price"],
            last_quantity=row["last_quantity"],
            last_at=row["last_at"],
            open=row["open"],
            high=row["high"],
            low=row["low"],
            volume=int(row["volume"]),
            trades=row["trades"],
        )
        for row in rows
    }


def _price(spec: CommoditySpec, ticks: int | None) -> str | None:
    return None if ticks is None else spec.price_text(ticks)


def ticker_of(spec: CommoditySpec, stats: TradeStats, view: BookView | None) -> Ticker:
    view = view or BookView()
    change = None
    if stats.trades and stats.last_price is not None and stats.open is not None:
        change = format_scaled(
            (stats.last_price - stats.open) * spec.tick_size_minor, spec.price_scale
        )
    return Ticker(
        commodity=spec.code,
        currency=spec.currency,
        best_bid=_price(spec, view.best_bid()),
        best_ask=_price(spec, view.best_ask()),
        book_sequence=view.sequence,
        last_price=_price(spec, stats.last_price),
        last_quantity=None
        if stats.last_quantity is None
        else spec.quantity_text(stats.last_quantity),
        last_trade_at=stats.last_at,
        open_24h=_price(spec, stats.open),
        high_24h=_price(spec, stats.high),
        low_24h=_price(spec, stats.low),
        change_24h=change,
        volume_24h=spec.quantity_text(stats.volume),
        trades_24h=stats.trades,
    )


async def tape(
    conn: Queryable, spec: CommoditySpec, before_id: int | None, limit: int
) -> list[PublicTrade]:
    """Public trades, newest first, with ids below `before_id`."""
    rows = await conn.fetch(
        f"""SELECT id, price_ticks, quantity_lots, taker_side, executed_at, {_VOID} AS void
              FROM trades t WHERE commodity_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3""",
        spec.id,
        before_id if before_id is not None else 2**63 - 1,
        limit,
    )
    return [public_trade(spec, row) for row in rows]


async def tape_entry(conn: Queryable, spec: CommoditySpec, trade_id: int) -> PublicTrade | None:
    """One trade as the tape shows it now (void once its contract is rejected)."""
    row = await conn.fetchrow(
        f"""SELECT id, price_ticks, quantity_lots, taker_side, executed_at, {_VOID} AS void
              FROM trades t WHERE commodity_id = $1 AND id = $2""",
        spec.id,
        trade_id,
    )
    return None if row is None else public_trade(spec, row)


def public_trade(spec: CommoditySpec, row: asyncpg.Record) -> PublicTrade:
    return PublicTrade(
        id=row["id"],
        commodity=spec.code,
        price=spec.price_text(row["price_ticks"]),
        quantity=spec.quantity_text(row["quantity_lots"]),
        taker_side=Side(row["taker_side"]),
        executed_at=row["executed_at"],
        void=row["void"],
    )


async def candles(
    conn: Queryable, spec: CommoditySpec, step: timedelta, start: datetime, end: datetime
) -> list[Candle]:
    """OHLCV of the trades in [start, end), in buckets of `step` counted from the epoch."""
    rows = await conn.fetch(_CANDLES, spec.id, step, start, end, EPOCH)
    return [
        Candle(
            start=row["start"],
            open=spec.price_text(row["open"]),
            high=spec.price_text(row["high"]),
            low=spec.price_text(row["low"]),
            close=spec.price_text(row["close"]),
            volume=spec.quantity_text(int(row["volume"])),
            trades=row["trades"],
        )
        for row in rows
    ]


async def daily_vwap(
    conn: Queryable, spec: CommoditySpec, first: date, last: date
) -> list[IndexPoint]:
    """The volume-weighted average price of each UTC day from `first` to `last` with trades."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    rows = await conn.fetch(_DAILY, spec.id, start, end)
    return [
        IndexPoint(
            date=row["day"],
            vwap=format_scaled(
                vwap_minor(int(row["notional"]), int(row["volume"]), spec.tick_size_minor),
                spec.price_scale,
            ),
            volume=spec.quantity_text(int(row["volume"])),
            trades=row["trades"],
        )
        for row in rows
    ]


async def latest_trade_time(conn: Queryable, spec: CommoditySpec) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        f"SELECT max(executed_at) FROM trades t WHERE commodity_id = $1 AND {_IN_FORCE}",
        spec.id,
    )
    return value
