"""Limits an order must keep: what the storage can hold (422 OUT_OF_RANGE naming the field, never
a 503 from the writer), and the operators' price bands and maximum order sizes."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.factories import Api, commodity_body, new_participant, order_body

pytestmark = pytest.mark.asyncio(loop_scope="session")
HUGE_PRICE = "999999999999999999.99"
LIMITS = ("reference_price", "price_band_bps", "max_order_quantity")


@pytest.fixture(scope="module")
async def region(operator: Api) -> str:
    await operator.post("/v1/regions", {"code": "EU-LI", "name": "Limits"})
    return "EU-LI"


async def _commodity(operator: Api, **overrides) -> str:
    body = commodity_body(tick_size="0.01", lot_size="0.5", min_quantity="0.5") | overrides
    reply = await operator.post("/v1/commodities", body)
    assert reply.status == 201, reply.body
    return body["code"]


async def _trader(operator: Api, region: str) -> Api:
    _, client = await new_participant(operator, ["buyer", "supplier"], home_region=region)
    return client


def _order(code: str, side: str, price: str, quantity: str, **extra) -> dict:
    return order_body(code, side, price, quantity, **extra)


def _field(reply) -> str:
    return reply.body["errors"][0]["path"]


async def _nothing_stored(api: Api, body: dict) -> None:
    """The refused order is not listed and its client_order_id is still free."""
    listed = (await api.get("/v1/orders", commodity=body["commodity"])).body["data"]
    assert all(o["client_order_id"] != body["client_order_id"] for o in listed)
    reuse = await api.post("/v1/orders", body | {"price": "1.00", "quantity": "0.5"})
    assert reuse.status == 201, reuse.body
    await api.delete(f"/v1/orders/{reuse.body['id']}")


@pytest.mark.parametrize(
    ("overrides", "price", "quantity", "field"),
    [
        ({}, HUGE_PRICE, "1", "price"),  # ticks beyond a bigint
        ({}, "1000000.00", "999999999999", "quantity"),  # the amount beyond a bigint
        ({"lot_size": "0.000001", "min_quantity": "0.000001"}, "1.00", "999999999999999999.5",
         "quantity"),  # lots beyond a bigint
        ({"tick_size": "1", "currency": "JPY"}, "999999999999999999", "10", "quantity"),
    ],
)  # fmt: skip
async def test_an_order_the_storage_cannot_hold_is_422_naming_the_field(
    operator, region, overrides, price, quantity, field
):
    code = await _commodity(operator, **overrides)
    trader = await _trader(operator, region)
    body = _order(code, "buy", price, quantity)

    reply = await trader.post("/v1/orders", body)
    batch = await trader.post("/v1/orders/batch", {"orders": [body]})

    assert (reply.status, reply.code, _field(reply)) == (422, "OUT_OF_RANGE", f"$.{field}")
    assert batch.body["results"][0]["status"] == 422
    assert batch.body["results"][0]["error"]["code"] == "OUT_OF_RANGE"
    await _nothing_stored(trader, body)


async def test_the_largest_amount_that_fits_trades_and_is_settled(operator, region):
    # 92233720368547758.07 EUR is the largest amount a bigint of cents holds
    code = await _commodity(operator, lot_size="1", min_quantity="1")
    seller, buyer = await _trader(operator, region), await _trader(operator, region)
    price = "92233720368547758.07"

    offer = await seller.post("/v1/orders", _order(code, "sell", price, "1"))
    bid = await buyer.post("/v1/orders", _order(code, "buy", price, "1"))
    too_much = await buyer.post("/v1/orders", _order(code, "buy", "92233720368547758.08", "1"))
    [contract] = (await buyer.get("/v1/contracts", commodity=code)).body["data"]

    assert (offer.status, bid.status, bid.body["status"]) == (201, 201, "filled")
    assert (too_much.status, too_much.code) == (422, "OUT_OF_RANGE")
    assert contract["amount"] == price


async def test_an_amend_the_storage_cannot_hold_is_422_and_changes_nothing(operator, region):
    code = await _commodity(operator)
    trader = await _trader(operator, region)
    placed = await trader.post("/v1/orders", _order(code, "sell", "100.00", "2"))
    path = f"/v1/orders/{placed.body['id']}"

    price = await trader.patch(path, {"price": HUGE_PRICE})
    amount = await trader.patch(path, {"price": "90000000000000000.00"})  # x 2 is too much
    quantity = await trader.patch(path, {"quantity": "999999999999999999.5"})
    after = await trader.get(path)

    assert (price.status, price.code, _field(price)) == (422, "OUT_OF_RANGE", "$.price")
    assert (amount.status, amount.code, _field(amount)) == (422, "OUT_OF_RANGE", "$.quantity")
    assert (quantity.status, quantity.code) == (422, "OUT_OF_RANGE")
    assert after.body == placed.body


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tick_size": HUGE_PRICE}, "tick_size"),
        ({"lot_size": "999999999999999999"}, "lot_size"),
        ({"lot_size": "0.000001", "min_quantity": "999999999999999999"}, "min_quantity"),
        ({"review_threshold": HUGE_PRICE}, "review_threshold"),
        ({"reference_price": HUGE_PRICE, "price_band_bps": 100}, "reference_price"),
        ({"lot_size": "0.000001", "max_order_quantity": "999999999999999999"},
         "max_order_quantity"),
    ],
)  # fmt: skip
async def test_a_commodity_the_storage_cannot_hold_is_422_naming_the_field(
    operator, overrides, field
):
    body = commodity_body(**overrides)

    reply = await operator.post("/v1/commodities", body)
    lookup = await operator.get(f"/v1/commodities/{body['code']}")

    assert (reply.status, reply.code, _field(reply)) == (422, "OUT_OF_RANGE", f"$.{field}")
    assert lookup.status == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"review_threshold": HUGE_PRICE}, "review_threshold"),
        ({"min_quantity": "999999999999999999"}, "min_quantity"),
        ({"reference_price": HUGE_PRICE, "price_band_bps": 100}, "reference_price"),
    ],
)
async def test_a_commodity_change_the_storage_cannot_hold_is_422(operator, change, field):
    code = await _commodity(operator, lot_size="0.000001", min_quantity="1")

    reply = await operator.patch(f"/v1/commodities/{code}", change)
    after = await operator.get(f"/v1/commodities/{code}")

    assert (reply.status, reply.code, _field(reply)) == (422, "OUT_OF_RANGE", f"$.{field}")
    assert (after.body["min_quantity"], after.body["reference_price"]) == ("1.000000", None)


async def test_a_price_band_refuses_prices_outside_it_on_both_sides(operator, region):
    code = await _commodity(operator, reference_price="100.00", price_band_bps=1000)
    trader = await _trader(operator, region)

    replies = {
        (side, price): await trader.post("/v1/orders", _order(code, side, price, "1"))
        for side in ("buy", "sell")
        for price in ("89.99", "90.00", "110.00", "110.01")
    }

    for (side, price), reply in replies.items():
        if price in ("90.00", "110.00"):
            assert reply.status == 201, (side, price, reply.body)
            await trader.delete(f"/v1/orders/{reply.body['id']}")
        else:
            assert (reply.status, reply.code, _field(reply)) == (
                422, "PRICE_OUTSIDE_BAND", "$.price"
            ), (side, price)  # fmt: skip
            assert "90.00 to 110.00" in reply.body["detail"]


async def test_a_band_that_is_not_a_whole_tick_rounds_inwards(operator, region):
    # 100.01 +/- 1 bp is 100.000 .. 100.020001: the prices allowed are 100.00 .. 100.02
    code = await _commodity(operator, reference_price="100.01", price_band_bps=1)
    trader = await _trader(operator, region)

    low = await trader.post("/v1/orders", _order(code, "buy", "100.00", "1"))
    below = await trader.post("/v1/orders", _order(code, "buy", "99.99", "1"))
    high = await trader.post("/v1/orders", _order(code, "sell", "100.02", "1"))
    above = await trader.post("/v1/orders", _order(code, "sell", "100.03", "1"))

    assert (low.status, high.status) == (201, 201)
    assert (below.code, above.code) == ("PRICE_OUTSIDE_BAND", "PRICE_OUTSIDE_BAND")


async def test_a_maximum_order_quantity_refuses_larger_orders(operator, region):
    code = await _commodity(operator, max_order_quantity="50")
    trader = await _trader(operator, region)
    body = _order(code, "sell", "100.00", "50.5")

    refused = await trader.post("/v1/orders", body)
    batch = await trader.post("/v1/orders/batch", {"orders": [body]})
    largest = await trader.post("/v1/orders", _order(code, "sell", "100.00", "50"))

    assert (refused.status, refused.code, _field(refused)) == (
        422, "ORDER_TOO_LARGE", "$.quantity"
    )  # fmt: skip
    assert "50.000000" in refused.body["detail"]
    assert batch.body["results"][0]["error"]["code"] == "ORDER_TOO_LARGE"
    assert largest.status == 201
    await _nothing_stored(trader, body)


async def test_amends_keep_the_band_and_the_maximum(operator, region):
    code = await _commodity(
        operator, reference_price="100.00", price_band_bps=500, max_order_quantity="10"
    )
    trader = await _trader(operator, region)
    placed = await trader.post("/v1/orders", _order(code, "sell", "100.00", "5"))
    path = f"/v1/orders/{placed.body['id']}"

    out_of_band = await trader.patch(path, {"price": "105.01"})
    too_large = await trader.patch(path, {"quantity": "10.5"})
    unchanged = await trader.get(path)
    in_band = await trader.patch(path, {"price": "105.00", "quantity": "10"})

    assert (out_of_band.status, out_of_band.code) == (422, "PRICE_OUTSIDE_BAND")
    assert (too_large.status, too_large.code) == (422, "ORDER_TOO_LARGE")
    assert unchanged.body == placed.body
    assert in_band.status == 200
    assert (in_band.body["price"], in_band.body["quantity"]) == ("105.00", "10.000000")


async def test_operators_set_and_change_the_limits_and_each_change_is_audited(operator, region, db):
    code = await _commodity(operator)
    trader = await _trader(operator, region)
    _, supplier = await new_participant(operator, ["supplier"])

    before = await trader.post("/v1/orders", _order(code, "sell", "300.00", "100"))
    not_allowed = await supplier.patch(f"/v1/commodities/{code}", {"max_order_quantity": "5"})
    limited = await operator.patch(
        f"/v1/commodities/{code}",
        {"reference_price": "200.00", "price_band_bps": 2000, "max_order_quantity": "20"},
    )
    outside = await trader.post("/v1/orders", _order(code, "sell", "300.00", "1"))
    too_large = await trader.post("/v1/orders", _order(code, "sell", "200.00", "20.5"))
    cleared = await operator.patch(
        f"/v1/commodities/{code}",
        {"reference_price": None, "price_band_bps": None, "max_order_quantity": None},
    )
    after = await trader.post("/v1/orders", _order(code, "sell", "300.00", "100"))
    audit = await db.fetch(
        "SELECT detail FROM audit_log WHERE action='commodity.update' AND target=$1 ORDER BY id",
        f"commodity:{code}",
    )

    assert (before.status, not_allowed.status) == (201, 403)
    assert limited.status == 200
    assert limited.body["reference_price"] == "200.00"
    assert limited.body["price_band_bps"] == 2000
    assert limited.body["max_order_quantity"] == "20.000000"
    assert (outside.status, outside.code) == (422, "PRICE_OUTSIDE_BAND")
    assert (too_large.status, too_large.code) == (422, "ORDER_TOO_LARGE")
    assert (await trader.get(f"/v1/orders/{before.body['id']}")).body["status"] == "open"
    assert cleared.status == 200
    assert [cleared.body[k] for k in LIMITS] == [None, None, None]
    assert after.status == 201
    assert [json.loads(row["detail"]) for row in audit] == [
        {"reference_price": "200.00", "price_band_bps": 2000, "max_order_quantity": "20"},
        {"reference_price": None, "price_band_bps": None, "max_order_quantity": None},
    ]


async def test_limits_are_read_back_as_set(operator):
    body = commodity_body(reference_price="612.5", price_band_bps=750, max_order_quantity="500")

    created = await operator.post("/v1/commodities", body)
    fetched = await operator.get(f"/v1/commodities/{body['code']}")
    plain = await operator.post("/v1/commodities", commodity_body())

    assert created.status == 201
    assert fetched.body == created.body
    assert fetched.body["reference_price"] == "612.50"
    assert fetched.body["price_band_bps"] == 750
    assert fetched.body["max_order_quantity"] == "500.000000"
    assert [plain.body[k] for k in LIMITS] == [None, None, None]


@pytest.mark.parametrize(
    ("body", "change", "field"),
    [
        ({"reference_price": "100.00"}, None, "$"),  # a reference price without a band
        ({"price_band_bps": 100}, None, "$"),
        ({"reference_price": "100.00", "price_band_bps": 0}, None, "$.price_band_bps"),
        ({"reference_price": "100.00", "price_band_bps": 10001}, None, "$.price_band_bps"),
        ({"reference_price": "0", "price_band_bps": 100}, None, "$.reference_price"),
        ({"reference_price": "100.001", "price_band_bps": 100}, None, "$.reference_price"),
        ({"max_order_quantity": "5"}, None, "$.max_order_quantity"),  # below min_quantity 10
        ({"max_order_quantity": "20.2"}, None, "$.max_order_quantity"),  # off the 0.5 lot
        ({}, {"reference_price": "100.00"}, "$.price_band_bps"),
        ({"reference_price": "100.00", "price_band_bps": 100}, {"price_band_bps": None},
         "$.price_band_bps"),
        ({"max_order_quantity": "20"}, {"min_quantity": "25"}, "$.max_order_quantity"),
    ],
)  # fmt: skip
async def test_inconsistent_limits_are_422(operator, body, change, field):
    new = commodity_body(**body)

    created = await operator.post("/v1/commodities", new)
    if change is not None:
        assert created.status == 201
        reply = await operator.patch(f"/v1/commodities/{new['code']}", change)
    else:
        reply = created

    assert reply.status == 422, reply.body
    assert reply.body["errors"][0]["path"] == field


async def test_two_concurrent_amends_cannot_together_make_an_amount_too_large(operator, region):
    # each amend alone fits (9e16 EUR x 1, or 1.00 EUR x 1e12); both together would not
    code = await _commodity(operator, lot_size="1", min_quantity="1")
    buyer, seller = await _trader(operator, region), await _trader(operator, region)
    placed = await buyer.post("/v1/orders", _order(code, "buy", "1.00", "1"))
    path = f"/v1/orders/{placed.body['id']}"

    replies = await asyncio.gather(
        buyer.patch(path, {"price": "90000000000000000.00"}),
        buyer.patch(path, {"quantity": "1000000000000"}),
    )
    # a low offer for a large quantity trades at the bid's price
    offer = await seller.post("/v1/orders", _order(code, "sell", "0.01", "1000000000000"))

    assert sorted((r.status, r.code) for r in replies) == [(200, None), (422, "OUT_OF_RANGE")]
    assert offer.status == 201, offer.body
    assert offer.body["status"] in ("partially_filled", "filled")
