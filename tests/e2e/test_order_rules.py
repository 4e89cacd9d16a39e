"""Promises of order entry that need a whole trade to see: amends that end crossed,
self-trade prevention as each party sees it, refused batch items, the fee's rounding."""

from __future__ import annotations

import pytest

from tests.factories import Api, commodity_body, new_participant, order_body

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def region(operator: Api) -> str:
    await operator.post("/v1/regions", {"code": "EU-RU", "name": "Rules"})
    return "EU-RU"


async def _commodity(operator: Api, **overrides) -> str:
    body = commodity_body(tick_size="0.50", lot_size="0.5", min_quantity="0.5") | overrides
    assert (await operator.post("/v1/commodities", body)).status == 201
    return body["code"]


async def _trader(operator: Api, region: str, roles: list[str]) -> Api:
    _, client = await new_participant(operator, roles, home_region=region)
    return client


def _order(code: str, side: str, price: str, quantity: str, **extra) -> dict:
    return order_body(code, side, price, quantity, **extra)


async def _place(api: Api, body: dict) -> dict:
    reply = await api.post("/v1/orders", body)
    assert reply.status == 201, reply.body
    return reply.body


async def test_an_amend_that_ends_would_cross_keeps_quantity_and_fills(operator, region):
    code = await _commodity(operator)
    seller = await _trader(operator, region, ["supplier"])
    other_seller = await _trader(operator, region, ["supplier"])
    buyer = await _trader(operator, region, ["buyer"])
    # a resting offer that refuses any fill smaller than all of it
    await _place(seller, _order(code, "sell", "100.00", "10", min_fill_quantity="10"))
    bid = await _place(buyer, _order(code, "buy", "99.00", "4"))
    await _place(other_seller, _order(code, "sell", "99.00", "1"))  # fills 1 of the bid

    amended = await buyer.patch(f"/v1/orders/{bid['id']}", {"price": "100.00"})
    stored = await buyer.get(f"/v1/orders/{bid['id']}")

    assert amended.status == 200
    for view in (amended.body, stored.body):
        assert (view["status"], view["reason"]) == ("cancelled", "would_cross")
        assert view["quantity"] == "4.000000"
        assert view["filled_quantity"] == "1.000000"
        assert view["open_quantity"] == "0.000000"
        assert view["price"] == "100.00"


async def test_an_amend_that_ends_would_cross_with_a_new_quantity_stores_it(operator, region):
    code = await _commodity(operator)
    seller = await _trader(operator, region, ["supplier"])
    buyer = await _trader(operator, region, ["buyer"])
    await _place(seller, _order(code, "sell", "100.00", "10", min_fill_quantity="10"))
    bid = await _place(buyer, _order(code, "buy", "99.00", "4"))

    amended = await buyer.patch(f"/v1/orders/{bid['id']}", {"price": "100.00", "quantity": "3"})
    stored = await buyer.get(f"/v1/orders/{bid['id']}")

    assert amended.body == stored.body
    assert (stored.body["status"], stored.body["reason"]) == ("cancelled", "would_cross")
    assert (stored.body["quantity"], stored.body["filled_quantity"]) == ("3.000000", "0.000000")


async def _self_trade(operator: Api, region: str, mode: str) -> tuple[dict, dict, dict, Api]:
    """A firm's resting offer, another firm's offer behind it at the same price, then the
    firm's own crossing bid in `mode`. Returns (own offer, other offer, bid) as they end, and
    the other firm's client."""
    code = await _commodity(operator)
    firm = await _trader(operator, region, ["buyer", "supplier"])
    other = await _trader(operator, region, ["supplier"])
    own_offer = await _place(firm, _order(code, "sell", "100.00", "2"))
    other_offer = await _place(other, _order(code, "sell", "100.00", "2"))

    bid = await _place(firm, _order(code, "buy", "100.00", "2", self_trade_prevention=mode))
    own_now = (await firm.get(f"/v1/orders/{own_offer['id']}")).body
    other_now = (await other.get(f"/v1/orders/{other_offer['id']}")).body
    return own_now, other_now, bid, other


