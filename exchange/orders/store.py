"""SQL of order entry: claims, journal, the orders projection, trades, snapshots."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from exchange.clock import ns_to_datetime
from exchange.db import Conn, Queryable
from exchange.ids import commodity_of
from exchange.orders.projection import Change, NewOrder, TradeRow

ORDER_COLUMNS = """commodity_id, id, participant_id, client_order_id, side, price_ticks,
    quantity_lots, open_lots, filled_lots, time_in_force, min_fill_lots, expires_at,
    region_code, status, reason, created_at, updated_at"""


async def claim_client_ids(conn: Conn, claims: list[tuple[int, str, int, bytes]]) -> set[int]:
    """Reserve (participant, client_order_id) pairs; return the order ids that got theirs."""
    if not claims:
        return set()
    rows = await conn.fetch(
        """INSERT INTO client_order_ids (participant_id, client_order_id, order_id, request_hash)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bytea[])
           ON CONFLICT DO NOTHING
           RETURNING order_id""",
        [c[0] for c in claims],
        [c[1] for c in claims],
        [c[2] for c in claims],
        [c[3] for c in claims],
    )
    return {row[0] for row in rows}


async def find_claim(
    conn: Queryable, participant_id: int, client_order_id: str
) -> tuple[int, bytes] | None:
    """(order id, request hash) of an earlier order with this client_order_id."""
    row = await conn.fetchrow(
        "SELECT order_id, request_hash FROM client_order_ids"
        " WHERE participant_id=$1 AND client_order_id=$2",
        participant_id,
        client_order_id,
    )
    return None if row is None else (row[0], row[1])


def _new_order_record(order: NewOrder) -> tuple[Any, ...]:
    command = order.command
    created = ns_to_datetime(command.timestamp)
    return (
        command.order_id,
        order.participant_id,
        order.client_order_id,
        str(command.side),
        order.price,
        order.quantity,
        order.open_lots,
        order.filled_lots,
        str(command.time_in_force),
        command.min_fill,
        ns_to_datetime(command.expires_at) if command.expires_at is not None else None,
        order.region_code,
        str(order.status),
        order.reason,
        command.sequence,
        created,
        ns_to_datetime(order.updated_ns) if order.updated_ns else created,
    )


def _trade_record(t: TradeRow) -> tuple[Any, ...]:
    return (
        t.id, t.sequence, ns_to_datetime(t.executed_ns), t.price, t.quantity,
        str(t.taker_side), t.buy_order_id, t.sell_order_id, t.buyer_id, t.seller_id,
        t.buyer_region, t.seller_region,
    )  # fmt: skip


def _change_record(order_id: int, c: Change) -> tuple[Any, ...]:
    status = None if c.status is None else str(c.status)
    updated = ns_to_datetime(c.updated_ns)
    return (
        order_id, c.open_lots, c.filled_delta, status, c.reason, c.price, c.amended_quantity,
        updated,
    )  # fmt: skip


def _columns(records: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as one list per column: the array parameters of unnest()."""
    return [list(column) for column in zip(*records, strict=True)] if records else [[]] * width


# One statement, so one round trip, writes the whole batch: the journal, the new orders, the
# trades, and the changes to orders stored before (never one of this batch's new orders, so
# the UPDATE need not see the rows inserted beside it).
_WRITE_BATCH = f"""
WITH journal AS (
    INSERT INTO book_journal (commodity_id, sequence, command)
    SELECT $1::bigint, * FROM unnest($2::bigint[], $3::bytea[])
), new_orders AS (
    INSERT INTO orders (commodity_id, id, participant_id, client_order_id, side, price_ticks,
                        quantity_lots, open_lots, filled_lots, time_in_force, min_fill_lots,
                        expires_at, region_code, status, reason, accepted_seq, created_at,
                        updated_at)
    SELECT $1::bigint, * FROM unnest(
        $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::bigint[],
        $10::bigint[], $11::bigint[], $12::text[], $13::bigint[], $14::timestamptz[],
        $15::text[], $16::text[], $17::text[], $18::bigint[], $19::timestamptz[],
        $20::timestamptz[])
), new_trades AS (
    INSERT INTO trades (commodity_id, id, sequence, executed_at, price_ticks, quantity_lots,
                        taker_side, buy_order_id, sell_order_id, buyer_id, seller_id,
                        buyer_region, seller_region)
    SELECT $1::bigint, * FROM unnest(
        $21::bigint[], $22::bigint[], $23::timestamptz[], $24::bigint[], $25::bigint[],
        $26::text[], $27::bigint[], $28::bigint[], $29::bigint[], $30::bigint[], $31::text[],
        $32::text[])
)
UPDATE orders o SET
       open_lots = c.open_lots,
       filled_lots = o.filled_lots + c.filled_delta,
       price_ticks = coalesce(c.price, o.price_ticks),
       quantity_lots = coalesce(o.filled_lots + c.amended_quantity, o.quantity_lots),
       status = coalesce(c.status, CASE WHEN o.filled_lots + c.filled_delta > 0
                                        THEN 'partially_filled' ELSE 'open' END),
       reason = coalesce(c.reason, o.reason),
       updated_at = c.updated_at
  FROM unnest($33::bigint[], $34::bigint[], $35::bigint[], $36::text[], $37::text[],
              $38::bigint[], $39::bigint[], $40::timestamptz[])
       AS c(id, open_lots, filled_delta, status, reason, price, amended_quantity, updated_at)
 WHERE o.commodity_id = $1::bigint AND o.id = c.id
RETURNING {", ".join("o." + c.strip() for c in ORDER_COLUMNS.split(","))}"""


