"""Suspending a participant stops its trading at once; operators see and cancel any order."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import asyncpg
import pytest

from tests.factories import (
    Api,
    change_behind_the_center,
    new_participant,
    order_body,
    whole_unit_commodity,
)

SUSPENDED = "participant_suspended"


@pytest.fixture(scope="module")
async def region(operator: Api) -> str:
    assert (await operator.post("/v1/regions", {"code": "EU-SP", "name": "Suspensions"})).status
    return "EU-SP"


def _order(code: str, side: str, price: int, quantity: int) -> dict:
    return order_body(code, side, price, quantity)


async def _place(api: Api, code: str, side: str, price: int, quantity: int) -> dict:
    reply = await api.post("/v1/orders", _order(code, side, price, quantity))
    assert reply.status == 201, reply.body
    return reply.body


async def _user_messages(ws: aiohttp.ClientWebSocketResponse) -> list[dict]:
    """Everything the socket gets until the server closes it."""
    seen = []
    async with asyncio.timeout(10):
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            seen.append(message.json())
    return seen


async def test_suspension_cancels_resting_orders_and_no_contract_follows(
    operator, region, base_url, http
):
    code, other_code = await whole_unit_commodity(operator), await whole_unit_commodity(operator)
    seller, supplier = await new_participant(operator, ["supplier"], home_region=region)
    _, buyer = await new_participant(operator, ["buyer"], home_region=region)
    resting = [await _place(supplier, code, "sell", 100 + i, 5) for i in range(2)]
    resting.append(await _place(supplier, other_code, "sell", 100, 5))
    url = base_url.replace("http", "ws") + "/v1/ws"
    async with http.ws_connect(url, headers={"Authorization": f"Bearer {supplier.key}"}) as ws:
        await ws.send_json({"type": "subscribe", "channels": [{"name": "user"}]})
        assert (await ws.receive_json())["type"] == "subscribed"

        suspended = await operator.post(f"/v1/participants/{seller['id']}/suspend")
        told = await _user_messages(ws)

    seen = [await operator.get(f"/v1/orders/{o['id']}") for o in resting]
    book = await buyer.get(f"/v1/markets/{code}/book")
    crossing = await buyer.post("/v1/orders", _order(code, "buy", 200, 5))
    contracts = await operator.get("/v1/contracts", commodity=code)
    await operator.post(f"/v1/participants/{seller['id']}/reactivate")
    own_view = await supplier.get(f"/v1/orders/{resting[0]['id']}")

    assert suspended.status == 200
    for reply in seen:
        assert reply.status == 200
        assert (reply.body["status"], reply.body["reason"]) == ("cancelled", SUSPENDED)
        assert reply.body["open_quantity"] == "0.000000"
    assert book.body["asks"] == []
    assert crossing.status == 201
    assert (crossing.body["status"], crossing.body["filled_quantity"]) == ("open", "0.000000")
    assert contracts.body["data"] == []
    assert (own_view.body["status"], own_view.body["reason"]) == ("cancelled", SUSPENDED)
    # the participant's socket was told of each cancel before it was closed
    told_orders = {o["id"]: o for m in told if m["type"] == "user" for o in m["orders"]}
    assert {o["id"] for o in resting} <= set(told_orders)
    assert {told_orders[o["id"]]["reason"] for o in resting} == {SUSPENDED}
    assert told[-1]["code"] == "PARTICIPANT_SUSPENDED"


async def test_an_order_in_flight_when_suspension_commits_cannot_trade(
    operator, region, database_url
):
    code = await whole_unit_commodity(operator)
    seller, supplier = await new_participant(operator, ["supplier"], home_region=region)
    _, buyer = await new_participant(operator, ["buyer"], home_region=region)
    resting = await _place(buyer, code, "buy", 100, 5)
    assert (await supplier.get("/v1/me")).status == 200  # its key is now in the key cache
    # another process of the center suspends it: the same two statements, committed; this
    # process still holds the key as active for a few seconds
    await change_behind_the_center(
        database_url, seller["id"], "UPDATE participants SET status = 'suspended' WHERE id = $1"
    )

    crossing = await supplier.post("/v1/orders", _order(code, "sell", 90, 5))
    buy_now = await buyer.get(f"/v1/orders/{resting['id']}")
    contracts = await operator.get("/v1/contracts", commodity=code)
    trades = await buyer.get(f"/v1/markets/{code}/trades")

    assert (crossing.status, crossing.code) == (403, "PARTICIPANT_SUSPENDED")
    assert buy_now.body["status"] == "open"
    assert buy_now.body["filled_quantity"] == "0.000000"
    assert contracts.body["data"] == []
    assert trades.body["data"] == []


async def test_operator_views_lists_and_cancels_another_firms_order(operator, region, database_url):
    code = await whole_unit_commodity(operator)
    seller, supplier = await new_participant(operator, ["supplier"], home_region=region)
    _, stranger = await new_participant(operator, ["buyer"], home_region=region)
    placed = await _place(supplier, code, "sell", 150, 3)
    kept = await _place(supplier, code, "sell", 160, 3)
    operator_id = (await operator.get("/v1/me")).body["participant"]["id"]

    one = await operator.get(f"/v1/orders/{placed['id']}")
    theirs = await operator.get("/v1/orders", participant_id=str(seller["id"]))
    everyone = await operator.get("/v1/orders", commodity=code)
    snooping = await stranger.get("/v1/orders", participant_id=str(seller["id"]))
    cancelled = await operator.delete(f"/v1/orders/{placed['id']}")
    again = await operator.delete(f"/v1/orders/{placed['id']}")
    owner_sees = await supplier.get(f"/v1/orders/{placed['id']}")
    book = await supplier.get(f"/v1/markets/{code}/book")
    conn = await asyncpg.connect(database_url)
    try:
        records = await conn.fetch(
            "SELECT actor_id, action, detail FROM audit_log WHERE target = $1",
            f"order:{placed['id']}",
        )
    finally:
        await conn.close()

    assert one.status == 200
    assert one.body == placed | {"updated_at": one.body["updated_at"]}
    assert [o["id"] for o in theirs.body["data"]] == [kept["id"], placed["id"]]
    assert {o["id"] for o in everyone.body["data"]} == {kept["id"], placed["id"]}
    assert (snooping.status, snooping.code) == (403, "ROLE_REQUIRED")
    assert cancelled.status == 200
    assert (cancelled.body["status"], cancelled.body["reason"]) == ("cancelled", "by_operator")
    assert (again.status, again.code) == (409, "ORDER_CLOSED")
    assert owner_sees.body["reason"] == "by_operator"
    assert book.body["asks"] == [["160.00", "3.000000"]]
    [record] = records  # the refused second cancel left no record
    assert (record["actor_id"], record["action"]) == (operator_id, "order.cancel")
    assert json.loads(record["detail"])["participant_id"] == seller["id"]
