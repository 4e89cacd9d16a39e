"""The `listings` WebSocket channel: a commodity's open listings as a snapshot, then every
publication, amendment, take and withdrawal in order; a take also tells both parties' `user`
channel of the contract it made, as a trade does."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_listings import listing_body, listing_desk, publish, take
from tests.e2e.test_ws_market import connect
from tests.factories import Api, commodity_body
from tests.payments_support import manual_clock, paying_center  # noqa: F401


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Any]:
    return await listing_desk(operator)


async def test_a_snapshot_then_every_change_in_order(desk, clock):
    before = await publish(desk["supplier_api"], listing_body(desk, clock, quantity="7"))
    sock = await connect(desk["other_api"])
    try:
        await sock.subscribe({"name": "listings", "commodity": desk["code"]})
        snapshot = await sock.next("listings_snapshot")
        assert snapshot["complete"] is True
        assert snapshot["commodity"] == desk["code"]
        assert before["id"] in [listing["id"] for listing in snapshot["listings"]]

        made = await publish(desk["supplier_api"], listing_body(desk, clock, quantity="30"))
        published = await sock.next("listing")
        assert (published["event"], published["listing"]) == ("published", made)
        assert published["sequence"] == snapshot["sequence"] + 1

        assert (await take(desk["buyer_api"], made["id"], "5")).status == 201
        taken = await sock.next("listing")
        assert (taken["event"], taken["listing"]["remaining"]) == ("taken", "25.000000")

        reply = await desk["supplier_api"].patch(f"/v1/listings/{made['id']}", {"price": "118.00"})
        assert reply.status == 200, reply.body
        amended = await sock.next("listing")
        assert (amended["event"], amended["listing"]["price"]) == ("amended", "118.00")

        reply = await desk["supplier_api"].post(f"/v1/listings/{made['id']}/withdraw", {})
        assert reply.status == 200, reply.body
        withdrawn = await sock.next("listing")
        assert (withdrawn["event"], withdrawn["listing"]["status"]) == ("withdrawn", "withdrawn")
        assert withdrawn["sequence"] == snapshot["sequence"] + 4
    finally:
        await sock.ws.close()


async def test_only_the_subscribed_commodity_is_sent(desk, clock, operator):
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    sock = await connect(desk["other_api"])
    try:
        await sock.subscribe({"name": "listings", "commodity": desk["code"]})
        await sock.next("listings_snapshot")
        elsewhere = listing_body(desk, clock, commodity=body["code"])
        await publish(desk["supplier_api"], elsewhere)
        ours = await publish(desk["supplier_api"], listing_body(desk, clock))

        message = await sock.next("listing")  # the other commodity's listing never comes first
        assert message["listing"]["id"] == ours["id"]
    finally:
        await sock.ws.close()


async def test_a_take_tells_both_parties_of_its_contract(desk, clock):
    made = await publish(desk["supplier_api"], listing_body(desk, clock))
    supplier, buyer = await connect(desk["supplier_api"]), await connect(desk["buyer_api"])
    try:
        for sock in (supplier, buyer):
            await sock.subscribe({"name": "user"})
            await sock.next("user_snapshot")
        reply = await take(desk["buyer_api"], made["id"], "4")
        assert reply.status == 201, reply.body

        for sock in (supplier, buyer):
            notice = await sock.next("contract")
            assert notice["event"] == "created"
            assert notice["contract"]["id"] == reply.body["contract"]["id"]
            assert notice["contract"]["source"] == "listing"
    finally:
        await supplier.ws.close()
        await buyer.ws.close()


async def test_the_channel_names_a_known_commodity(desk):
    sock = await connect(desk["other_api"])
    try:
        await sock.send({"type": "subscribe", "channels": [{"name": "listings"}]})
        assert (await sock.next("error"))["code"] == "VALIDATION_FAILED"
        await sock.send(
            {"type": "subscribe", "channels": [{"name": "listings", "commodity": "NOPE-X"}]}
        )
        assert (await sock.next("error"))["code"] == "UNKNOWN_COMMODITY"
    finally:
        await sock.ws.close()
