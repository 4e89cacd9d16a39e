"""Helpers for the market-information tests: the running app's MarketData, trades in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from exchange.market.data import MarketData
from exchange.reference import CommoditySpec, load_specs
from tests.factories import Api, commodity_body, new_participant


async def new_commodity(operator: Api, **overrides: Any) -> str:
    body = commodity_body(**overrides)
    reply = await operator.post("/v1/commodities", body)
    assert reply.status == 201, reply.body
    return str(body["code"])


async def spec_of(db: asyncpg.Connection, code: str) -> CommoditySpec:
    return next(spec for spec in await load_specs(db) if spec.code == code)


async def traders(operator: Api) -> tuple[int, int]:
    buyer, _ = await new_participant(operator, ["buyer"])
    seller, _ = await new_participant(operator, ["supplier"])
    return buyer["id"], seller["id"]


async def insert_trades(
    db: asyncpg.Connection,
    spec: CommoditySpec,
    parties: tuple[int, int],
    trades: list[tuple[int, int, int, datetime]],
) -> None:
    """(id, price ticks, lots, executed_at) rows, as the order writer would commit them."""
    await db.executemany(
        """INSERT INTO trades (commodity_id, id, sequence, executed_at, price_ticks,
               quantity_lots, taker_side, buy_order_id, sell_order_id, buyer_id, seller_id)
           VALUES ($1, $2, $2, $3, $4, $5, 'buy', 1, 2, $6, $7)""",
        [(spec.id, i, at, price, lots, *parties) for i, price, lots, at in trades],
    )


__all__ = ["MarketData", "insert_trades", "new_commodity", "spec_of", "traders"]
