"""A trade whose contract is rejected is void on the tape and out of every statistic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api, commodity_body, new_participant, unique

WAIT = 5.0


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Api]:
    region = unique("EU-VOID-")
    assert (await operator.post("/v1/regions", {"code": region, "name": "Void"})).status == 201
    _, supplier = await new_participant(operator, ["supplier"], home_region=region)
    _, buyer = await new_participant(operator, ["buyer"], home_region=region)
    return {"supplier": supplier, "buyer": buyer}


async def _commodity(operator: Api) -> str:
    # every contract waits for review, so the operator may reject any of them
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1", review_threshold="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    return str(body["code"])


async def _trade(desk: dict[str, Api], code: str, price: int, quantity: int) -> None:
    sell = {"client_order_id": unique("v-"), "commodity": code, "side": "sell",
            "price": f"{price}.00", "quantity": str(quantity)}  # fmt: skip
    buy = sell | {"client_order_id": unique("v-"), "side": "buy"}
    assert (await desk["supplier"].post("/v1/orders", sell)).status == 201
    assert (await desk["buyer"].post("/v1/orders", buy)).body["status"] == "filled"


async def _contract_of(operator: Api, code: str, price: str) -> dict[str, Any]:
    contracts = (await operator.get("/v1/contracts", commodity=code)).body["data"]
    [contract] = [c for c in contracts if c["terms"]["unit_price"] == price]
    return contract


async def _until(socket: Socket, kind: str, done: Any) -> dict[str, Any]:
    """The first message of `kind` for which `done(message)` holds, within WAIT seconds."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while asyncio.get_running_loop().time() < deadline:
        message = await socket.recv()
        if message["type"] == kind and done(message):
            return message
    raise AssertionError(f"no {kind} message as expected within {WAIT} s")


async def test_rejected_trade_is_void_on_the_tape_and_left_out_of_statistics(operator, desk):
    code = await _commodity(operator)
    await _trade(desk, code, 100, 2)
    await _trade(desk, code, 200, 1)
    rejected = await _contract_of(operator, code, "200.00")
    trade_id = rejected["terms"]["trade"]["trade_id"]
    today = datetime.now(UTC).date().isoformat()
    socket = await connect(desk["buyer"])
    await socket.subscribe(
        {"name": "trades", "commodity": code}, {"name": "ticker", "commodity": code}
    )
    before = await _until(socket, "ticker", lambda m: m["ticker"]["trades_24h"] == 2)

    reply = await operator.post(
        f"/v1/contracts/{rejected['id']}/reject", {"reason": "credit check failed"}
    )
    voided = await _until(socket, "trades", lambda m: m["trades"][0]["id"] == trade_id)
    after = await _until(socket, "ticker", lambda m: m["ticker"]["trades_24h"] == 1)
    tape = (await desk["buyer"].get(f"/v1/markets/{code}/trades")).body["data"]
    ticker = (await desk["buyer"].get(f"/v1/markets/{code}/ticker")).body
    [listed] = [t for t in (await desk["buyer"].get("/v1/markets")).body["data"]
                if t["commodity"] == code]  # fmt: skip
    candles = (await desk["buyer"].get(f"/v1/markets/{code}/candles")).body["candles"]
    index = (await desk["buyer"].get(f"/v1/markets/{code}/index", to=today)).body["points"]
    again = Socket((await connect(desk["buyer"])).ws)
    await again.subscribe({"name": "trades", "commodity": code})
    snapshot = await again.next("trades")
    await socket.ws.close()
    await again.ws.close()

    assert reply.status == 200
    assert before["ticker"]["last_price"] == "200.00"
    assert [(t["price"], t["void"]) for t in tape] == [("200.00", True), ("100.00", False)]
    assert voided["trades"] == [tape[0]]
    assert ticker == listed
    for shown in (ticker, after["ticker"]):
        assert (shown["last_price"], shown["high_24h"], shown["low_24h"]) == ("100.00",) * 3
        assert (shown["volume_24h"], shown["trades_24h"]) == ("2.000000", 1)
    assert [(c["high"], c["volume"], c["trades"]) for c in candles] == [("100.00", "2.000000", 1)]
    assert [(p["vwap"], p["volume"], p["trades"]) for p in index] == [("100.00", "2.000000", 1)]
    assert [(t["price"], t["void"]) for t in snapshot["trades"]] == [
        ("100.00", False), ("200.00", True)
    ]  # fmt: skip


async def test_a_candle_whose_only_trade_is_voided_is_removed(operator, desk):
    code = await _commodity(operator)
    await _trade(desk, code, 300, 1)
    rejected = await _contract_of(operator, code, "300.00")
    socket = await connect(desk["buyer"])
    await socket.subscribe({"name": "candles", "commodity": code})
    first = await _until(socket, "candles", lambda m: True)

    await operator.post(f"/v1/contracts/{rejected['id']}/reject", {"reason": "sanctions"})
    update = await _until(socket, "candles", lambda m: m["removed"])
    candles = (await desk["buyer"].get(f"/v1/markets/{code}/candles")).body["candles"]
    await socket.ws.close()

    [candle] = first["candles"]
    assert candle["trades"] == 1
    assert (update["candles"], update["removed"]) == ([], [candle["start"]])
    assert candles == []
