"""Named listings end to end: a supplier's offer and a buyer's wanted notice are published with
the poster's name and credit score; counterparties take parts at the listing's price, each take
a signed contract on the commodity's chain that is paid like any other; concurrent takes never
oversell; refusals change nothing; the poster amends and withdraws; expiry follows the clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from exchange.clock import ManualClock
from exchange.payments.references import contract_reference
from tests.factories import Api, Reply, commodity_body, new_participant, unique
from tests.payments_support import deposit, ledger_holds, manual_clock, paying_center  # noqa: F401


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Any]:
    return await listing_desk(operator)


async def listing_desk(operator: Api) -> dict[str, Any]:
    """Two regions, a supplier, two buyers and a commodity of their own."""
    origin, dest = unique("EU-LO-"), unique("EU-LD-")
    for code in (origin, dest):
        assert (await operator.post("/v1/regions", {"code": code, "name": code})).status == 201
    supplier, supplier_api = await new_participant(operator, ["supplier"], home_region=origin)
    buyer, buyer_api = await new_participant(operator, ["buyer"], home_region=dest)
    other, other_api = await new_participant(operator, ["buyer"], home_region=dest)
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1", fee_rate_bps=25,
                          review_threshold="1000000.00")  # fmt: skip
    assert (await operator.post("/v1/commodities", body)).status == 201
    return {"code": body["code"], "origin": origin, "dest": dest, "supplier": supplier,
            "supplier_api": supplier_api, "buyer": buyer, "buyer_api": buyer_api,
            "other": other, "other_api": other_api}  # fmt: skip


def listing_body(desk: dict[str, Any], clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    today = clock.now().date()
    return {
        "commodity": desk["code"], "side": "sell", "quantity": "30", "price": "120.00",
        "min_quantity": "2", "region": desk["origin"],
        "delivery_earliest": str(today + timedelta(days=3)),
        "delivery_latest": str(today + timedelta(days=10)),
        "valid_until": (clock.now() + timedelta(days=2)).isoformat(),
        "specification": "grade S235, coils of 5 t, strapped",
    } | overrides  # fmt: skip


async def publish(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api.post("/v1/listings", body)
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


async def take(api: Api, listing_id: int, quantity: str, key: str | None = None) -> Reply:
    headers = {"Authorization": f"Bearer {api.key}", "Idempotency-Key": key or unique("k-")}
    async with api.http.post(
        f"{api.base_url}/v1/listings/{listing_id}/take",
        json={"quantity": quantity},
        headers=headers,
    ) as response:
        return Reply(response.status, await response.json(content_type=None), response.headers)


async def listing_contracts(api: Api, code: str) -> list[dict[str, Any]]:
    found = (await api.get("/v1/contracts", commodity=code, limit="500")).body["data"]
    return [c for c in found if c["source"] == "listing"]


async def test_a_listing_shows_its_poster_and_credit_score(desk, clock):
    listing = await publish(desk["supplier_api"], listing_body(desk, clock))
    wanted = await publish(
        desk["buyer_api"], listing_body(desk, clock, side="buy", region=desk["dest"])
    )
    credit = await desk["buyer_api"].get(f"/v1/participants/{desk['supplier']['id']}/credit")
    sells = await desk["buyer_api"].get("/v1/listings", commodity=desk["code"], side="sell")
    one = await desk["other_api"].get(f"/v1/listings/{listing['id']}")

    assert listing["poster"] == {
        "participant_id": desk["supplier"]["id"],
        "legal_name": desk["supplier"]["legal_name"],
        "credit_score": credit.body["score"],
    }
    assert (listing["status"], listing["remaining"], listing["price"]) == (
        "open", "30.000000", "120.00"
    )  # fmt: skip
    assert listing["specification"] == "grade S235, coils of 5 t, strapped"
    assert wanted["poster"]["participant_id"] == desk["buyer"]["id"]
    assert listing["id"] in [item["id"] for item in sells.body["data"]]
    assert wanted["id"] not in [item["id"] for item in sells.body["data"]]
    assert one.body == listing


async def test_concurrent_takes_never_oversell_and_each_is_a_signed_payable_contract(desk, clock):
    listing = await publish(desk["supplier_api"], listing_body(desk, clock, quantity="30"))
    before = len(await listing_contracts(desk["buyer_api"], desk["code"]))
    takers = [desk["buyer_api"], desk["other_api"]] * 10
    replies = await asyncio.gather(*(take(api, listing["id"], "2") for api in takers))
    after = await desk["supplier_api"].get(f"/v1/listings/{listing['id']}")

    taken = [r for r in replies if r.status == 201]
    refused = [r for r in replies if r.status != 201]
    assert len(taken) == 15  # 30 lots in takes of 2
    assert {(r.status, r.body["code"]) for r in refused} <= {
        (409, "LISTING_NOT_OPEN"), (409, "EXCEEDS_REMAINING")
    }  # fmt: skip
    assert len(refused) == 5
    assert (after.body["remaining"], after.body["status"]) == ("0.000000", "filled")
    made = await listing_contracts(desk["supplier_api"], desk["code"])
    assert len(made) == before + 15
    for reply in taken:
        contract = reply.body["contract"]
        assert (contract["source"], contract["source_id"]) == ("listing", reply.body["id"])
        assert contract["terms"]["unit_price"] == "120.00"
        assert contract["terms"]["quantity"] == "2.000000"
        assert contract["terms"]["seller"]["participant_id"] == desk["supplier"]["id"]
        assert contract["terms"]["delivery"]["origin_region"] == desk["origin"]
        assert contract["payment_reference"] == contract_reference(contract["id"])
        check = await desk["supplier_api"].get(f"/v1/contracts/{contract['id']}/verification")
        assert (check.body["valid"], check.body["problems"]) == (True, [])
    # one of them is paid through the designated bank like any book contract
    paying = next(r for r in taken if r.body["contract"]["buyer_id"] == desk["buyer"]["id"])
    contract = paying.body["contract"]
    await deposit(desk["buyer_api"], clock, desk["buyer"]["id"], contract["amount"])
    paid = await desk["buyer_api"].post(f"/v1/contracts/{contract['id']}/pay")
    assert paid.status == 200, paid.body
    assert paid.body["contract"]["status"] == "funded"


async def test_a_retried_take_gives_the_same_contract_once(desk, clock):
    listing = await publish(desk["supplier_api"], listing_body(desk, clock, quantity="10"))
    key = unique("retry-")
    first = await take(desk["buyer_api"], listing["id"], "3", key)
    again = await take(desk["buyer_api"], listing["id"], "3", key)
    other = await take(desk["buyer_api"], listing["id"], "4", key)
    after = await desk["buyer_api"].get(f"/v1/listings/{listing['id']}")

    assert first.status == again.status == 201, first.body
    assert again.body == first.body
    assert (other.status, other.body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert after.body["remaining"] == "7.000000"
    made = await listing_contracts(desk["buyer_api"], desk["code"])
    assert [c["id"] for c in made].count(first.body["contract"]["id"]) == 1
    assert len([c for c in made if c["source_id"] == first.body["id"]]) == 1


@pytest.mark.parametrize(
    ("who", "quantity", "status", "code"),
    [
        ("supplier_api", "2", 409, "OWN_LISTING"),
        ("buyer_api", "1", 422, "BELOW_MINIMUM"),
        ("buyer_api", "11", 409, "EXCEEDS_REMAINING"),
        ("buyer_api", "2.5", 422, "QUANTITY_OFF_LOT"),
    ],
)
async def test_refused_takes_change_nothing(desk, clock, who, quantity, status, code):
    listing = await publish(desk["supplier_api"], listing_body(desk, clock, quantity="10"))
    before = len(await listing_contracts(desk["buyer_api"], desk["code"]))
    reply = await take(desk[who], listing["id"], quantity)
    after = await desk["buyer_api"].get(f"/v1/listings/{listing['id']}")

    assert (reply.status, reply.body["code"]) == (status, code), reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert after.body["remaining"] == "10.000000"
    assert len(await listing_contracts(desk["buyer_api"], desk["code"])) == before


async def test_a_supplier_cannot_post_a_wanted_notice_nor_take_a_sell_listing(
    desk, clock, operator
):
    _, rival = await new_participant(operator, ["supplier"])
    listing = await publish(desk["supplier_api"], listing_body(desk, clock))
    taken = await take(rival, listing["id"], "2")
    as_buyer = await desk["supplier_api"].post(
        "/v1/listings", listing_body(desk, clock, side="buy")
    )

    assert (as_buyer.status, as_buyer.body["code"]) == (403, "ROLE_REQUIRED")
    assert (taken.status, taken.body["code"]) == (403, "ROLE_REQUIRED")
    seen = await desk["buyer_api"].get(f"/v1/listings/{listing['id']}")
    assert seen.body["remaining"] == "30.000000"


async def test_the_last_lots_may_be_taken_below_the_minimum(desk, clock):
    listing = await publish(desk["supplier_api"], listing_body(desk, clock, quantity="5",
                                                               min_quantity="4"))  # fmt: skip
    first = await take(desk["buyer_api"], listing["id"], "4")
    rest = await take(desk["other_api"], listing["id"], "1")

    assert first.status == 201, first.body
    assert rest.status == 201, rest.body
    assert rest.body["listing"]["status"] == "filled"


async def test_a_wanted_notice_is_taken_by_a_supplier(desk, clock):
    wanted = await publish(
        desk["buyer_api"], listing_body(desk, clock, side="buy", region=desk["dest"])
    )
    reply = await take(desk["supplier_api"], wanted["id"], "5")
    by_buyer = await take(desk["other_api"], wanted["id"], "5")

    assert reply.status == 201, reply.body
    terms = reply.body["contract"]["terms"]
    assert terms["buyer"]["participant_id"] == desk["buyer"]["id"]
    assert terms["seller"]["participant_id"] == desk["supplier"]["id"]
    assert terms["delivery"]["region"] == desk["dest"]
    assert (by_buyer.status, by_buyer.body["code"]) == (403, "ROLE_REQUIRED")


async def test_the_poster_amends_and_withdraws(desk, clock):
    listing = await publish(desk["supplier_api"], listing_body(desk, clock, quantity="10"))
    assert (await take(desk["buyer_api"], listing["id"], "4")).status == 201
    path = f"/v1/listings/{listing['id']}"
    too_low = await desk["supplier_api"].patch(path, {"quantity": "3"})
    by_other = await desk["buyer_api"].patch(path, {"price": "1.00"})
    amended = await desk["supplier_api"].patch(
        path, {"price": "110.00", "quantity": "12", "specification": "grade S275"}
    )
    cheaper = await take(desk["other_api"], listing["id"], "2")
    withdrawn = await desk["supplier_api"].post(f"{path}/withdraw")
    late = await take(desk["buyer_api"], listing["id"], "2")
    open_ones = await desk["buyer_api"].get("/v1/listings", commodity=desk["code"], limit="500")
    every = await desk["buyer_api"].get(
        "/v1/listings", commodity=desk["code"], include_closed="true", limit="500"
    )

    assert (too_low.status, too_low.body["code"]) == (409, "BELOW_TAKEN")
    assert (by_other.status, by_other.body["code"]) == (404, "UNKNOWN_LISTING")
    assert amended.status == 200, amended.body
    assert (amended.body["price"], amended.body["remaining"]) == ("110.00", "8.000000")
    assert amended.body["specification"] == "grade S275"
    assert cheaper.body["contract"]["terms"]["unit_price"] == "110.00"
    assert withdrawn.body["status"] == "withdrawn"
    assert (late.status, late.body["code"]) == (409, "LISTING_NOT_OPEN")
    assert listing["id"] not in [item["id"] for item in open_ones.body["data"]]
    assert listing["id"] in [item["id"] for item in every.body["data"]]


async def test_an_expired_listing_cannot_be_taken(desk, clock):
    body = listing_body(desk, clock, valid_until=(clock.now() + timedelta(hours=1)).isoformat())
    listing = await publish(desk["supplier_api"], body)
    clock.advance(timedelta(hours=2))
    reply = await take(desk["buyer_api"], listing["id"], "2")
    seen = await desk["buyer_api"].get(f"/v1/listings/{listing['id']}")

    assert (reply.status, reply.body["code"]) == (409, "LISTING_NOT_OPEN")
    assert seen.body["status"] == "expired"
    assert seen.body["remaining"] == "30.000000"


async def test_bad_listings_are_refused(desk, clock):
    cases = {
        "PRICE_OFF_TICK": listing_body(desk, clock, price="120.5"),
        "MINIMUM_ABOVE_QUANTITY": listing_body(desk, clock, min_quantity="31"),
        "UNKNOWN_REGION": listing_body(desk, clock, region="NOWHERE"),
        "VALID_UNTIL_PASSED": listing_body(
            desk, clock, valid_until=(clock.now() - timedelta(hours=1)).isoformat()
        ),
        "UNKNOWN_COMMODITY": listing_body(desk, clock, commodity="NOPE"),
    }
    for code, body in cases.items():
        reply = await desk["supplier_api"].post("/v1/listings", body)
        assert (reply.status, reply.body.get("code")) == (422, code), (code, reply.body)
    nul = await desk["supplier_api"].post(
        "/v1/listings", listing_body(desk, clock, specification="a\u0000b")
    )
    window = await desk["supplier_api"].post(
        "/v1/listings",
        listing_body(desk, clock, delivery_earliest="2030-01-10", delivery_latest="2030-01-01"),
    )
    assert nul.status == 422
    assert window.status == 422


async def test_listings_the_center_cannot_hold_are_refused(desk, clock):
    huge = await desk["supplier_api"].post(
        "/v1/listings", listing_body(desk, clock, price="999999999999999.00", quantity="99999999")
    )
    far = await desk["supplier_api"].post(
        "/v1/listings", listing_body(desk, clock, valid_until="9999-01-01T00:00:00Z")
    )
    listing = await publish(desk["supplier_api"], listing_body(desk, clock))
    amended = await desk["supplier_api"].patch(
        f"/v1/listings/{listing['id']}", {"price": "999999999999999.00", "quantity": "99999999"}
    )

    assert (huge.status, huge.body["code"]) == (422, "OUT_OF_RANGE")
    assert (far.status, far.body["code"]) == (422, "OUT_OF_RANGE")
    assert (amended.status, amended.body["code"]) == (422, "OUT_OF_RANGE")


async def test_a_suspended_posters_listing_cannot_be_taken(desk, clock, operator):
    poster, poster_api = await new_participant(operator, ["supplier"])
    listing = await publish(poster_api, listing_body(desk, clock))
    assert (await operator.post(f"/v1/participants/{poster['id']}/suspend")).status == 200
    reply = await take(desk["buyer_api"], listing["id"], "2")

    assert (reply.status, reply.body["code"]) == (409, "LISTING_NOT_OPEN")


async def test_no_take_while_the_commodity_is_halted(desk, clock, operator):
    listing = await publish(desk["supplier_api"], listing_body(desk, clock))
    assert (await operator.post(f"/v1/commodities/{desk['code']}/halt")).status == 200
    try:
        halted = await take(desk["buyer_api"], listing["id"], "2")
        during = await desk["buyer_api"].get(f"/v1/listings/{listing['id']}")
    finally:
        assert (await operator.post(f"/v1/commodities/{desk['code']}/resume")).status == 200
    resumed = await take(desk["buyer_api"], listing["id"], "2")

    assert (halted.status, halted.body["code"]) == (409, "MARKET_HALTED")
    assert during.body["remaining"] == listing["remaining"]
    assert resumed.status == 201, resumed.body
