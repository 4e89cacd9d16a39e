"""Counters and the negotiation history end to end (open mode): the RFQ's buyer counters a
quote, its supplier accepts, rejects or revises; every round is kept and shown to both sides,
to nobody else; one counter at a time; an award of a countered quote is at the supplier's terms;
each refusal changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from exchange.clock import ManualClock
from tests.e2e.test_rfqs import rfq_desk
from tests.e2e.test_ws_market import connect
from tests.factories import Api, Reply, unique
from tests.payments_support import manual_clock, paying_center  # noqa: F401


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Any]:
    return await rfq_desk(operator, "EU-CT-")


async def open_rfq(desk: dict[str, Any], clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    today = clock.now().date()
    body = {
        "commodity": desk["code"], "quantity": "100", "min_quantity": "10",
        "max_price": "150.00", "region": desk["regions"][0],
        "delivery_earliest": str(today + timedelta(days=10)),
        "delivery_latest": str(today + timedelta(days=20)),
        "closes_at": (clock.now() + timedelta(hours=4)).isoformat(),
    } | overrides  # fmt: skip
    reply = await desk["buyer_api"].post("/v1/rfqs", body)
    assert reply.status == 201, reply.body
    return reply.body  # type: ignore[no-any-return]


async def quote(api: Api, rfq: dict[str, Any], clock: ManualClock, **overrides: Any) -> Any:
    body = {
        "price": "120.00", "quantity": "50", "origin_region": rfq["region"],
        "valid_until": (clock.now() + timedelta(days=1)).isoformat(),
    } | overrides  # fmt: skip
    reply = await api.post(f"/v1/rfqs/{rfq['id']}/quotes", body)
    assert reply.status == 201, reply.body
    return reply.body


async def keyed(api: Api, path: str, body: dict[str, Any], key: str) -> Reply:
    headers = {"Authorization": f"Bearer {api.key}", "Idempotency-Key": key}
    async with api.http.post(f"{api.base_url}{path}", json=body, headers=headers) as response:
        return Reply(response.status, await response.json(content_type=None), response.headers)


def rounds(quote: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(r["side"], r["action"], r["price"], r["quantity"]) for r in quote["negotiation"]]


async def test_a_counter_accepted_becomes_a_new_revision_seen_by_both_sides(desk, clock):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    clock.advance(timedelta(minutes=1))
    countered = await desk["buyer_api"].post(
        f"/v1/quotes/{offered['id']}/counter", {"price": "110.00", "message": "meet me at 110?"}
    )
    seen_by_supplier = await desk["a_api"].get(f"/v1/quotes/{offered['id']}")
    seen_by_buyer = await desk["buyer_api"].get(f"/v1/quotes/{offered['id']}")
    clock.advance(timedelta(minutes=1))
    accepted = await desk["a_api"].post(f"/v1/quotes/{offered['id']}/accept", {"message": "deal"})
    listed = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")

    assert countered.status == 201, countered.body
    assert (countered.body["status"], countered.body["price"]) == ("countered", "120.00")
    assert seen_by_supplier.body == seen_by_buyer.body == countered.body
    assert rounds(countered.body)[-1] == ("buyer", "countered", "110.00", "50.000000")
    assert countered.body["negotiation"][-1]["message"] == "meet me at 110?"
    assert countered.body["negotiation"][-1]["participant_id"] == desk["buyer"]["id"]
    assert accepted.status == 200, accepted.body
    body = accepted.body
    assert (body["status"], body["revision"], body["price"]) == ("revised", 2, "110.00")
    assert [h["price"] for h in body["history"]] == ["120.00", "110.00"]
    assert rounds(body) == [
        ("supplier", "quoted", "120.00", "50.000000"),
        ("buyer", "countered", "110.00", "50.000000"),
        ("supplier", "accepted", "110.00", "50.000000"),
    ]  # fmt: skip
    made = [r["made_at"] for r in body["negotiation"]]
    assert made == sorted(made)
    assert len(set(made)) == 3  # each on the center's clock as it was moved
    assert [r["participant_id"] for r in body["negotiation"]] == [
        desk["a"]["id"], desk["buyer"]["id"], desk["a"]["id"]
    ]  # fmt: skip
    assert [r["revision"] for r in body["negotiation"]] == [1, 1, 2]
    assert body["negotiation"][-1]["message"] == "deal"
    assert listed.body == [body]


@pytest.mark.parametrize("revised_first", [False, True])
async def test_a_rejected_counter_leaves_the_quote_as_it_was(desk, clock, revised_first):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    if revised_first:
        revision = await desk["a_api"].patch(f"/v1/quotes/{offered['id']}", {"price": "119.00"})
        offered = revision.body
    path = f"/v1/quotes/{offered['id']}"
    countered = await desk["buyer_api"].post(f"{path}/counter", {"quantity": "80"})
    rejected = await desk["a_api"].post(f"{path}/reject", {"message": "50 is all we have"})
    again = await desk["buyer_api"].post(f"{path}/counter", {"price": "100.00"})

    assert countered.body["status"] == "countered"
    assert rejected.status == 200, rejected.body
    before = {k: v for k, v in offered.items() if k != "negotiation"}
    assert {k: v for k, v in rejected.body.items() if k != "negotiation"} == before
    assert rounds(rejected.body)[-2:] == [
        ("buyer", "countered", offered["price"], "80.000000"),
        ("supplier", "rejected", offered["price"], "50.000000"),
    ]  # fmt: skip
    assert rejected.body["negotiation"][-1]["message"] == "50 is all we have"
    assert (again.status, again.body["status"]) == (201, "countered")  # a new round may follow


async def test_a_revision_answers_a_pending_counter(desk, clock):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    path = f"/v1/quotes/{offered['id']}"
    await desk["buyer_api"].post(f"{path}/counter", {"price": "100.00", "quantity": "60"})
    revised = await desk["a_api"].patch(path, {"price": "112.00"})
    accept_after = await desk["a_api"].post(f"{path}/accept")

    assert (revised.status, revised.body["status"]) == (200, "revised")
    assert (revised.body["price"], revised.body["quantity"]) == ("112.00", "50.000000")
    assert [r["action"] for r in revised.body["negotiation"]] == ["quoted", "countered", "revised"]
    assert (accept_after.status, accept_after.body["code"]) == (409, "NO_PENDING_COUNTER")


async def test_withdrawing_a_countered_quote_ends_the_counter(desk, clock):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    path = f"/v1/quotes/{offered['id']}"
    await desk["buyer_api"].post(f"{path}/counter", {"price": "100.00"})
    withdrawn = await desk["a_api"].post(f"{path}/withdraw")
    accept_after = await desk["a_api"].post(f"{path}/accept")
    seen_by_buyer = await desk["buyer_api"].get(path)

    assert (withdrawn.status, withdrawn.body["status"]) == (200, "withdrawn")
    assert (accept_after.status, accept_after.code) == (409, "QUOTE_WITHDRAWN")
    assert rounds(seen_by_buyer.body) == [
        ("supplier", "quoted", "120.00", "50.000000"),
        ("buyer", "countered", "100.00", "50.000000"),
        ("supplier", "withdrawn", "120.00", "50.000000"),
    ]  # fmt: skip
    assert seen_by_buyer.body["status"] == "withdrawn"


async def test_one_counter_at_a_time_even_at_once(desk, clock):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    path = f"/v1/quotes/{offered['id']}/counter"
    first, second = await asyncio.gather(
        desk["buyer_api"].post(path, {"price": "101.00"}),
        desk["buyer_api"].post(path, {"price": "102.00"}),
    )
    third = await desk["buyer_api"].post(path, {"price": "103.00"})
    after = await desk["a_api"].get(f"/v1/quotes/{offered['id']}")

    assert sorted([first.status, second.status]) == [201, 409]
    refused = first if first.status == 409 else second
    assert refused.body["code"] == third.body["code"] == "COUNTER_PENDING"
    assert third.status == 409
    assert [r["action"] for r in after.body["negotiation"]] == ["quoted", "countered"]
    assert after.body["negotiation"][-1]["price"] in ("101.00", "102.00")


async def test_accept_or_reject_without_a_pending_counter_is_refused(desk, clock):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    accepted = await desk["a_api"].post(f"/v1/quotes/{offered['id']}/accept")
    rejected = await desk["a_api"].post(f"/v1/quotes/{offered['id']}/reject")
    after = await desk["a_api"].get(f"/v1/quotes/{offered['id']}")

    assert (accepted.status, accepted.body["code"]) == (409, "NO_PENDING_COUNTER")
    assert (rejected.status, rejected.body["code"]) == (409, "NO_PENDING_COUNTER")
    assert accepted.headers["Content-Type"].startswith("application/problem+json")
    assert after.body == offered


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"price": "151.00"}, "ABOVE_MAX_PRICE"),
        ({"quantity": "101"}, "ABOVE_RFQ_QUANTITY"),
        ({"quantity": "5"}, "BELOW_MINIMUM"),
        ({"price": "100.50"}, "PRICE_OFF_TICK"),
        ({"quantity": "20.5"}, "QUANTITY_OFF_LOT"),
        ({"message": "price and quantity are missing"}, "VALIDATION_FAILED"),
        ({"price": "100.00", "message": "x" * 1001}, "VALIDATION_FAILED"),
        ({"price": "100.00", "message": "nul \u0000"}, "INVALID_TEXT"),
        ({"price": "100.00", "terms": "extra"}, "VALIDATION_FAILED"),
    ],
)
async def test_a_refused_counter_changes_nothing(desk, clock, body, code):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    reply = await desk["buyer_api"].post(f"/v1/quotes/{offered['id']}/counter", body)
    after = await desk["buyer_api"].get(f"/v1/quotes/{offered['id']}")

    assert (reply.status, reply.body["code"]) == (422, code), reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert after.body == offered


async def test_strangers_get_404_and_the_wrong_side_403(desk, clock):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    path = f"/v1/quotes/{offered['id']}"
    replies = {
        "other buyer reads": await desk["other_buyer_api"].get(path),
        "other buyer counters": await desk["other_buyer_api"].post(f"{path}/counter",
                                                                   {"price": "100.00"}),
        "other supplier reads": await desk["b_api"].get(path),
    }  # fmt: skip
    assert (await desk["buyer_api"].post(f"{path}/counter", {"price": "100.00"})).status == 201
    replies |= {
        "other supplier accepts": await desk["b_api"].post(f"{path}/accept"),
        "other supplier rejects": await desk["b_api"].post(f"{path}/reject"),
    }
    supplier_counters = await desk["a_api"].post(f"{path}/counter", {"price": "90.00"})
    buyer_accepts = await desk["buyer_api"].post(f"{path}/accept")
    after = await desk["a_api"].get(path)

    assert {name: (r.status, r.code) for name, r in replies.items()} == {
        name: (404, "UNKNOWN_QUOTE") for name in replies
    }
    assert (supplier_counters.status, supplier_counters.code) == (403, "ROLE_REQUIRED")
    assert (buyer_accepts.status, buyer_accepts.code) == (403, "ROLE_REQUIRED")
    assert after.body["status"] == "countered"
    assert [r["action"] for r in after.body["negotiation"]] == ["quoted", "countered"]


async def test_counters_need_an_open_rfq_and_a_live_quote(desk, clock):
    closing = await open_rfq(desk, clock, closes_at=(clock.now() + timedelta(hours=1)).isoformat())
    cancelled = await open_rfq(desk, clock)
    live = await open_rfq(desk, clock)
    pending = await quote(desk["a_api"], closing, clock)
    in_cancelled = await quote(desk["a_api"], cancelled, clock)
    withdrawn = await quote(desk["a_api"], live, clock)
    soon = (clock.now() + timedelta(minutes=10)).isoformat()
    lapsing = await quote(desk["b_api"], live, clock, valid_until=soon)
    counter = {"price": "100.00"}
    countered = await desk["buyer_api"].post(f"/v1/quotes/{pending['id']}/counter", counter)
    assert countered.status == 201, countered.body
    assert (await desk["buyer_api"].post(f"/v1/rfqs/{cancelled['id']}/cancel")).status == 200
    assert (await desk["a_api"].post(f"/v1/quotes/{withdrawn['id']}/withdraw")).status == 200
    clock.advance(timedelta(minutes=61))  # closing has closed, lapsing has lapsed
    refused = {
        "closed": await desk["buyer_api"].post(f"/v1/quotes/{pending['id']}/counter", counter),
        "accept closed": await desk["a_api"].post(f"/v1/quotes/{pending['id']}/accept"),
        "reject closed": await desk["a_api"].post(f"/v1/quotes/{pending['id']}/reject"),
        "cancelled": await desk["buyer_api"].post(f"/v1/quotes/{in_cancelled['id']}/counter",
                                                  counter),
        "withdrawn": await desk["buyer_api"].post(f"/v1/quotes/{withdrawn['id']}/counter",
                                                  counter),
        "lapsed": await desk["buyer_api"].post(f"/v1/quotes/{lapsing['id']}/counter", counter),
    }  # fmt: skip
    after = await desk["a_api"].get(f"/v1/quotes/{pending['id']}")

    assert {name: (r.status, r.code) for name, r in refused.items()} == {
        "closed": (409, "RFQ_NOT_OPEN"), "accept closed": (409, "RFQ_NOT_OPEN"),
        "reject closed": (409, "RFQ_NOT_OPEN"), "cancelled": (409, "RFQ_NOT_OPEN"),
        "withdrawn": (409, "QUOTE_WITHDRAWN"), "lapsed": (409, "QUOTE_NOT_LIVE"),
    }  # fmt: skip
    assert (after.body["status"], after.body["revision"]) == ("countered", 1)
    assert [r["action"] for r in after.body["negotiation"]] == ["quoted", "countered"]


@pytest.mark.parametrize("mode", ["reverse_auction", "sealed"])
async def test_counters_are_for_open_mode_only(desk, clock, mode):
    rfq = await open_rfq(desk, clock, mode=mode)
    offered = await quote(desk["a_api"], rfq, clock)
    reply = await desk["buyer_api"].post(f"/v1/quotes/{offered['id']}/counter", {"price": "99.00"})
    after = await desk["a_api"].get(f"/v1/quotes/{offered['id']}")

    # before closing the buyer of a sealed RFQ does not know the quote: 404, not 409
    assert (reply.status, reply.code) == (
        (409, "COUNTER_NOT_ALLOWED") if mode == "reverse_auction" else (404, "UNKNOWN_QUOTE")
    )
    assert after.body == offered


async def test_an_award_of_a_countered_quote_is_at_the_suppliers_terms_and_voids_the_counter(
    desk, clock
):
    rfq = await open_rfq(desk, clock)
    by_a = await quote(desk["a_api"], rfq, clock)
    by_b = await quote(desk["b_api"], rfq, clock, price="125.00")
    for offered in (by_a, by_b):
        reply = await desk["buyer_api"].post(f"/v1/quotes/{offered['id']}/counter",
                                             {"price": "105.00", "quantity": "40"})  # fmt: skip
        assert reply.status == 201, reply.body
    body = {"awards": [{"quote_id": by_a["id"], "quantity": "30"}]}
    awarded = await desk["buyer_api"].post(f"/v1/rfqs/{rfq['id']}/award", body)
    a_after = await desk["a_api"].get(f"/v1/quotes/{by_a['id']}")
    b_after = await desk["b_api"].get(f"/v1/quotes/{by_b['id']}")
    late_accept = await desk["a_api"].post(f"/v1/quotes/{by_a['id']}/accept")

    assert awarded.status == 201, awarded.body
    contract = awarded.body["awards"][0]["contract"]
    assert contract["terms"]["unit_price"] == "120.00"  # the quote's, not the counter's 105.00
    assert contract["terms"]["quantity"] == "30.000000"
    assert (a_after.body["status"], a_after.body["price"]) == ("awarded", "120.00")
    assert b_after.body["status"] == "declined"
    assert rounds(a_after.body)[-1] == ("buyer", "awarded", "120.00", "30.000000")
    assert rounds(b_after.body)[-1] == ("buyer", "declined", "125.00", "50.000000")
    assert (late_accept.status, late_accept.code) == (409, "RFQ_NOT_OPEN")


async def test_counter_accept_and_reject_honour_the_idempotency_key(desk, clock):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    path = f"/v1/quotes/{offered['id']}"
    counter_key, accept_key = unique("ct-"), unique("ac-")
    first = await keyed(desk["buyer_api"], f"{path}/counter", {"price": "111.00"}, counter_key)
    retry = await keyed(desk["buyer_api"], f"{path}/counter", {"price": "111.00"}, counter_key)
    reused = await keyed(desk["buyer_api"], f"{path}/counter", {"price": "99.00"}, counter_key)
    accepted = await keyed(desk["a_api"], f"{path}/accept", {}, accept_key)
    accepted_again = await keyed(desk["a_api"], f"{path}/accept", {}, accept_key)
    rejected = await keyed(desk["a_api"], f"{path}/reject", {}, unique("rj-"))
    after = await desk["a_api"].get(path)

    assert first.status == retry.status == 201
    assert retry.body == first.body
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert (reused.status, reused.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert accepted.status == accepted_again.status == 200
    assert accepted_again.body == accepted.body
    assert (rejected.status, rejected.code) == (409, "NO_PENDING_COUNTER")
    assert (after.body["revision"], after.body["price"]) == (2, "111.00")
    assert [r["action"] for r in after.body["negotiation"]] == ["quoted", "countered", "accepted"]


# the center's closing sweep may tell of other tests' RFQs at any moment
AROUND = ("heartbeat", "rfq")


async def test_the_negotiation_is_told_on_both_sides_rfqs_channel(desk, clock):
    rfq = await open_rfq(desk, clock)
    offered = await quote(desk["a_api"], rfq, clock)
    supplier, buyer = await connect(desk["a_api"]), await connect(desk["buyer_api"])
    try:
        for sock in (supplier, buyer):
            await sock.subscribe({"name": "rfqs"})
            await sock.next("rfqs_snapshot")
        path = f"/v1/quotes/{offered['id']}"
        reply = await desk["buyer_api"].post(
            f"{path}/counter", {"price": "110.00", "message": "110?"}
        )
        assert reply.status == 201, reply.body
        told = [await sock.next("quote", skipping=AROUND) for sock in (supplier, buyer)]
        assert (await desk["a_api"].post(f"{path}/reject", {"message": "no"})).status == 200
        answered = [await sock.next("quote", skipping=AROUND) for sock in (supplier, buyer)]

        for message in told:
            assert (message["event"], message["quote"]["id"]) == ("countered", offered["id"])
            assert message["quote"]["negotiation"][-1]["message"] == "110?"
        for message in answered:
            assert message["event"] == "submitted"  # back to the state it had
            assert message["quote"]["negotiation"][-1]["action"] == "rejected"
    finally:
        await supplier.ws.close()
        await buyer.ws.close()
