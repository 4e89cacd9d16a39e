"""Closing RFQs: an `auto` RFQ is awarded at closing by landed cost, then time of quote,
honouring the minimum per supplier and passing over lapsed, withdrawn and suspended suppliers'
quotes; an RFQ nobody awarded expires (its live quotes lapse); the sweep settles each RFQ on
its own and twice changes nothing; a suspended supplier gets no award and cannot quote; the
`rfqs` WebSocket channel tells buyers and suppliers, declined ones included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from exchange.appkeys import RFQ_CLOSING
from exchange.clock import ManualClock
from exchange.negotiation.closing import ClosingReport
from tests.conftest import settings_for, start_app
from tests.e2e.test_rfqs import (
    award,
    create,
    node_with_lanes,
    quote,
    quote_body,
    rfq_body,
    rfq_desk,
)
from tests.e2e.test_ws_market import connect
from tests.factories import Api, new_participant
from tests.payments_support import manual_clock  # noqa: F401


@pytest.fixture(scope="module")
async def center(
    database_url: str, clock: ManualClock
) -> AsyncIterator[tuple[str, web.Application]]:
    """The center on a manual clock; its RFQ sweep runs only when a test runs it."""
    runner, url = await start_app(settings_for(database_url, rfq_sweep_seconds=0), clock)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Any]:
    return await rfq_desk(operator, "EU-RC-")


async def sweep(center: tuple[str, web.Application]) -> ClosingReport:
    return await center[1][RFQ_CLOSING].run_once()


async def supplier(operator: Api, desk: dict[str, Any]) -> tuple[dict[str, Any], Api]:
    return await new_participant(operator, ["supplier"], home_region=desk["regions"][0])


async def lanes(operator: Api, desk: dict[str, Any]) -> None:
    """Freight to the buyer: 30.00 from the east, 4.00 from the west, none from home."""
    code, [home, east, west] = desk["code"], desk["regions"]
    lane = {"destination_region": home, "commodity": code, "transit_days": 3}
    await node_with_lanes(operator, home, [
        lane | {"origin_region": east, "rate": "30.00"},
        lane | {"origin_region": west, "rate": "4.00"},
    ])  # fmt: skip


def closing_soon(desk: dict[str, Any], clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    closes = (clock.now() + timedelta(hours=1)).isoformat()
    return rfq_body(desk, clock, closes_at=closes, **overrides)


async def quotes_of(api: Api, rfq_id: int) -> dict[int, str]:
    reply = await api.get(f"/v1/rfqs/{rfq_id}/quotes")
    assert reply.status == 200, reply.body
    return {q["id"]: q["status"] for q in reply.body}


async def test_an_auto_rfq_is_awarded_at_closing_by_landed_cost_then_time(
    desk, clock, operator, center, db
):
    await lanes(operator, desk)
    east, west = desk["regions"][1], desk["regions"][2]
    rfq = await create(desk["buyer_api"], closing_soon(desk, clock, award="auto"))
    # a: lowest price, dearest freight (130 landed); b: 114 landed; c: 114 landed, later
    offer = {"quantity": "60", "origin_region": west, "price": "110.00"}
    far = offer | {"price": "100.00", "origin_region": east}
    by_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, **far))
    by_b = await quote(desk["b_api"], rfq["id"], quote_body(desk, clock, **offer))
    clock.advance(timedelta(minutes=1))
    by_c = await quote(desk["c_api"], rfq["id"], quote_body(desk, clock, **offer))
    before = await sweep(center)  # not closed yet: nothing to do
    clock.advance(timedelta(hours=1))
    report = await sweep(center)
    again = await sweep(center)
    shown = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}")
    statuses = await quotes_of(desk["buyer_api"], rfq["id"])
    made = await db.fetch(
        "SELECT quote_id, quantity_lots, contract_id FROM rfq_awards WHERE rfq_id = $1 ORDER BY id",
        rfq["id"],
    )

    assert rfq["award"] == "auto"
    assert rfq["id"] not in before.awarded + before.expired
    assert report.awarded == [rfq["id"]]
    assert report.failed == []
    assert rfq["id"] not in again.awarded + again.expired + again.failed
    assert shown.body["status"] == "awarded"
    # b and c land at 114: b came first and gets all it offers, c the 40 left; a (130) none
    assert [(m["quote_id"], m["quantity_lots"]) for m in made] == [
        (by_b["id"], 60), (by_c["id"], 40)
    ]  # fmt: skip
    assert statuses == {by_a["id"]: "declined", by_b["id"]: "awarded", by_c["id"]: "awarded"}
    for line, seller in zip(made, [desk["b"]["id"], desk["c"]["id"]], strict=True):
        reply = await desk["buyer_api"].get(f"/v1/contracts/{line['contract_id']}")
        assert reply.status == 200, reply.body
        contract = reply.body["contract"]
        assert (contract["source"], contract["seller_id"]) == ("rfq", seller)
        assert contract["terms"]["unit_price"] == "110.00"


async def test_auto_award_passes_over_lapsed_withdrawn_and_suspended_suppliers(
    desk, clock, operator, center
):
    await lanes(operator, desk)
    west = desk["regions"][2]
    banned, banned_api = await supplier(operator, desk)
    rfq = await create(desk["buyer_api"], closing_soon(desk, clock, award="auto"))
    soon = (clock.now() + timedelta(minutes=30)).isoformat()
    cheap = quote_body(desk, clock, price="100.00", origin_region=west)
    by_banned = await quote(banned_api, rfq["id"], cheap)
    lapsing = await quote(desk["a_api"], rfq["id"], cheap | {"valid_until": soon})
    withdrawn = await quote(desk["b_api"], rfq["id"], cheap)
    kept = await quote(desk["c_api"], rfq["id"], quote_body(desk, clock, price="140.00"))
    assert (await desk["b_api"].post(f"/v1/quotes/{withdrawn['id']}/withdraw")).status == 200
    assert (await operator.post(f"/v1/participants/{banned['id']}/suspend")).status == 200
    clock.advance(timedelta(hours=1))
    report = await sweep(center)
    shown = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}")
    statuses = await quotes_of(desk["buyer_api"], rfq["id"])

    assert report.awarded == [rfq["id"]]
    assert shown.body["status"] == "partially_awarded"  # 50 of 100: nobody else acceptable
    assert statuses[kept["id"]] == "awarded"
    assert statuses[withdrawn["id"]] == "withdrawn"
    assert statuses[by_banned["id"]] == "declined"
    assert statuses[lapsing["id"]] == "declined"


async def test_an_rfq_nobody_awards_expires_and_its_live_quotes_lapse(desk, clock, center):
    auto = await create(desk["buyer_api"], closing_soon(desk, clock, award="auto"))
    manual = await create(desk["buyer_api"], closing_soon(desk, clock))
    valid = (clock.now() + timedelta(days=5)).isoformat()
    late = await quote(desk["a_api"], manual["id"], quote_body(desk, clock, valid_until=valid))
    haggled = await quote(desk["b_api"], manual["id"], quote_body(desk, clock, valid_until=valid))
    counter = {"price": "90.00", "message": "lower?"}
    countered = await desk["buyer_api"].post(f"/v1/quotes/{haggled['id']}/counter", counter)
    assert countered.status == 201, countered.body
    clock.advance(timedelta(hours=1))
    at_closing = await sweep(center)
    manual_at_closing = await desk["buyer_api"].get(f"/v1/rfqs/{manual['id']}")
    clock.advance(timedelta(hours=24, seconds=1))  # the manual one's award grace has passed
    past_grace = await sweep(center)
    again = await sweep(center)
    auto_after = await desk["buyer_api"].get(f"/v1/rfqs/{auto['id']}")
    manual_after = await desk["a_api"].get(f"/v1/rfqs/{manual['id']}")
    statuses = await quotes_of(desk["a_api"], manual["id"])
    haggled_after = await desk["buyer_api"].get(f"/v1/quotes/{haggled['id']}")
    refused = await award(desk["buyer_api"], manual["id"], [(late["id"], "50")])
    listed = await desk["buyer_api"].get("/v1/rfqs", include_closed="true", limit="500")

    assert auto["id"] in at_closing.expired  # no quote at all
    assert manual["id"] not in at_closing.expired  # the buyer may still award it
    assert manual_at_closing.body["status"] == "closed"
    assert manual["id"] in past_grace.expired
    assert (again.awarded, again.expired, again.failed) == ([], [], [])
    assert auto_after.body["status"] == "expired"
    assert manual_after.body["status"] == "expired"
    assert statuses == {late["id"]: "lapsed"}
    assert haggled_after.body["status"] == "lapsed"  # its counter died with the RFQ
    assert (refused.status, refused.body["code"]) == (409, "RFQ_EXPIRED")
    shown = {r["id"]: r["status"] for r in listed.body["data"]}
    assert (shown[auto["id"]], shown[manual["id"]]) == ("expired", "expired")


async def test_one_rfq_failing_does_not_stop_the_others(desk, clock, center, db):
    broken = await create(desk["buyer_api"], closing_soon(desk, clock, award="auto"))
    fine = await create(desk["buyer_api"], closing_soon(desk, clock, award="auto"))
    await db.execute(f"""
        CREATE FUNCTION refuse_rfq() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
        CREATE TRIGGER refuse_rfq BEFORE UPDATE ON rfqs FOR EACH ROW
            WHEN (OLD.id = {broken["id"]}) EXECUTE FUNCTION refuse_rfq();""")
    clock.advance(timedelta(hours=1))
    try:
        report = await sweep(center)
    finally:
        await db.execute("DROP TRIGGER refuse_rfq ON rfqs; DROP FUNCTION refuse_rfq()")
    retried = await sweep(center)

    assert report.failed == [broken["id"]]
    assert fine["id"] in report.expired
    assert retried.expired == [broken["id"]]


async def test_a_suspended_supplier_gets_no_award_and_cannot_quote(desk, clock, operator):
    banned, banned_api = await supplier(operator, desk)
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    by_banned = await quote(banned_api, rfq["id"], quote_body(desk, clock))
    by_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    assert (await operator.post(f"/v1/participants/{banned['id']}/suspend")).status == 200
    refused = await award(desk["buyer_api"], rfq["id"], [(by_a["id"], "50"),
                                                         (by_banned["id"], "50")])  # fmt: skip
    other = await create(desk["buyer_api"], rfq_body(desk, clock))
    quoted = await banned_api.post(f"/v1/rfqs/{other['id']}/quotes", quote_body(desk, clock))
    after = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}")
    statuses = await quotes_of(desk["buyer_api"], rfq["id"])
    on_other = await quotes_of(desk["buyer_api"], other["id"])

    assert (refused.status, refused.body["code"]) == (409, "SUPPLIER_SUSPENDED"), refused.body
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert after.body["status"] == "open"
    assert statuses == {by_banned["id"]: "submitted", by_a["id"]: "submitted"}
    assert (quoted.status, quoted.body["code"]) == (403, "PARTICIPANT_SUSPENDED")
    assert on_other == {}


async def test_the_rfqs_channel_tells_suppliers_and_buyers_after_commit(
    desk, clock, operator, center
):
    lone, lone_api = await supplier(operator, desk)
    existing = await create(desk["buyer_api"], rfq_body(desk, clock))
    a_sock, b_sock = await connect(desk["a_api"]), await connect(desk["b_api"])
    buyer_sock, lone_sock = await connect(desk["buyer_api"]), await connect(lone_api)
    try:
        for sock in (a_sock, b_sock, buyer_sock, lone_sock):
            await sock.subscribe({"name": "rfqs"})
        a_snapshot = await a_sock.next("rfqs_snapshot")
        buyer_snapshot = await buyer_sock.next("rfqs_snapshot")
        await b_sock.next("rfqs_snapshot")
        await lone_sock.next("rfqs_snapshot")

        # only a is invited: lone is not told, b is not told
        invited = await create(desk["buyer_api"], rfq_body(desk, clock, invited=[desk["a"]["id"]]))
        to_a = await a_sock.next("rfq")
        to_buyer = await buyer_sock.next("rfq")
        by_a = await quote(desk["a_api"], invited["id"], quote_body(desk, clock, price="120.00"))
        a_own = await a_sock.next("quote")
        buyer_sees = await buyer_sock.next("quote")
        # open to all: every supplier is told
        for_all = await create(desk["buyer_api"], rfq_body(desk, clock))
        lone_told = await lone_sock.next("rfq")
        b_told = await b_sock.next("rfq")
        by_b = await quote(desk["b_api"], for_all["id"], quote_body(desk, clock))
        by_lone = await quote(lone_api, for_all["id"], quote_body(desk, clock, price="125.00"))
        for sock in (b_sock, lone_sock):
            await sock.next("quote")
        await a_sock.next("rfq")  # for_all opened to a too
        reply = await award(desk["buyer_api"], for_all["id"], [(by_b["id"], "50")])
        b_awarded = await b_sock.next("quote", skipping=("rfq",))
        lone_declined = await lone_sock.next("quote", skipping=("rfq",))
    finally:
        for sock in (a_sock, b_sock, buyer_sock, lone_sock):
            await sock.ws.close()

    assert existing["id"] in [r["id"] for r in a_snapshot["rfqs"]]
    assert existing["id"] in [r["id"] for r in buyer_snapshot["rfqs"]]
    assert a_snapshot["rfqs"][0]["invited"] is None
    assert (to_a["event"], to_a["rfq"]["id"], to_a["rfq"]["invited"]) == (
        "created", invited["id"], None
    )  # fmt: skip
    assert to_a["sequence"] == a_snapshot["sequence"] + 1
    assert to_buyer["rfq"]["invited"] == [desk["a"]["id"]]
    assert (a_own["event"], a_own["quote"]["id"]) == ("submitted", by_a["id"])
    assert (buyer_sees["event"], buyer_sees["quote"]["id"]) == ("submitted", by_a["id"])
    assert (lone_told["rfq"]["id"], b_told["rfq"]["id"]) == (for_all["id"], for_all["id"])
    assert reply.status == 201, reply.body
    assert (b_awarded["event"], b_awarded["quote"]["id"]) == ("awarded", by_b["id"])
    assert (lone_declined["event"], lone_declined["quote"]["id"]) == ("declined", by_lone["id"])
    assert lone["id"] != desk["a"]["id"]


async def test_the_rfqs_channel_tells_of_expiry_and_lapsed_quotes(desk, clock, center):
    rfq = await create(desk["buyer_api"], closing_soon(desk, clock))
    valid = (clock.now() + timedelta(days=5)).isoformat()
    by_c = await quote(desk["c_api"], rfq["id"], quote_body(desk, clock, valid_until=valid))
    c_sock, buyer_sock = await connect(desk["c_api"]), await connect(desk["buyer_api"])
    try:
        await c_sock.subscribe({"name": "rfqs"})
        await buyer_sock.subscribe({"name": "rfqs"})
        snapshot = await c_sock.next("rfqs_snapshot")
        await buyer_sock.next("rfqs_snapshot")
        clock.advance(timedelta(hours=25, seconds=1))
        await sweep(center)
        expired = await c_sock.next("rfq", skipping=("rfq", "quote"))
        # other tests' RFQs may expire alongside; this one is told closed first
        while (expired["rfq"]["id"], expired["event"]) != (rfq["id"], "expired"):
            expired = await c_sock.next("rfq", skipping=("rfq", "quote"))
        lapsed = await c_sock.next("quote", skipping=("rfq", "quote"))
        while lapsed["quote"]["id"] != by_c["id"]:
            lapsed = await c_sock.next("quote", skipping=("rfq", "quote"))
        to_buyer = await buyer_sock.next("rfq", skipping=("rfq", "quote"))
        while (to_buyer["rfq"]["id"], to_buyer["event"]) != (rfq["id"], "expired"):
            to_buyer = await buyer_sock.next("rfq", skipping=("rfq", "quote"))
    finally:
        await c_sock.ws.close()
        await buyer_sock.ws.close()

    assert rfq["id"] in [r["id"] for r in snapshot["rfqs"]]
    assert (expired["event"], expired["rfq"]["status"]) == ("expired", "expired")
    assert (lapsed["event"], lapsed["quote"]["status"]) == ("lapsed", "lapsed")
    assert to_buyer["event"] == "expired"


async def test_the_closing_of_a_manual_rfq_is_told_once_and_a_sealed_one_revealed(
    desk, clock, center
):
    closes = clock.now() + timedelta(minutes=30)
    body = rfq_body(desk, clock, mode="sealed", closes_at=closes.isoformat())
    rfq = await create(desk["buyer_api"], body)
    by_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    a_sock, buyer_sock = await connect(desk["a_api"]), await connect(desk["buyer_api"])
    try:
        for sock in (a_sock, buyer_sock):
            await sock.subscribe({"name": "rfqs"})
            await sock.next("rfqs_snapshot")
        before = await sweep(center)
        clock.set(closes)
        at_closing = await sweep(center)
        again = await sweep(center)
        told = {}
        for name, sock in (("a", a_sock), ("buyer", buyer_sock)):
            message = await sock.next("rfq", skipping=("rfq", "quote"))
            while (message["rfq"]["id"], message["event"]) != (rfq["id"], "closed"):
                message = await sock.next("rfq", skipping=("rfq", "quote"))
            told[name] = message
        revealed = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    finally:
        await a_sock.ws.close()
        await buyer_sock.ws.close()

    assert rfq["id"] not in before.closed
    assert rfq["id"] in at_closing.closed
    assert rfq["id"] not in again.closed  # told once
    assert told["a"]["rfq"]["status"] == told["buyer"]["rfq"]["status"] == "closed"
    assert told["buyer"]["rfq"]["sealed_until"] is None  # the quotes are the buyer's now
    assert [q["id"] for q in revealed.body] == [by_a["id"]]


async def test_the_rfqs_channel_is_for_traders_only(operator):
    sock = await connect(operator)
    try:
        await sock.send({"type": "subscribe", "channels": [{"name": "rfqs"}]})
        refused = await sock.next("error")
    finally:
        await sock.ws.close()

    assert refused["code"] == "ROLE_REQUIRED"


async def test_no_award_while_the_commodity_is_halted(desk, clock, operator, center):
    valid = (clock.now() + timedelta(days=5)).isoformat()
    manual = await create(desk["buyer_api"], closing_soon(desk, clock))
    auto = await create(desk["buyer_api"], closing_soon(desk, clock, award="auto"))
    body = quote_body(desk, clock, valid_until=valid)
    for_manual = await quote(desk["a_api"], manual["id"], body)
    await quote(desk["a_api"], auto["id"], body)
    assert (await operator.post(f"/v1/commodities/{desk['code']}/halt")).status == 200
    try:
        clock.advance(timedelta(hours=1))
        refused = await award(desk["buyer_api"], manual["id"], [(for_manual["id"], "50")])
        held = await sweep(center)
        waiting = await desk["buyer_api"].get(f"/v1/rfqs/{auto['id']}")
        unchanged = await desk["buyer_api"].get(f"/v1/rfqs/{manual['id']}")
    finally:
        assert (await operator.post(f"/v1/commodities/{desk['code']}/resume")).status == 200
    resumed = await sweep(center)

    assert (refused.status, refused.body["code"]) == (409, "MARKET_HALTED")
    assert unchanged.body["status"] == "closed"
    assert auto["id"] in held.held
    assert auto["id"] not in held.awarded + held.expired + held.failed
    assert waiting.body["status"] == "closed"  # it waits for trading to resume
    assert auto["id"] in resumed.awarded
