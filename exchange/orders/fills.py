"""A participant's own trades, as fills."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from exchange.messages.common import Page
from exchange.messages.orders import Fill, FillQuery, Liquidity, Side
from exchange.orders.books import Books
from exchange.pagination import decode_time_cursor, time_page_of

_SIDE_QUERY = """
    SELECT t.commodity_id, t.id, t.executed_at, t.price_ticks, t.quantity_lots, t.taker_side,
           {order_col} AS order_id, {other_col} AS counterparty_id, {region_col} AS region,
           '{side}' AS side
      FROM trades t
     WHERE {own_col} = $1 AND (t.executed_at, t.id) < ($2, $3)
       AND ($4::bigint IS NULL OR t.commodity_id = $4)
     ORDER BY t.executed_at DESC, t.id DESC LIMIT $5"""

_QUERY = (
    "("
    + _SIDE_QUERY.format(
        order_col="t.buy_order_id", other_col="t.seller_id", region_col="t.buyer_region",
        side="buy", own_col="t.buyer_id",
    )
    + ") UNION ALL ("
    + _SIDE_QUERY.format(
        order_col="t.sell_order_id", other_col="t.buyer_id", region_col="t.seller_region",
        side="sell", own_col="t.seller_id",
    )
    + ") ORDER BY executed_at DESC, id DESC, side LIMIT $5"
)  # fmt: skip


async def list_fills(
    pool: asyncpg.Pool, books: Books, participant_id: int, query: FillQuery
) -> Page[Fill]:
    """Newest first; a participant that traded with itself is impossible (self-trade rules)."""
    commodity_id = await books.filter_id(query.commodity)
    before = decode_time_cursor(query.cursor)
    before_at, before_id = before if before else (datetime.max.replace(tzinfo=UTC), 0)
    rows = await pool.fetch(
        _QUERY, participant_id, before_at, before_id, commodity_id, query.limit + 1
    )
    fills = []
    for row in rows:
        spec = books.spec_by_id(row["commodity_id"])
        side = Side(row["side"])
        fills.append(
            (row, Fill(
                trade_id=row["id"], order_id=row["order_id"], commodity=spec.code, side=side,
                price=spec.price_text(row["price_ticks"]),
                quantity=spec.quantity_text(row["quantity_lots"]),
                liquidity=Liquidity.TAKER if row["taker_side"] == side else Liquidity.MAKER,
                counterparty_id=row["counterparty_id"], region=row["region"],
                executed_at=row["executed_at"],
            ))
        )  # fmt: skip
    page = time_page_of(fills, query.limit, lambda f: (f[0]["executed_at"], f[0]["id"]))
    return Page(data=[fill for _, fill in page.data], next_cursor=page.next_cursor,
                has_next=page.has_next)  # fmt: skip
