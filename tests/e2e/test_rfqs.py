"""RFQs end to end (open mode): a buyer asks for quotes, open to all suppliers or invited ones;
suppliers quote, revise (every revision kept) and withdraw; a supplier sees only its own quotes,
an uninvited one not even the RFQ; refusals change nothing; closing follows the clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from exchange.clock import ManualClock
from tests.factories import Api, Reply, commodity_body, new_participant, unique
from tests.payments_support import manual_clock, paying_center  # noqa: F401


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Any]:
    return await rfq_desk(operator, "EU-RQ-")


async def rfq_desk(operator: Api, prefix: str) -> dict[str, Any]:
    """Three regions (`prefix`...), a buyer, suppliers a, b and c, each with a name of its own,
    another buyer and a commodity of their own."""
    regions = [unique(prefix) for _ in range(3)]
    for code in regions:
        assert (await operator.post("/v1/regions", {"code": code, "name": code})).status == 201
    desk: dict[str, Any] = {"regions": regions}
    for name, role in [("buyer", "buyer"), ("a", "supplier"), ("b", "supplier"),
                       ("c", "supplier"), ("other_buyer", "buyer")]:  # fmt: skip
        participant, api = await new_participant(
            operator, [role], home_region=regions[0], legal_name=unique(f"Bidder {name} ")
        )
        desk[name], desk[f"{name}_api"] = participant, api
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    desk["code"] = body["code"]
    return desk


def rfq_body(desk: dict[str, Any], clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    today = clock.now().date()
    return {
        "commodity": desk["code"], "quantity": "100", "min_quantity": "10",
        "max_price": "150.00", "region": desk["regions"][0],
        "delivery_earliest": str(today + timedelta(days=10)),
        "delivery_latest": str(today + timedelta(days=20)),
        "closes_at": (clock.now() + timedelta(hours=4)).isoformat(),
        "specification": "grade S235",
    } | overrides  # fmt: skip


def quote_body(desk: dict[str, Any], clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    return {
        "price": "120.00", "quantity": "50", "origin_region": desk["regions"][1],
        "valid_until": (clock.now() + timedelta(days=1)).isoformat(),
    } | overrides  # fmt: skip


async def node_with_lanes(operator: Api, region: str, lanes: list[dict[str, Any]]) -> str:
    body = {"code": unique("RQ"), "name": "RFQ node", "regions": [region], "daily_capacity": 9}
    reply = await operator.post("/v1/nodes", body)
    assert reply.status == 201, reply.body
    code = reply.body["node"]["code"]
    put = await operator.call("PUT", f"/v1/nodes/{code}/lanes", {"lanes": lanes})
    assert put.status == 200, put.body
    return code  # type: ignore[no-any-return]


async def create(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api.post("/v1/rfqs", body)
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


async def quote(api: Api, rfq_id: int, body: dict[str, Any]) -> dict[str, Any]:
    reply = await api.post(f"/v1/rfqs/{rfq_id}/quotes", body)
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


async def test_an_open_rfq_is_seen_by_every_supplier_and_its_buyer_only(desk, clock):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    seen_by_a = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}")
    listed_by_b = await desk["b_api"].get("/v1/rfqs", commodity=desk["code"])
    listed_by_buyer = await desk["buyer_api"].get("/v1/rfqs")
    other_buyer = await desk["other_buyer_api"].get(f"/v1/rfqs/{rfq['id']}")
    other_list = await desk["other_buyer_api"].get("/v1/rfqs")

    assert (rfq["status"], rfq["mode"], rfq["quantity"], rfq["max_price"]) == (
        "open", "open", "100.000000", "150.00"
    )  # fmt: skip
    assert rfq["buyer_id"] == desk["buyer"]["id"]
    assert seen_by_a.status == 200
    assert seen_by_a.body == rfq
    assert rfq["id"] in [r["id"] for r in listed_by_b.body["data"]]
    assert rfq["id"] in [r["id"] for r in listed_by_buyer.body["data"]]
    assert (other_buyer.status, other_buyer.body["code"]) == (404, "UNKNOWN_RFQ")
    assert rfq["id"] not in [r["id"] for r in other_list.body["data"]]


async def test_an_uninvited_supplier_gets_404_everywhere(desk, clock):
    body = rfq_body(desk, clock, invited=[desk["a"]["id"]])
    rfq = await create(desk["buyer_api"], body)
    by_b = await desk["b_api"].get(f"/v1/rfqs/{rfq['id']}")
    b_quotes = await desk["b_api"].post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))
    b_list = await desk["b_api"].get("/v1/rfqs", limit="500")
    by_a = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}")
    a_list = await desk["a_api"].get("/v1/rfqs", limit="500")

    assert rfq["invited"] == [desk["a"]["id"]]
    assert (by_b.status, by_b.body["code"]) == (404, "UNKNOWN_RFQ")
    assert (b_quotes.status, b_quotes.body["code"]) == (404, "UNKNOWN_RFQ")
    assert rfq["id"] not in [r["id"] for r in b_list.body["data"]]
    assert by_a.status == 200
    assert by_a.body["invited"] is None  # the buyer's list of invitees is its own business
    assert rfq["id"] in [r["id"] for r in a_list.body["data"]]


async def test_quotes_are_revised_with_history_and_private_to_their_supplier(desk, clock):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    first = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    second = await quote(desk["b_api"], rfq["id"], quote_body(desk, clock, price="118.00"))
    clock.advance(timedelta(minutes=5))
    revised = await desk["a_api"].patch(
        f"/v1/quotes/{first['id']}", {"price": "115.00", "origin_region": desk["regions"][2]}
    )
    by_buyer = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    by_a = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    by_b = await desk["b_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    b_revises_a = await desk["b_api"].patch(f"/v1/quotes/{first['id']}", {"price": "90.00"})

    assert (first["status"], first["revision"], first["price"]) == ("submitted", 1, "120.00")
    assert revised.status == 200, revised.body
    assert (revised.body["status"], revised.body["revision"]) == ("revised", 2)
    assert (revised.body["price"], revised.body["origin_region"]) == ("115.00", desk["regions"][2])
    assert [(h["revision"], h["price"], h["origin_region"]) for h in revised.body["history"]] == [
        (1, "120.00", desk["regions"][1]), (2, "115.00", desk["regions"][2])
    ]  # fmt: skip
    assert revised.body["history"][1]["made_at"] != revised.body["history"][0]["made_at"]
    assert [q["id"] for q in by_buyer.body] == [first["id"], second["id"]]
    assert [q["id"] for q in by_a.body] == [first["id"]]
    assert [q["id"] for q in by_b.body] == [second["id"]]
    assert (b_revises_a.status, b_revises_a.body["code"]) == (404, "UNKNOWN_QUOTE")


async def test_a_withdrawn_quote_stays_withdrawn_and_a_new_one_may_follow(desk, clock):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    first = await quote(desk["c_api"], rfq["id"], quote_body(desk, clock))
    again = await desk["c_api"].post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))
    gone = await desk["c_api"].post(f"/v1/quotes/{first['id']}/withdraw")
    revise_gone = await desk["c_api"].patch(f"/v1/quotes/{first['id']}", {"price": "100.00"})
    fresh = await quote(desk["c_api"], rfq["id"], quote_body(desk, clock, price="110.00"))
    by_buyer = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")

    assert (again.status, again.body["code"]) == (409, "QUOTE_EXISTS")
    assert (gone.status, gone.body["status"]) == (200, "withdrawn")
    assert (revise_gone.status, revise_gone.body["code"]) == (409, "QUOTE_WITHDRAWN")
    assert [(q["id"], q["status"]) for q in by_buyer.body] == [
        (first["id"], "withdrawn"), (fresh["id"], "submitted")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"price": "151.00"}, 422, "ABOVE_MAX_PRICE"),
        ({"quantity": "101"}, 422, "ABOVE_RFQ_QUANTITY"),
        ({"quantity": "5"}, 422, "BELOW_MINIMUM"),
        ({"price": "120.50"}, 422, "PRICE_OFF_TICK"),
        ({"origin_region": "NOWHERE-9"}, 422, "UNKNOWN_REGION"),
        ({"valid_until": "2000-01-01T00:00:00Z"}, 422, "VALID_UNTIL_PASSED"),
    ],
)
async def test_a_refused_quote_changes_nothing(desk, clock, overrides, status, code):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    reply = await desk["a_api"].post(
        f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock, **overrides)
    )
    after = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")

    assert (reply.status, reply.body["code"]) == (status, code), reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert after.body == []


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"min_quantity": "101"}, "MINIMUM_ABOVE_QUANTITY"),
        ({"closes_at": "2000-01-01T00:00:00Z"}, "CLOSES_AT_PASSED"),
        ({"soft_close_minutes": 5}, "NOT_AN_AUCTION"),  # open mode has no soft close
        ({"region": "NOWHERE-9"}, "UNKNOWN_REGION"),
        ({"commodity": "NO-SUCH-GOODS"}, "UNKNOWN_COMMODITY"),
        ({"invited": [1 << 62]}, "UNKNOWN_SUPPLIER"),
    ],
)
async def test_a_refused_rfq_is_not_created(desk, clock, overrides, code):
    before = await desk["other_buyer_api"].get("/v1/rfqs", include_closed="true")
    reply = await desk["other_buyer_api"].post("/v1/rfqs", rfq_body(desk, clock, **overrides))
    after = await desk["other_buyer_api"].get("/v1/rfqs", include_closed="true")

    assert (reply.status, reply.body["code"]) == (422, code), reply.body
    assert after.body["data"] == before.body["data"]


async def test_roles_a_supplier_cannot_ask_and_a_buyer_cannot_quote(desk, clock):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    asked = await desk["a_api"].post("/v1/rfqs", rfq_body(desk, clock))
    quoted = await desk["buyer_api"].post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))

    assert (asked.status, asked.body["code"]) == (403, "ROLE_REQUIRED")
    assert (quoted.status, quoted.body["code"]) == (403, "ROLE_REQUIRED")


async def test_cancelled_and_closed_rfqs_take_no_quotes(desk, clock):
    cancelled = await create(desk["buyer_api"], rfq_body(desk, clock))
    closing = await create(
        desk["buyer_api"],
        rfq_body(desk, clock, closes_at=(clock.now() + timedelta(minutes=30)).isoformat()),
    )
    live = await quote(desk["a_api"], closing["id"], quote_body(desk, clock))
    stop = await desk["buyer_api"].post(f"/v1/rfqs/{cancelled['id']}/cancel")
    again = await desk["buyer_api"].post(f"/v1/rfqs/{cancelled['id']}/cancel")
    late_for_cancelled = await desk["a_api"].post(
        f"/v1/rfqs/{cancelled['id']}/quotes", quote_body(desk, clock)
    )
    clock.advance(timedelta(minutes=31))
    late = await desk["b_api"].post(f"/v1/rfqs/{closing['id']}/quotes", quote_body(desk, clock))
    late_revision = await desk["a_api"].patch(f"/v1/quotes/{live['id']}", {"price": "99.00"})
    shown = await desk["buyer_api"].get(f"/v1/rfqs/{closing['id']}")
    open_list = await desk["a_api"].get("/v1/rfqs", limit="500")

    assert (stop.status, stop.body["status"]) == (200, "cancelled")
    assert (again.status, again.body["code"]) == (409, "RFQ_NOT_OPEN")
    assert (late_for_cancelled.status, late_for_cancelled.body["code"]) == (409, "RFQ_NOT_OPEN")
    assert (late.status, late.body["code"]) == (409, "RFQ_NOT_OPEN")
    assert (late_revision.status, late_revision.body["code"]) == (409, "RFQ_NOT_OPEN")
    assert shown.body["status"] == "closed"
    open_ids = [r["id"] for r in open_list.body["data"]]
    assert cancelled["id"] not in open_ids
    assert closing["id"] not in open_ids


async def test_the_comparison_ranks_by_landed_cost_not_price_and_explains_it(desk, clock, operator):
    code, [home, east, west] = desk["code"], desk["regions"]
    lane = {"destination_region": home, "commodity": code, "transit_days": 3}
    cheap = await node_with_lanes(operator, home, [
        lane | {"origin_region": east, "rate": "30.00"},
        lane | {"origin_region": west, "rate": "4.00"},
    ])  # fmt: skip
    dear = await node_with_lanes(operator, home, [lane | {"origin_region": east, "rate": "45.00"}])
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    # a: lowest price, far away; b: dearer, near; c: from a region no lane reaches
    by_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, price="100.00"))
    by_b = await quote(desk["b_api"], rfq["id"],
                       quote_body(desk, clock, price="110.00", origin_region=west))  # fmt: skip
    by_c = await quote(desk["c_api"], rfq["id"],
                       quote_body(desk, clock, price="90.00", origin_region=home))  # fmt: skip
    credit_a = await desk["buyer_api"].get(f"/v1/participants/{desk['a']['id']}/credit")
    seen = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/comparison")
    by_supplier = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/comparison")

    assert seen.status == 200, seen.body
    ranked = seen.body["quotes"]
    assert [q["quote"]["id"] for q in ranked] == [by_b["id"], by_a["id"], by_c["id"]]
    assert [q["rank"] for q in ranked] == [1, 2, 3]
    assert [(q["price"], q["freight"], q["landed_cost"]) for q in ranked] == [
        ("110.00", "4.00", "114.00"), ("100.00", "30.00", "130.00"), ("90.00", None, None)
    ]  # fmt: skip
    assert ranked[0]["lane"] == {"node": cheap, "rate": "4.00", "transit_days": 3}
    assert ranked[1]["lane"]["node"] == cheap  # not the dearer node on the same lane
    assert dear != cheap
    assert ranked[1]["explanation"] == (
        f"price 100.00 EUR + freight 30.00 EUR (node {cheap}, lane {east} -> {home}, 3 days)"
        " = landed 130.00 EUR per unit"
    )
    assert "no landed cost" in ranked[2]["explanation"]
    assert ranked[1]["supplier"]["participant_id"] == desk["a"]["id"]
    assert ranked[1]["supplier"]["credit"] == credit_a.body
    assert (seen.body["currency"], seen.body["region"]) == ("EUR", home)
    assert (by_supplier.status, by_supplier.body["code"]) == (403, "ROLE_REQUIRED")


async def test_withdrawn_and_lapsed_quotes_are_left_out_of_the_comparison(desk, clock):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    gone = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    short = await quote(desk["b_api"], rfq["id"], quote_body(
        desk, clock, valid_until=(clock.now() + timedelta(minutes=10)).isoformat()
    ))  # fmt: skip
    kept = await quote(desk["c_api"], rfq["id"], quote_body(desk, clock))
    assert (await desk["a_api"].post(f"/v1/quotes/{gone['id']}/withdraw")).status == 200
    clock.advance(timedelta(minutes=11))
    seen = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/comparison")

    assert [q["quote"]["id"] for q in seen.body["quotes"]] == [kept["id"]]
    assert short["id"] != kept["id"]


async def award(api: Api, rfq_id: int, lines: list[tuple[int, str]], key: str | None = None):
    headers = {"Authorization": f"Bearer {api.key}", "Idempotency-Key": key or unique("aw-")}
    body = {"awards": [{"quote_id": q, "quantity": n} for q, n in lines]}
    async with api.http.post(
        f"{api.base_url}/v1/rfqs/{rfq_id}/award", json=body, headers=headers
    ) as response:
        return Reply(response.status, await response.json(content_type=None), response.headers)


async def test_a_split_award_makes_one_signed_contract_per_supplier_and_declines_the_rest(
    desk, clock
):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    by_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, price="120.00"))
    by_b = await quote(desk["b_api"], rfq["id"], quote_body(desk, clock, price="118.00",
                       origin_region=desk["regions"][2]))  # fmt: skip
    by_c = await quote(desk["c_api"], rfq["id"], quote_body(desk, clock, price="125.00"))
    key = unique("aw-")
    reply = await award(desk["buyer_api"], rfq["id"], [(by_b["id"], "50"), (by_a["id"], "30")], key)
    again = await award(desk["buyer_api"], rfq["id"], [(by_b["id"], "50"), (by_a["id"], "30")], key)
    twice = await award(desk["buyer_api"], rfq["id"], [(by_c["id"], "20")])
    seen_by_c = await desk["c_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    late_quote = await desk["c_api"].patch(f"/v1/quotes/{by_c['id']}", {"price": "100.00"})

    assert reply.status == 201, reply.body
    assert again.body == reply.body  # the retry gets the same contracts, made once
    assert reply.body["rfq"]["status"] == "partially_awarded"  # 80 of 100
    made = reply.body["awards"]
    assert [(m["quote_id"], m["supplier_id"], m["quantity"]) for m in made] == [
        (by_b["id"], desk["b"]["id"], "50.000000"), (by_a["id"], desk["a"]["id"], "30.000000")
    ]  # fmt: skip
    expected = [("118.00", desk["regions"][2]), ("120.00", desk["regions"][1])]
    for line, (price, origin) in zip(made, expected, strict=True):
        contract = line["contract"]
        assert (contract["source"], contract["source_id"]) == ("rfq", line["id"])
        assert contract["terms"]["unit_price"] == price
        assert contract["terms"]["seller"]["participant_id"] == line["supplier_id"]
        assert contract["buyer_id"] == desk["buyer"]["id"]
        assert contract["terms"]["delivery"]["origin_region"] == origin
        check = await desk["buyer_api"].get(f"/v1/contracts/{contract['id']}/verification")
        assert (check.body["valid"], check.body["problems"]) == (True, [])
    assert made[0]["id"] != made[1]["id"]
    assert (twice.status, twice.body["code"]) == (409, "RFQ_NOT_OPEN")
    assert [q["status"] for q in seen_by_c.body] == ["declined"]
    assert (late_quote.status, late_quote.body["code"]) == (409, "RFQ_NOT_OPEN")
    listed = await desk["buyer_api"].get("/v1/contracts", commodity=desk["code"], limit="500")
    from_rfq = [c for c in listed.body["data"] if c["source"] == "rfq"]
    assert {c["id"] for c in from_rfq} >= {m["contract"]["id"] for m in made}


@pytest.mark.parametrize(
    ("lines", "status", "code"),
    [
        ([("a", "51")], 422, "ABOVE_QUOTE_QUANTITY"),
        ([("a", "50"), ("b", "50"), ("c", "1")], 422, "ABOVE_RFQ_QUANTITY"),
        ([("a", "5")], 422, "BELOW_MINIMUM"),
        ([("a", "10"), ("a", "10")], 422, "DUPLICATE_QUOTE"),
        ([("w", "10")], 409, "QUOTE_WITHDRAWN"),
        ([("x", "10")], 422, "UNKNOWN_QUOTE"),
    ],
)
async def test_a_refused_award_changes_nothing(desk, clock, lines, status, code):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    other = await create(desk["buyer_api"], rfq_body(desk, clock))
    ids = {
        "a": (await quote(desk["a_api"], rfq["id"], quote_body(desk, clock)))["id"],
        "b": (await quote(desk["b_api"], rfq["id"], quote_body(desk, clock)))["id"],
        "c": (await quote(desk["c_api"], rfq["id"], quote_body(desk, clock, quantity="10")))["id"],
        "x": (await quote(desk["a_api"], other["id"], quote_body(desk, clock)))["id"],
    }
    withdrawn = await desk["c_api"].post(f"/v1/quotes/{ids['c']}/withdraw")
    ids["w"] = withdrawn.body["id"]
    reply = await award(desk["buyer_api"], rfq["id"], [(ids[k], n) for k, n in lines])
    after = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}")
    quotes_after = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")

    assert (reply.status, reply.body["code"]) == (status, code), reply.body
    assert after.body["status"] == "open"
    assert [q["status"] for q in quotes_after.body] == ["submitted", "submitted", "withdrawn"]


async def test_an_award_is_refused_after_the_grace_and_allowed_within_it(desk, clock):
    closes = clock.now() + timedelta(hours=1)
    late = await create(desk["buyer_api"], rfq_body(desk, clock, closes_at=closes.isoformat()))
    timely = await create(desk["buyer_api"], rfq_body(desk, clock, closes_at=closes.isoformat()))
    valid = (clock.now() + timedelta(days=5)).isoformat()
    late_q = await quote(desk["a_api"], late["id"], quote_body(desk, clock, valid_until=valid))
    timely_q = await quote(desk["a_api"], timely["id"], quote_body(desk, clock, valid_until=valid))
    clock.advance(timedelta(hours=2))  # closed, within the 24 h grace
    within = await award(desk["buyer_api"], timely["id"], [(timely_q["id"], "50")])
    clock.advance(timedelta(hours=24))
    beyond = await award(desk["buyer_api"], late["id"], [(late_q["id"], "50")])

    assert within.status == 201, within.body
    assert (beyond.status, beyond.body["code"]) == (409, "RFQ_EXPIRED")
