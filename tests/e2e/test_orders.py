"""Order entry through the API: matching, cancel, amend, batch, time in force, idempotency."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import Api, commodity_body, new_participant, order_body

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
async def market(operator: Api) -> dict:
    await operator.post("/v1/regions", {"code": "EU-NL", "name": "Netherlands"})
    body = commodity_body(tick_size="0.50", lot_size="0.5", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    return {"commodity": body["code"]}


async def _trader(operator: Api, roles: list[str]) -> Api:
    _, client = await new_participant(operator, roles, home_region="EU-NL")
    return client


def order(market: dict, side: str, price: str, quantity: str, **extra) -> dict:
    return order_body(market["commodity"], side, price, quantity, **extra)


async def test_a_crossing_buy_trades_at_the_resting_price(operator, market):
    supplier = await _trader(operator, ["supplier"])
    buyer = await _trader(operator, ["buyer"])

    offer = await supplier.post("/v1/orders", order(market, "sell", "100.00", "10"))
    demand = await buyer.post("/v1/orders", order(market, "buy", "101.50", "4"))
    offer_now = await supplier.get(f"/v1/orders/{offer.body['id']}")
    buyer_fills = await buyer.get("/v1/fills")
    supplier_fills = await supplier.get("/v1/fills")

    assert offer.status == 201
    assert offer.body["status"] == "open"
    assert demand.status == 201
    assert demand.body["status"] == "filled"
    assert demand.body["filled_quantity"] == "4.000000"
    assert offer_now.body["status"] == "partially_filled"
    assert offer_now.body["open_quantity"] == "6.000000"
    assert offer_now.body["filled_quantity"] == "4.000000"
    [bought] = buyer_fills.body["data"]
    [sold] = supplier_fills.body["data"]
    assert (bought["side"], bought["price"], bought["quantity"]) == ("buy", "100.00", "4.000000")
    assert bought["liquidity"] == "taker"
    assert sold["liquidity"] == "maker"
    assert bought["trade_id"] == sold["trade_id"]
    assert bought["region"] == "EU-NL"


async def test_cancel_then_cancel_again_is_409(operator, market):
    supplier = await _trader(operator, ["supplier"])
    placed = await supplier.post("/v1/orders", order(market, "sell", "150.00", "2"))

    cancelled = await supplier.delete(f"/v1/orders/{placed.body['id']}")
    again = await supplier.delete(f"/v1/orders/{placed.body['id']}")

    assert cancelled.status == 200
    assert cancelled.body["status"] == "cancelled"
    assert cancelled.body["reason"] == "by_owner"
    assert (again.status, again.code) == (409, "ORDER_CLOSED")


async def test_others_cannot_see_or_cancel_my_order(operator, market):
    supplier = await _trader(operator, ["supplier"])
    other = await _trader(operator, ["supplier"])
    placed = await supplier.post("/v1/orders", order(market, "sell", "151.00", "2"))

    seen = await other.get(f"/v1/orders/{placed.body['id']}")
    cancel = await other.delete(f"/v1/orders/{placed.body['id']}")

    assert (seen.status, seen.code) == (404, "UNKNOWN_ORDER")
    assert (cancel.status, cancel.code) == (404, "UNKNOWN_ORDER")


async def test_amend_down_keeps_priority_and_price_change_loses_it(operator, market):
    first = await _trader(operator, ["supplier"])
    second = await _trader(operator, ["supplier"])
    buyer = await _trader(operator, ["buyer"])
    a = await first.post("/v1/orders", order(market, "sell", "90.00", "4"))
    b = await second.post("/v1/orders", order(market, "sell", "90.00", "4"))

    reduced = await first.patch(f"/v1/orders/{a.body['id']}", {"quantity": "2"})
    hit = await buyer.post("/v1/orders", order(market, "buy", "90.00", "2"))
    a_after = await first.get(f"/v1/orders/{a.body['id']}")
    repriced = await second.patch(f"/v1/orders/{b.body['id']}", {"price": "95.00"})

    assert reduced.body["open_quantity"] == "2.000000"
    assert hit.body["status"] == "filled"
    assert a_after.body["status"] == "filled"  # still first in the queue after reducing
    assert repriced.body["price"] == "95.00"
    assert repriced.body["open_quantity"] == "4.000000"
    await second.delete(f"/v1/orders/{b.body['id']}")


async def test_ioc_fills_what_it_can_and_cancels_the_rest(operator, market):
    supplier = await _trader(operator, ["supplier"])
    buyer = await _trader(operator, ["buyer"])
    await supplier.post("/v1/orders", order(market, "sell", "80.00", "3"))

    ioc = await buyer.post("/v1/orders", order(market, "buy", "80.00", "5", time_in_force="ioc"))

    assert ioc.body["status"] == "cancelled"
    assert ioc.body["filled_quantity"] == "3.000000"
    assert ioc.body["reason"] == "ioc_remainder"


async def test_fok_that_cannot_fill_is_rejected_and_changes_nothing(operator, market):
    supplier = await _trader(operator, ["supplier"])
    buyer = await _trader(operator, ["buyer"])
    offer = await supplier.post("/v1/orders", order(market, "sell", "70.00", "3"))

    fok = await buyer.post("/v1/orders", order(market, "buy", "70.00", "5", time_in_force="fok"))
    offer_after = await supplier.get(f"/v1/orders/{offer.body['id']}")

    assert fok.status == 201
    assert (fok.body["status"], fok.body["reason"]) == ("rejected", "fok_not_fillable")
    assert offer_after.body["open_quantity"] == "3.000000"
    await supplier.delete(f"/v1/orders/{offer.body['id']}")


async def test_retry_returns_the_original_and_a_different_body_is_409(operator, market):
    buyer = await _trader(operator, ["buyer"])
    body = order(market, "buy", "10.00", "1")

    first = await buyer.post("/v1/orders", body)
    retry = await buyer.post("/v1/orders", body)
    changed = await buyer.post("/v1/orders", body | {"price": "11.00"})
    listing = await buyer.get("/v1/orders")

    assert first.status == 201
    assert retry.status == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.body == first.body
    assert (changed.status, changed.code) == (409, "DUPLICATE_CLIENT_ORDER_ID")
    assert [o["id"] for o in listing.body["data"]] == [first.body["id"]]


async def test_concurrent_retries_have_exactly_one_effect(operator, market):
    buyer = await _trader(operator, ["buyer"])
    body = order(market, "buy", "12.00", "1")

    replies = await asyncio.gather(*(buyer.post("/v1/orders", body) for _ in range(8)))
    listing = await buyer.get("/v1/orders")

    assert sorted(r.status for r in replies) == [200] * 7 + [201]
    assert len({r.body["id"] for r in replies}) == 1
    assert len(listing.body["data"]) == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"price": "100.25"}, 422, "PRICE_OFF_TICK"),
        ({"price": "0"}, 422, "INVALID_PRICE"),
        ({"quantity": "1.25"}, 422, "QUANTITY_OFF_LOT"),
        ({"quantity": "0.5"}, 422, "BELOW_MINIMUM_QUANTITY"),
        ({"min_fill_quantity": "9"}, 422, "INVALID_MIN_FILL"),
        ({"commodity": "NO-SUCH"}, 422, "UNKNOWN_COMMODITY"),
        ({"region": "NOWHERE"}, 422, "UNKNOWN_REGION"),
        ({"time_in_force": "gtd", "expires_at": "2020-01-01T00:00:00Z"}, 422, "EXPIRY_IN_PAST"),
        ({"time_in_force": "gtd"}, 422, "VALIDATION_FAILED"),
        ({"price": "12,5"}, 422, "VALIDATION_FAILED"),
        ({"side": "sell"}, 403, "ROLE_REQUIRED"),
    ],
)
async def test_invalid_orders_are_refused_and_nothing_is_stored(
    operator, market, change, status, code
):
    buyer = await _trader(operator, ["buyer"])
    body = order(market, "buy", "100.00", "2") | change

    reply = await buyer.post("/v1/orders", body)
    listing = await buyer.get("/v1/orders")
    reuse = await buyer.post(
        "/v1/orders", order(market, "buy", "1.00", "1", client_order_id=body["client_order_id"])
    )

    assert (reply.status, reply.code) == (status, code)
    assert listing.body["data"] == []
    assert reuse.status == 201  # the refused request did not use up its client_order_id


async def test_halted_market_refuses_new_orders_and_keeps_resting_ones(operator, market):
    supplier = await _trader(operator, ["supplier"])
    resting = await supplier.post("/v1/orders", order(market, "sell", "300.00", "1"))

    await operator.post(f"/v1/commodities/{market['commodity']}/halt")
    refused = await supplier.post("/v1/orders", order(market, "sell", "301.00", "1"))
    kept = await supplier.get(f"/v1/orders/{resting.body['id']}")
    await operator.post(f"/v1/commodities/{market['commodity']}/resume")
    accepted = await supplier.post("/v1/orders", order(market, "sell", "301.00", "1"))

    assert (refused.status, refused.code) == (422, "MARKET_HALTED")
    assert kept.body["status"] == "open"
    assert accepted.status == 201
    for placed in (resting, accepted):
        await supplier.delete(f"/v1/orders/{placed.body['id']}")


async def test_gtd_order_expires_on_time(operator, market):
    supplier = await _trader(operator, ["supplier"])
    expires = datetime.now(UTC) + timedelta(milliseconds=600)
    placed = await supplier.post(
        "/v1/orders",
        order(market, "sell", "400.00", "1", time_in_force="gtd", expires_at=expires.isoformat()),
    )

    deadline = time.monotonic() + 10
    status = placed.body["status"]
    while status == "open" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        status = (await supplier.get(f"/v1/orders/{placed.body['id']}")).body["status"]
    final = await supplier.get(f"/v1/orders/{placed.body['id']}")

    assert placed.body["status"] == "open"
    assert final.body["status"] == "expired"
    assert final.body["reason"] == "expired"
    # on time: not before expires_at, and not much after it (the writer wakes up for it)
    assert (
        expires <= datetime.fromisoformat(final.body["updated_at"]) < expires + timedelta(seconds=1)
    )


async def test_batch_gives_one_result_per_order(operator, market):
    supplier = await _trader(operator, ["supplier"])
    good = [order(market, "sell", f"{500 + i}.00", "1") for i in range(5)]
    bad = order(market, "sell", "500.25", "1")

    reply = await supplier.post("/v1/orders/batch", {"orders": [*good, bad, good[0]]})

    statuses = [r["status"] for r in reply.body["results"]]
    assert reply.status == 200
    assert statuses == [201] * 5 + [422, 200]
    assert reply.body["results"][5]["error"]["code"] == "PRICE_OFF_TICK"
    assert reply.body["results"][6]["order"]["id"] == reply.body["results"][0]["order"]["id"]
    assert [r["index"] for r in reply.body["results"]] == list(range(7))


async def test_orders_list_filters_and_pages(operator, market):
    supplier = await _trader(operator, ["supplier", "buyer"])
    placed = []
    for i in range(5):
        reply = await supplier.post("/v1/orders", order(market, "sell", f"{600 + i}.00", "1"))
        placed.append(reply.body["id"])
    await supplier.post("/v1/orders", order(market, "buy", "1.00", "1"))
    await supplier.delete(f"/v1/orders/{placed[0]}")

    sells: list[int] = []
    cursor = None
    while True:
        params = {"side": "sell", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = await supplier.get("/v1/orders", **params)
        sells += [o["id"] for o in page.body["data"]]
        if not page.body["has_next"]:
            break
        cursor = page.body["next_cursor"]
    cancelled = await supplier.get("/v1/orders", status="cancelled")

    assert sells == list(reversed(placed))
    assert [o["id"] for o in cancelled.body["data"]] == [placed[0]]


async def test_self_trade_is_prevented(operator, market):
    both = await _trader(operator, ["supplier", "buyer"])
    offer = await both.post("/v1/orders", order(market, "sell", "50.00", "1"))

    bid = await both.post("/v1/orders", order(market, "buy", "50.00", "1"))
    offer_after = await both.get(f"/v1/orders/{offer.body['id']}")

    assert bid.body["filled_quantity"] == "0.000000"
    assert (offer_after.body["status"], offer_after.body["reason"]) == ("cancelled", "self_trade")
    await both.delete(f"/v1/orders/{bid.body['id']}")
