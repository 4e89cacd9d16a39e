"""A firm that loses its buyer or supplier role stops trading on that side at once."""

from __future__ import annotations

import asyncpg
import pytest

from tests.factories import (
    Api,
    new_participant,
    order_body,
    place,
    whole_unit_commodity,
)

REMOVED = "role_removed"


@pytest.fixture(scope="module")
async def region(operator: Api) -> str:
    assert (await operator.post("/v1/regions", {"code": "EU-RR", "name": "Roles"})).status
    return "EU-RR"


async def _status(operator: Api, orders: list[dict]) -> list[tuple[str, str | None]]:
    seen = [(await operator.get(f"/v1/orders/{order['id']}")).body for order in orders]
    return [(order["status"], order["reason"]) for order in seen]


async def test_removing_supplier_cancels_resting_sells_everywhere_and_keeps_buys(operator, region):
    code, other_code = await whole_unit_commodity(operator), await whole_unit_commodity(operator)
    firm, trader = await new_participant(operator, ["buyer", "supplier"], home_region=region)
    _, buyer = await new_participant(operator, ["buyer"], home_region=region)
    sells = [await place(trader, code, "sell", 100 + i, 5) for i in range(2)]
    sells.append(await place(trader, other_code, "sell", 100, 5))
    buys = [await place(trader, code, "buy", 90, 5), await place(trader, other_code, "buy", 90, 5)]

    removed = await operator.patch(f"/v1/participants/{firm['id']}", {"roles": ["buyer"]})
    sells_now, buys_now = await _status(operator, sells), await _status(operator, buys)
    book = (await buyer.get(f"/v1/markets/{code}/book")).body
    crossing = await buyer.post("/v1/orders", order_body(code, "buy", 100, 5))
    contracts = await operator.get("/v1/contracts", commodity=code)
    new_sell = await trader.post("/v1/orders", order_body(code, "sell", 100, 5))
    await operator.patch(f"/v1/participants/{firm['id']}", {"roles": ["buyer", "supplier"]})
    sells_again = await trader.post("/v1/orders", order_body(code, "sell", 100, 5))

    assert removed.status == 200
    assert sells_now == [("cancelled", REMOVED)] * 3
    assert buys_now == [("open", None)] * 2
    assert (book["asks"], book["bids"]) == ([], [["90.00", "5.000000"]])
    assert crossing.status == 201
    assert (crossing.body["status"], crossing.body["filled_quantity"]) == ("open", "0.000000")
    assert contracts.body["data"] == []
    assert (new_sell.status, new_sell.code) == (403, "ROLE_REQUIRED")
    # with the role back it sells again: it meets the buy that rested meanwhile
    assert sells_again.status == 201, sells_again.body
    assert (sells_again.body["status"], sells_again.body["filled_quantity"]) == (
        "filled",
        "5.000000",
    )


async def test_removing_buyer_cancels_resting_buys_and_keeps_sells(operator, region):
    code = await whole_unit_commodity(operator)
    firm, trader = await new_participant(operator, ["buyer", "supplier"], home_region=region)
    _, seller = await new_participant(operator, ["supplier"], home_region=region)
    buy, sell = await place(trader, code, "buy", 90, 5), await place(trader, code, "sell", 110, 5)

    removed = await operator.patch(f"/v1/participants/{firm['id']}", {"roles": ["supplier"]})
    crossing = await seller.post("/v1/orders", order_body(code, "sell", 90, 5))
    new_buy = await trader.post("/v1/orders", order_body(code, "buy", 90, 5))

    assert removed.status == 200
    assert await _status(operator, [buy, sell]) == [("cancelled", REMOVED), ("open", None)]
    assert (crossing.body["status"], crossing.body["filled_quantity"]) == ("open", "0.000000")
    assert (new_buy.status, new_buy.code) == (403, "ROLE_REQUIRED")


async def test_an_order_in_flight_when_the_role_removal_commits_cannot_trade(
    operator, region, database_url
):
    code = await whole_unit_commodity(operator)
    firm, trader = await new_participant(operator, ["buyer", "supplier"], home_region=region)
    _, buyer = await new_participant(operator, ["buyer"], home_region=region)
    resting_buy = await place(buyer, code, "buy", 100, 5)
    resting_sell = await place(trader, code, "sell", 150, 5)
    conn = await asyncpg.connect(database_url)
    try:
        assert (await trader.get("/v1/me")).status == 200  # its key (a supplier) is now cached
        # another process of the center removes the supplier role: the same two statements,
        # committed; this process still holds the key as a supplier's for a few seconds
        async with conn.transaction():
            await conn.execute("SELECT trading_gate_move($1)", firm["id"])
            await conn.execute(
                "UPDATE participants SET roles = '{buyer}' WHERE id = $1", firm["id"]
            )
    finally:
        await conn.close()

    crossing = await trader.post("/v1/orders", order_body(code, "sell", 90, 5))
    statuses = await _status(operator, [resting_buy, resting_sell])
    contracts = await operator.get("/v1/contracts", commodity=code)
    trades = await buyer.get(f"/v1/markets/{code}/trades")

    assert (crossing.status, crossing.code) == (403, "ROLE_REQUIRED")
    # the batch that refused it cancelled the firm's resting sell first
    assert statuses == [("open", None), ("cancelled", REMOVED)]
    assert contracts.body["data"] == []
    assert trades.body["data"] == []