async def write_batch(
    conn: Conn,
    commodity_id: int,
    journal: list[tuple[int, bytes]],
    new_orders: Iterable[NewOrder],
    changes: dict[int, Change],
    trades: list[TradeRow],
) -> list[asyncpg.Record]:
    """Store a batch: journal, new orders, trades, changed orders; return the changed rows."""
    return await conn.fetch(
        _WRITE_BATCH,
        commodity_id,
        *_columns(journal, 2),
        *_columns([_new_order_record(order) for order in new_orders], 17),
        *_columns([_trade_record(trade) for trade in trades], 12),
        *_columns([_change_record(oid, change) for oid, change in changes.items()], 8),
    )


async def set_trading_status(conn: Conn, commodity_id: int, status: str) -> None:
    await conn.execute(
        "UPDATE commodities SET trading_status=$2, updated_at=now() WHERE id=$1",
        commodity_id,
        status,
    )


async def save_snapshot(conn: Queryable, commodity_id: int, sequence: int, state: bytes) -> None:
    await conn.execute(
        "INSERT INTO book_snapshots (commodity_id, sequence, state) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        commodity_id,
        sequence,
        state,
    )
    # recovery starts from the latest; the one before stays as a fallback
    await conn.execute(
        """DELETE FROM book_snapshots WHERE commodity_id=$1 AND sequence < (
               SELECT min(sequence) FROM (
                   SELECT sequence FROM book_snapshots WHERE commodity_id=$1
                   ORDER BY sequence DESC LIMIT 2) AS kept)""",
        commodity_id,
    )


async def latest_snapshot(conn: Queryable, commodity_id: int) -> tuple[int, bytes] | None:
    row = await conn.fetchrow(
        "SELECT sequence, state FROM book_snapshots WHERE commodity_id=$1"
        " ORDER BY sequence DESC LIMIT 1",
        commodity_id,
    )
    return None if row is None else (row[0], row[1])


async def journal_after(
    conn: Conn, commodity_id: int, sequence: int, chunk: int = 50_000
) -> AsyncIterator[list[bytes]]:
    """The journal's commands after `sequence`, in order, a chunk at a time."""
    last = sequence
    while True:
        rows = await conn.fetch(
            "SELECT sequence, command FROM book_journal WHERE commodity_id=$1 AND sequence > $2"
            " ORDER BY sequence LIMIT $3",
            commodity_id,
            last,
            chunk,
        )
        if not rows:
            return
        last = rows[-1][0]
        yield [row[1] for row in rows]


async def max_order_id(conn: Queryable, commodity_id: int) -> int | None:
    value = await conn.fetchval("SELECT max(id) FROM orders WHERE commodity_id=$1", commodity_id)
    return None if value is None else int(value)


async def fetch_order(conn: Queryable, order_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE commodity_id=$1 AND id=$2",
        commodity_of(order_id),
        order_id,
    )


async def list_orders(
    conn: Queryable,
    participant_id: int | None,
    before: tuple[datetime, int] | None,
    limit: int,
    status: str | None,
    commodity_id: int | None,
    side: str | None,
) -> list[asyncpg.Record]:
    """A participant's orders (None: everyone's), newest first."""
    # two statements, so each prepared plan keeps its index: a participant's orders, or all
    owner = "participant_id=$1" if participant_id is not None else "$1::bigint IS NULL"
    return await conn.fetch(
        f"""SELECT {ORDER_COLUMNS} FROM orders
             WHERE {owner} AND (created_at, id) < ($2, $3)
               AND ($4::text IS NULL OR status=$4)
               AND ($5::bigint IS NULL OR commodity_id=$5)
               AND ($6::text IS NULL OR side=$6)
             ORDER BY created_at DESC, id DESC LIMIT $7""",
        participant_id,
        before[0] if before else datetime.max.replace(tzinfo=UTC),
        before[1] if before else 0,
        status,
        commodity_id,
        side,
        limit,
    )
