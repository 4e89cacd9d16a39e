"""Kill the center with SIGKILL under load: nothing acknowledged is lost or doubled."""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
from decimal import Decimal

import aiohttp
import asyncpg
import pytest

from exchange.orders.recovery import new_book, replay
from tests.factories import OPERATOR_KEY, commodity_body, participant_body
from tests.process import Center, env_without_database

CLIENTS = 8
KILL_AFTER_ACKS = 400


async def _post(http: aiohttp.ClientSession, url: str, key: str, body: dict) -> tuple[int, dict]:
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {key}"}) as reply:
        return reply.status, await reply.json(content_type=None)


async def _setup(http: aiohttp.ClientSession, base: str) -> tuple[str, dict[str, str]]:
    await _post(http, base + "/v1/regions", OPERATOR_KEY, {"code": "EU-CR", "name": "Crash"})
    commodity = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    status, _ = await _post(http, base + "/v1/commodities", OPERATOR_KEY, commodity)
    assert status == 201
    keys = {}
    for role in ("buyer", "supplier"):
        body = participant_body([role], home_region="EU-CR")
        status, created = await _post(http, base + "/v1/participants", OPERATOR_KEY, body)
        assert status == 201
        keys[role] = created["api_key"]["key"]
    return commodity["code"], keys


async def _load(
    http: aiohttp.ClientSession, base: str, code: str, keys: dict[str, str], acked: list[str],
    enough: asyncio.Event, sent: dict[str, dict[str, str]],
) -> None:  # fmt: skip
    """Place crossing and resting orders until the server stops answering."""
    rnd = random.Random(7)
    numbers = itertools.count()

    async def client() -> None:
        while True:
            n = next(numbers)
            side = "buy" if rnd.random() < 0.5 else "sell"
            price = 100 + rnd.randint(-5, 5)
            body = {
                "client_order_id": f"crash-{n}", "commodity": code, "side": side,
                "price": f"{price}.00", "quantity": str(rnd.randint(1, 5)),
            }  # fmt: skip
            key = keys["buyer" if side == "buy" else "supplier"]
            sent[body["client_order_id"]] = body
            try:
                status, _ = await _post(http, base + "/v1/orders", key, body)
            except (aiohttp.ClientError, TimeoutError):
                return  # the server is gone
            assert status == 201
            acked.append(body["client_order_id"])
            if len(acked) >= KILL_AFTER_ACKS:
                enough.set()

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


def _expected_book(
    sent: dict[str, dict[str, str]], accepted: list[str]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The book the clients' own orders make, matched in the order the center accepted them:
    a model of price priority on levels, independent of the engine (every order is a GTC
    limit order between two different participants, so no self-trade rules apply)."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for client_order_id in accepted:
        body = sent[client_order_id]
        price, quantity = int(Decimal(body["price"])), int(body["quantity"])
        buying = body["side"] == "buy"
        own, other = (bids, asks) if buying else (asks, bids)
        while quantity and other:
            best = min(other) if buying else max(other)
            if (best > price) if buying else (best < price):
                break
            traded = min(quantity, other[best])
            quantity -= traded
            other[best] -= traded
            if not other[best]:
                del other[best]
        if quantity:
            own[price] = own.get(price, 0) + quantity
    return sorted(bids.items(), reverse=True), sorted(asks.items())


def _levels(levels: list[list[str]]) -> list[tuple[int, int]]:
    # tick 1.00 and lot 1: a level's price and quantity are its ticks and lots
    return [(int(Decimal(price)), int(Decimal(quantity))) for price, quantity in levels]


async def _journal_replay_depth(conn: asyncpg.Connection, commodity_id: int) -> tuple:
    book = new_book(commodity_id)
    rows = await conn.fetch(
        "SELECT command FROM book_journal WHERE commodity_id=$1 ORDER BY sequence", commodity_id
    )
    replay(book, [row[0] for row in rows])
    depth = book.depth(1 << 30)
    return (
        [(level.price, level.quantity) for level in depth.bids],
        [(level.price, level.quantity) for level in depth.asks],
    )


@pytest.mark.timeout(120)
async def test_sigkill_under_load_loses_and_doubles_nothing(tmp_path, http, database_url):
    env = env_without_database(
        DATABASE_URL=database_url, EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY
    )
    first = Center(tmp_path, env)
    acked: list[str] = []
    sent: dict[str, dict[str, str]] = {}
    try:
        await first.wait_healthy(http, "/readyz")
        code, keys = await _setup(http, first.base)
        enough = asyncio.Event()
        load = asyncio.create_task(_load(http, first.base, code, keys, acked, enough, sent))
        await asyncio.wait_for(enough.wait(), 60)
        first.process.send_signal(signal.SIGKILL)  # mid-load: requests are in flight
        await asyncio.wait_for(load, 30)
    finally:
        first.stop()

    second = Center(tmp_path, env)
    try:
        await second.wait_healthy(http, "/readyz")
        async with http.get(
            f"{second.base}/v1/markets/{code}/book",
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        ) as reply:
            served = await reply.json()
        conn = await asyncpg.connect(database_url)
        try:
            commodity_id = await conn.fetchval("SELECT id FROM commodities WHERE code=$1", code)
            stored = await conn.fetch(
                "SELECT client_order_id, count(*) AS n FROM orders WHERE commodity_id=$1"
                " GROUP BY client_order_id",
                commodity_id,
            )
            journaled = await conn.fetchval(
                "SELECT count(*) FROM book_journal WHERE commodity_id=$1", commodity_id
            )
            replayed_bids, replayed_asks = await _journal_replay_depth(conn, commodity_id)
            trades_and_contracts = await conn.fetchrow(
                """SELECT (SELECT count(*) FROM trades WHERE commodity_id=$1) AS trades,
                          (SELECT count(*) FROM contracts WHERE commodity_id=$1) AS contracts,
                          (SELECT count(*) FROM trades t JOIN contracts c
                              ON c.commodity_id = t.commodity_id AND c.trade_id = t.id
                            WHERE t.commodity_id=$1) AS matched""",
                commodity_id,
            )
            accepted = [
                row["client_order_id"]
                for row in await conn.fetch(
                    "SELECT client_order_id FROM orders WHERE commodity_id=$1"
                    " ORDER BY accepted_seq",
                    commodity_id,
                )
            ]
        finally:
            await conn.close()
    finally:
        assert second.stop() == 0

    counts = {row["client_order_id"]: row["n"] for row in stored}
    assert len(acked) >= KILL_AFTER_ACKS
    assert all(counts.get(coid) == 1 for coid in acked), "an acknowledged order is missing"
    assert max(counts.values()) == 1
    assert journaled == len(counts)  # every journaled placement has exactly one order row
    assert trades_and_contracts["trades"] > 0
    # a trade always yields exactly one contract
    assert trades_and_contracts["trades"] == trades_and_contracts["contracts"]
    assert trades_and_contracts["matched"] == trades_and_contracts["trades"]
    assert _levels(served["bids"]) == replayed_bids
    assert _levels(served["asks"]) == replayed_asks
    # independently of the engine: the clients' orders, in the order they were accepted
    assert set(accepted) <= set(sent), "an order no client sent"
    expected_bids, expected_asks = _expected_book(sent, accepted)
    assert expected_bids
    assert expected_asks
    assert _levels(served["bids"]) == expected_bids
    assert _levels(served["asks"]) == expected_asks