async def test_self_trade_cancel_resting_cancels_my_offer_and_trades_on(operator, region):
    own, other_offer, bid, other = await _self_trade(operator, region, "cancel_resting")

    assert (own["status"], own["reason"], own["filled_quantity"]) == (
        "cancelled", "self_trade", "0.000000"
    )  # fmt: skip
    assert (bid["status"], bid["reason"], bid["filled_quantity"]) == ("filled", None, "2.000000")
    assert (other_offer["status"], other_offer["filled_quantity"]) == ("filled", "2.000000")
    [fill] = (await other.get("/v1/fills")).body["data"]
    assert fill["order_id"] == other_offer["id"]


async def test_self_trade_cancel_incoming_cancels_my_bid_and_keeps_the_book(operator, region):
    own, other_offer, bid, other = await _self_trade(operator, region, "cancel_incoming")

    assert (bid["status"], bid["reason"], bid["filled_quantity"], bid["open_quantity"]) == (
        "cancelled", "self_trade", "0.000000", "0.000000"
    )  # fmt: skip
    assert (own["status"], own["reason"], own["open_quantity"]) == ("open", None, "2.000000")
    assert (other_offer["status"], other_offer["open_quantity"]) == ("open", "2.000000")
    assert (await other.get("/v1/fills")).body["data"] == []


async def test_self_trade_cancel_both_cancels_my_offer_and_my_bid(operator, region):
    own, other_offer, bid, other = await _self_trade(operator, region, "cancel_both")

    assert (own["status"], own["reason"]) == ("cancelled", "self_trade")
    assert (bid["status"], bid["reason"], bid["filled_quantity"]) == (
        "cancelled", "self_trade", "0.000000"
    )  # fmt: skip
    assert (other_offer["status"], other_offer["open_quantity"]) == ("open", "2.000000")
    assert (await other.get("/v1/fills")).body["data"] == []


async def test_a_refused_batch_item_leaves_its_client_order_id_free(operator, region):
    code = await _commodity(operator)
    supplier = await _trader(operator, region, ["supplier"])
    good = _order(code, "sell", "120.00", "1")
    refused = _order(code, "sell", "120.25", "1")  # off the 0.50 tick

    batch = await supplier.post("/v1/orders/batch", {"orders": [good, refused]})
    again = await supplier.post("/v1/orders", refused | {"price": "120.50"})

    assert [r["status"] for r in batch.body["results"]] == [201, 422]
    assert batch.body["results"][1]["error"]["code"] == "PRICE_OFF_TICK"
    assert again.status == 201
    assert again.body["client_order_id"] == refused["client_order_id"]
    assert again.body["price"] == "120.50"


async def test_the_contract_fee_is_rounded_half_up_not_truncated(operator, region):
    # 202.00 x 1 at 25 bp is 0.505: 0.51 after half-up, 0.50 truncated
    code = await _commodity(
        operator, tick_size="0.01", lot_size="1", min_quantity="1", fee_rate_bps=25
    )
    seller = await _trader(operator, region, ["supplier"])
    buyer = await _trader(operator, region, ["buyer"])
    await _place(seller, _order(code, "sell", "202.00", "1"))
    await _place(buyer, _order(code, "buy", "202.00", "1"))

    [contract] = (await buyer.get("/v1/contracts", commodity=code)).body["data"]

    assert (contract["amount"], contract["fee"]) == ("202.00", "0.51")
    assert contract["terms"]["fee"]["amount"] == "0.51"


async def test_the_contract_amount_is_rounded_half_up_not_truncated(operator, region):
    # 0.01 x 0.5 is 0.005: 0.01 after half-up, 0.00 truncated
    code = await _commodity(
        operator, tick_size="0.01", lot_size="0.5", min_quantity="0.5", fee_rate_bps=0
    )
    seller = await _trader(operator, region, ["supplier"])
    buyer = await _trader(operator, region, ["buyer"])
    await _place(seller, _order(code, "sell", "0.01", "0.5"))
    await _place(buyer, _order(code, "buy", "0.01", "0.5"))

    [contract] = (await buyer.get("/v1/contracts", commodity=code)).body["data"]

    assert contract["amount"] == "0.01"
