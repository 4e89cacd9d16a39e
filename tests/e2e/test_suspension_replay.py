"""A restart rebuilds, from the journal alone, the book a suspension or role removal left."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.conftest import settings_for, start_app
from tests.factories import (
    OPERATOR_KEY,
    Api,
    change_behind_the_center,
    new_participant,
    order_body,
    place,
    whole_unit_commodity,
)


async def _place(api: Api, code: str, side: str, price: int, quantity: int) -> None:
    await place(api, code, side, price, quantity)


async def _book_replayed(database_url: str, http: Any, code: str) -> dict:
    """The book as a center started anew rebuilds it from the journal alone."""
    conn = await asyncpg.connect(database_url)
    try:
        commodity_id = await conn.fetchval("SELECT id FROM commodities WHERE code = $1", code)
        await conn.execute("DELETE FROM book_snapshots WHERE commodity_id = $1", commodity_id)
    finally:
        await conn.close()
    runner, url = await start_app(settings_for(database_url))
    try:
        return (await Api(http, url, OPERATOR_KEY).get(f"/v1/markets/{code}/book")).body
    finally:
        await runner.cleanup()


async def test_a_restart_replays_the_suspension_cancels_to_the_same_book(database_url, http):
    settings = settings_for(database_url)
    runner, url = await start_app(settings)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        await operator.post("/v1/regions", {"code": "EU-SP", "name": "Suspensions"})
        code = await whole_unit_commodity(operator)
        seller, supplier = await new_participant(operator, ["supplier"], home_region="EU-SP")
        _, other = await new_participant(operator, ["supplier"], home_region="EU-SP")
        for price in (120, 121):
            await _place(supplier, code, "sell", price, 2)
        await _place(other, code, "sell", 125, 2)
        await operator.post(f"/v1/participants/{seller['id']}/suspend")
        before = (await operator.get(f"/v1/markets/{code}/book")).body
        seller_orders = await operator.get("/v1/orders", participant_id=str(seller["id"]))
    finally:
        await runner.cleanup()
    after = await _book_replayed(database_url, http, code)

    assert {o["reason"] for o in seller_orders.body["data"]} == {"participant_suspended"}
    assert before["asks"] == [["125.00", "2.000000"]]
    assert (after["asks"], after["bids"]) == (before["asks"], before["bids"])
    assert after["sequence"] == before["sequence"]


async def test_a_restart_replays_the_role_removal_cancels_to_the_same_book(database_url, http):
    settings = settings_for(database_url)
    runner, url = await start_app(settings)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        await operator.post("/v1/regions", {"code": "EU-RR", "name": "Roles"})
        code = await whole_unit_commodity(operator)
        firm, trader = await new_participant(operator, ["buyer", "supplier"], home_region="EU-RR")
        _, other = await new_participant(operator, ["supplier"], home_region="EU-RR")
        for price in (120, 121):
            await _place(trader, code, "sell", price, 2)
        await _place(trader, code, "buy", 110, 2)
        await _place(other, code, "sell", 125, 2)
        removed = await operator.patch(f"/v1/participants/{firm['id']}", {"roles": ["buyer"]})
        before = (await operator.get(f"/v1/markets/{code}/book")).body
        firm_orders = await operator.get("/v1/orders", participant_id=str(firm["id"]))
    finally:
        await runner.cleanup()
    after = await _book_replayed(database_url, http, code)

    assert removed.status == 200
    reasons = {(o["side"], o["reason"]) for o in firm_orders.body["data"]}
    assert reasons == {("sell", "role_removed"), ("buy", None)}
    assert (before["asks"], before["bids"]) == ([["125.00", "2.000000"]], [["110.00", "2.000000"]])
    assert (after["asks"], after["bids"]) == (before["asks"], before["bids"])
    assert after["sequence"] == before["sequence"]


async def test_a_suspension_committed_while_the_center_was_down_is_swept_after_start(
    database_url, http
):
    settings = settings_for(database_url)
    runner, url = await start_app(settings)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        await operator.post("/v1/regions", {"code": "EU-SD", "name": "Down"})
        code = await whole_unit_commodity(operator)
        seller, supplier = await new_participant(operator, ["supplier"], home_region="EU-SD")
        _, buyer = await new_participant(operator, ["buyer"], home_region="EU-SD")
        await _place(supplier, code, "sell", 120, 2)
    finally:
        await runner.cleanup()
    # another process of the center suspends the firm while this one is down (or this one
    # dies before its books sweep): the same two statements the API runs
    await change_behind_the_center(
        database_url, seller["id"], "UPDATE participants SET status = 'suspended' WHERE id = $1"
    )

    runner, url = await start_app(settings)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        taker = Api(http, url, buyer.key)
        crossing = await taker.post("/v1/orders", order_body(code, "buy", 120, 2))
        book = (await operator.get(f"/v1/markets/{code}/book")).body
        seller_orders = await operator.get("/v1/orders", participant_id=str(seller["id"]))
    finally:
        await runner.cleanup()

    assert (crossing.status, crossing.body["status"]) == (201, "open")  # nothing to trade with
    assert book["asks"] == []
    assert [o["reason"] for o in seller_orders.body["data"]] == ["participant_suspended"]
