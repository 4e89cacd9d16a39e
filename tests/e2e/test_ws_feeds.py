"""The trades, ticker and candles channels fed by real orders placed through the HTTP API."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api, commodity_body, new_participant, place


async def _order(api: Api, code: str, side: str, price: str, quantity: str) -> dict[str, Any]:
    return await place(api, code, side, price, quantity)  # type: ignore[no-any-return]


async def test_trades_ticker_and_candles_follow_real_orders(operator):
    assert (await operator.post("/v1/regions", {"code": "EU-FD", "name": "Feeds"})).status == 201
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    code = body["code"]
    _, supplier = await new_participant(operator, ["supplier"], home_region="EU-FD")
    _, buyer = await new_participant(operator, ["buyer"], home_region="EU-FD")
    sock: Socket = await connect(buyer)
    await sock.subscribe(
        {"name": "trades", "commodity": code},
        {"name": "ticker", "commodity": code},
        {"name": "candles", "commodity": code},
    )
    first: dict[str, dict[str, Any]] = {}
    while len(first) < 3:
        message = await sock.recv()
        first.setdefault(message["type"], message)

    await _order(supplier, code, "sell", "100.00", "5")
    await _order(supplier, code, "sell", "101.00", "1")
    taken = [await _order(buyer, code, "buy", "100.00", "3"),
             await _order(buyer, code, "buy", "101.00", "3")]  # fmt: skip
    trades, tickers, candles = [], [], {}
    async with asyncio.timeout(10):
        while (
            len(trades) < 2
            or not tickers
            or tickers[-1]["ticker"]["trades_24h"] < 3
            or (sum(c["trades"] for c in candles.values()) < 3)
        ):
            message = await sock.recv()
            {"trades": trades, "ticker": tickers}.get(message["type"], []).append(message)
            if message["type"] == "candles":
                candles.update({c["start"]: c for c in message["candles"]})
    tape = (await buyer.get(f"/v1/markets/{code}/trades")).body["data"]
    ticker = (await buyer.get(f"/v1/markets/{code}/ticker")).body
    rest_candles = (await buyer.get(f"/v1/markets/{code}/candles", interval="1m")).body

    assert [t["status"] for t in taken] == ["filled", "filled"]
    assert first["trades"] == {"type": "trades", "commodity": code, "sequence": 0, "trades": []}
    assert first["ticker"]["ticker"]["last_price"] is None
    assert first["candles"]["candles"] == []
    assert [m["sequence"] for m in trades] == [1, 2]
    assert [t for m in trades for t in m["trades"]] == tape[::-1]  # oldest first
    assert [(t["price"], t["quantity"], t["taker_side"]) for t in tape[::-1]] == [
        ("100.00", "3.000000", "buy"), ("100.00", "2.000000", "buy"), ("101.00", "1.000000", "buy")
    ]  # fmt: skip
    assert [m["sequence"] for m in tickers] == [
        first["ticker"]["sequence"] + i for i in range(1, len(tickers) + 1)
    ]
    assert tickers[-1]["ticker"] == ticker
    assert (ticker["last_price"], ticker["volume_24h"], ticker["high_24h"]) == (
        "101.00", "6.000000", "101.00"
    )  # fmt: skip
    assert sorted(candles.values(), key=lambda c: c["start"]) == rest_candles["candles"]
    await sock.ws.close()
