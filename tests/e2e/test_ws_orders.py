"""The WebSocket fed by real orders: the book replays to GET book; user channels stay private."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp

from tests.factories import Api, commodity_body, new_participant, unique


async def _receive_until(ws: aiohttp.ClientWebSocketResponse, done, limit: float = 10.0) -> list:
    seen = []
    async with asyncio.timeout(limit):
        while not done(seen):
            seen.append(await ws.receive_json())
    return seen


def _apply(levels: dict[str, str], updates: list[list[str]]) -> None:
    for price, quantity in updates:
        if Decimal(quantity) == 0:
            levels.pop(price, None)
        else:
            levels[price] = quantity


async def test_book_and_user_channels_follow_real_orders(operator: Api, http, base_url):
    await operator.post("/v1/regions", {"code": "EU-WS", "name": "Sockets"})
    code = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    await operator.post("/v1/commodities", code)
    code = code["code"]
    _, supplier = await new_participant(operator, ["supplier"], home_region="EU-WS")
    _, buyer = await new_participant(operator, ["buyer"], home_region="EU-WS")
    _, bystander = await new_participant(operator, ["buyer"], home_region="EU-WS")
    url = base_url.replace("http", "ws") + "/v1/ws"

    def auth(api: Api) -> dict:
        return {"Authorization": f"Bearer {api.key}"}

    async with (
        http.ws_connect(url, headers=auth(supplier)) as supplier_ws,
        http.ws_connect(url, headers=auth(bystander)) as bystander_ws,
    ):
        await supplier_ws.send_json(
            {
                "type": "subscribe",
                "channels": [{"name": "book", "commodity": code}, {"name": "user"}],
            }
        )
        await bystander_ws.send_json({"type": "subscribe", "channels": [{"name": "user"}]})
        first = await _receive_until(
            supplier_ws, lambda seen: any(m["type"] == "book_snapshot" for m in seen)
        )
        await _receive_until(bystander_ws, lambda seen: seen and seen[-1]["type"] == "subscribed")
        snapshot = next(m for m in first if m["type"] == "book_snapshot")
        bids = {p: q for p, q in snapshot["bids"]}
        asks = {p: q for p, q in snapshot["asks"]}

        for price in (105, 106, 107):
            body = {"client_order_id": unique("ws-"), "commodity": code, "side": "sell",
                    "price": f"{price}.00", "quantity": "4"}  # fmt: skip
            assert (await supplier.post("/v1/orders", body)).status == 201
        take = {"client_order_id": unique("ws-"), "commodity": code, "side": "buy",
                "price": "106.00", "quantity": "6"}  # fmt: skip
        taken = await buyer.post("/v1/orders", take)
        book = (await supplier.get(f"/v1/markets/{code}/book")).body

        messages = await _receive_until(
            supplier_ws,
            lambda seen: (
                any(
                    m["type"] == "book_update" and m["book_sequence"] >= book["sequence"]
                    for m in seen
                )
                and sum(len(m.get("fills", [])) for m in seen if m["type"] == "user") >= 2
            ),
        )
        await bystander_ws.send_json({"type": "subscribe", "channels": [{"name": "heartbeat"}]})
        bystander_seen = await _receive_until(
            bystander_ws, lambda seen: any(m["type"] == "heartbeat" for m in seen)
        )

    updates = [m for m in messages if m["type"] in ("book_update", "book_snapshot")]
    for update in updates:
        if update["type"] == "book_snapshot":  # the book was (re)loaded: start over
            bids.clear()
            asks.clear()
        _apply(bids, update["bids"])
        _apply(asks, update["asks"])
    sequences = [m["sequence"] for m in [snapshot, *updates]]
    user_orders = [o for m in messages if m["type"] == "user" for o in m["orders"]]
    user_fills = [f for m in messages if m["type"] == "user" for f in m["fills"]]

    assert taken.body["status"] == "filled"
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert sorted(bids.items()) == sorted((p, q) for p, q in book["bids"])
    assert sorted(asks.items()) == sorted((p, q) for p, q in book["asks"])
    stored = {o["client_order_id"]: o for o in (await supplier.get("/v1/orders")).body["data"]}
    latest = {o["client_order_id"]: o for o in user_orders}  # the last state of each order
    assert len(stored) == 3
    assert latest == stored  # every order of the supplier, as GET /v1/orders has it now
    assert [o["status"] for o in user_orders[:3]] == ["open"] * 3  # placed one by one
    assert sorted(o["status"] for o in user_orders[3:]) == ["filled", "partially_filled"]
    assert [(f["price"], f["quantity"], f["side"]) for f in user_fills] == [
        ("105.00", "4.000000", "sell"), ("106.00", "2.000000", "sell")
    ]  # fmt: skip
    assert {f["order_id"] for f in user_fills} == {
        stored[o["client_order_id"]]["id"] for o in user_orders[3:]
    }
    assert not [m for m in bystander_seen if m["type"] == "user"]


async def test_suspension_closes_the_participants_sockets(operator: Api, http, base_url):
    participant, buyer = await new_participant(operator, ["buyer"])
    _, other = await new_participant(operator, ["buyer"])
    url = base_url.replace("http", "ws") + "/v1/ws"
    async with (
        http.ws_connect(url, headers={"Authorization": f"Bearer {buyer.key}"}) as ws,
        http.ws_connect(url, headers={"Authorization": f"Bearer {other.key}"}) as other_ws,
    ):
        for socket in (ws, other_ws):
            await socket.send_json({"type": "subscribe", "channels": [{"name": "heartbeat"}]})
        await operator.post(f"/v1/participants/{participant['id']}/suspend")
        seen = []
        async with asyncio.timeout(10):
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                seen.append(message.json())
        other_alive = await _receive_until(
            other_ws, lambda got: any(m["type"] == "heartbeat" for m in got)
        )

    assert seen[-1] == {
        "type": "error", "code": "PARTICIPANT_SUSPENDED", "message": "the participant is suspended"
    }  # fmt: skip
    assert ws.close_code == 1008
    assert other_alive
