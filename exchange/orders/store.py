"""SQL of order entry: claims, journal, the orders projection, trades, snapshots."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from exchange.db import Conn, Queryable
from exchange.orders.projection import Change, NewOrder, TradeRow, ns_to_datetime

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


async def append_journal(conn: Conn, commodity_id: int, entries: list[tuple[int, bytes]]) -> None:
    await conn.copy_records_to_table(
        "book_journal",
        records=[(commodity_id, seq, data) for seq, data in entries],
        columns=("commodity_id", "sequence", "command"),
    )


def _new_order_record(commodity_id: int, order: NewOrder) -> tuple[Any, ...]:
    command = order.command
    created = ns_to_datetime(command.timestamp)
    return (
        commodity_id,
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


async def insert_orders(conn: Conn, commodity_id: int, orders: Iterable[NewOrder]) -> None:
    records = [_new_order_record(commodity_id, order) for order in orders]
    if records:
        await conn.copy_records_to_table(
            "orders",
            records=records,
            columns=(
                "commodity_id", "id", "participant_id", "client_order_id", "side",
                "price_ticks", "quantity_lots", "open_lots", "filled_lots", "time_in_force",
                "min_fill_lots", "expires_at", "region_code", "status", "reason",
                "accepted_seq", "created_at", "updated_at",
            ),
        )  # fmt: skip


async def update_orders(
    conn: Conn, commodity_id: int, changes: dict[int, Change]
) -> list[asyncpg.Record]:
    """Apply the batch's changes to stored orders; return their new rows."""
    if not changes:
        return []
    ids = list(changes)
    values = list(changes.values())
    return await conn.fetch(
        f"""UPDATE orders o SET
               open_lots = c.open_lots,
               filled_lots = o.filled_lots + c.filled_delta,
               price_ticks = coalesce(c.price, o.price_ticks),
               quantity_lots = CASE WHEN c.price IS NOT NULL OR c.amended
                                    THEN o.filled_lots + c.filled_delta + c.open_lots
                                    ELSE o.quantity_lots END,
               status = coalesce(c.status, CASE WHEN o.filled_lots + c.filled_delta > 0
                                                THEN 'partially_filled' ELSE 'open' END),
               reason = coalesce(c.reason, o.reason),
               updated_at = c.updated_at
             FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
                         $7::bigint[], $8::bool[], $9::timestamptz[])
                  AS c(id, open_lots, filled_delta, status, reason, price, amended, updated_at)
            WHERE o.commodity_id = $1 AND o.id = c.id
        RETURNING {", ".join("o." + c.strip() for c in ORDER_COLUMNS.split(","))}""",
        commodity_id,
        ids,
        [v.open_lots for v in values],
        [v.filled_delta for v in values],
        [None if v.status is None else str(v.status) for v in values],
        [v.reason for v in values],
        [v.price for v in values],
        [v.amended for v in values],
        [ns_to_datetime(v.updated_ns) for v in values],
    )


async def insert_trades(conn: Conn, commodity_id: int, trades: list[TradeRow]) -> None:
    if not trades:
        return
    await conn.copy_records_to_table(
        "trades",
        records=[
            (
                commodity_id, t.id, t.sequence, ns_to_datetime(t.executed_ns), t.price,
                t.quantity, str(t.taker_side), t.buy_order_id, t.sell_order_id, t.buyer_id,
                t.seller_id, t.buyer_region, t.seller_region,
            )
            for t in trades
        ],
        columns=(
            "commodity_id", "id", "sequence", "executed_at", "price_ticks", "quantity_lots",
            "taker_side", "buy_order_id", "sell_order_id", "buyer_id", "seller_id",
            "buyer_region", "seller_region",
        ),
    )  # fmt: skip


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
        order_id >> 40,
        order_id,
    )


async def list_orders(
    conn: Queryable,
    participant_id: int,
    before: tuple[datetime, int] | None,
    limit: int,
    status: str | None,
    commodity_id: int | None,
    side: str | None,
) -> list[asyncpg.Record]:
    """A participant's orders, newest first."""
    return await conn.fetch(
        f"""SELECT {ORDER_COLUMNS} FROM orders
             WHERE participant_id=$1 AND (created_at, id) < ($2, $3)
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
