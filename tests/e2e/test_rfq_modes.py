"""Sealed RFQs and reverse auctions end to end: in a sealed RFQ nobody but a quote's supplier
sees it before closing, the buyer included, then all at once; in a reverse auction suppliers
bid down live, each seeing its rank and the best landed cost but never who bids, and a bid in
the last minutes moves the closing (soft close). Time moves with the center's ManualClock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.test_rfqs import (
    award,
    create,
    node_with_lanes,
    quote,
    quote_body,
    rfq_body,
    rfq_desk,
)
from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api, Reply
from tests.payments_support import manual_clock, paying_center  # noqa: F401


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Any]:
    desk = await rfq_desk(operator, "EU-MD-")
    home, east, west = desk["regions"]
    lane = {"destination_region": home, "commodity": desk["code"], "transit_days": 3}
    await node_with_lanes(operator, home, [
        lane | {"origin_region": east, "rate": "30.00"},
        lane | {"origin_region": west, "rate": "4.00"},
    ])  # fmt: skip
    return desk


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_sealed_rfq_hides_every_quote_until_closing_then_shows_all(desk, clock):
    closes = clock.now() + timedelta(hours=1)
    body = rfq_body(desk, clock, mode="sealed", closes_at=closes.isoformat())
    rfq = await create(desk["buyer_api"], body)
    by_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, price="120.00"))
    by_b = await quote(desk["b_api"], rfq["id"], quote_body(
        desk, clock, price="110.00", origin_region=desk["regions"][2]
    ))  # fmt: skip
    revised = await desk["a_api"].patch(f"/v1/quotes/{by_a['id']}", {"price": "115.00"})
    buyer_sees = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    buyer_compares = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/comparison")
    buyer_rfq = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}")
    a_sees = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    b_sees = await desk["b_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    c_sees = await desk["c_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    b_revises_a = await desk["b_api"].patch(f"/v1/quotes/{by_a['id']}", {"price": "90.00"})
    early = await award(desk["buyer_api"], rfq["id"], [(by_b["id"], "50")])
    outsider = await desk["other_buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    buyer_peeks = await desk["buyer_api"].get(f"/v1/quotes/{by_a['id']}")
    buyer_counters = await desk["buyer_api"].post(
        f"/v1/quotes/{by_a['id']}/counter", {"price": "100.00", "message": "less?"}
    )

    assert (rfq["mode"], at(rfq["sealed_until"])) == ("sealed", closes)
    assert (buyer_peeks.status, buyer_peeks.body["code"]) == (404, "UNKNOWN_QUOTE")
    assert (buyer_counters.status, buyer_counters.body["code"]) == (404, "UNKNOWN_QUOTE")
    assert revised.status == 200, revised.body
    assert buyer_sees.body == []
    assert (buyer_compares.body["quotes"], at(buyer_compares.body["sealed_until"])) == ([], closes)
    assert at(buyer_rfq.body["sealed_until"]) == closes
    assert [q["id"] for q in a_sees.body] == [by_a["id"]]
    assert [q["id"] for q in b_sees.body] == [by_b["id"]]
    assert c_sees.body == []
    assert (b_revises_a.status, b_revises_a.body["code"]) == (404, "UNKNOWN_QUOTE")
    assert (early.status, early.body["code"]) == (409, "RFQ_SEALED")
    assert (outsider.status, outsider.body["code"]) == (404, "UNKNOWN_RFQ")
    after_refusal = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}")
    assert after_refusal.body["status"] == "open"

    clock.set(closes)  # the closing: every quote is revealed to the buyer together
    revealed = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    compared = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/comparison")
    shown = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}")
    late = await desk["c_api"].post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))
    one = await desk["buyer_api"].get(f"/v1/quotes/{by_a['id']}")
    awarded = await award(desk["buyer_api"], rfq["id"], [(by_b["id"], "50")])

    assert (one.status, one.body["price"]) == (200, "115.00")
    assert [(q["id"], q["price"]) for q in revealed.body] == [
        (by_a["id"], "115.00"), (by_b["id"], "110.00")
    ]  # fmt: skip
    assert [q["quote"]["id"] for q in compared.body["quotes"]] == [by_b["id"], by_a["id"]]
    assert compared.body["sealed_until"] is None
    assert (shown.body["status"], shown.body["sealed_until"]) == ("closed", None)
    assert (late.status, late.body["code"]) == (409, "RFQ_NOT_OPEN")
    assert awarded.status == 201, awarded.body


async def test_a_sealed_rfq_cancelled_before_closing_never_reveals_its_quotes(desk, clock):
    closes = clock.now() + timedelta(hours=1)
    body = rfq_body(desk, clock, mode="sealed", closes_at=closes.isoformat())
    rfq = await create(desk["buyer_api"], body)
    await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    assert (await desk["buyer_api"].post(f"/v1/rfqs/{rfq['id']}/cancel")).status == 200
    clock.set(closes + timedelta(minutes=1))
    seen = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")
    compared = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/comparison")

    assert seen.body == []
    assert compared.body["quotes"] == []


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in `value`, nested ones included."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from _objects(v)


def assert_nothing_of_others(replies: list[Any], desk: dict[str, Any], me: str,
                             others: dict[str, dict[str, Any]]) -> None:  # fmt: skip
    """No id, name, quote or price of another supplier anywhere in `me`'s replies."""
    names = [desk[name]["legal_name"] for name in others]
    prices = {bid["price"] for bid in others.values()}
    other_quotes = {bid["id"] for bid in others.values()}
    for reply in replies:
        assert reply.status == 200, reply.body
        for found in _objects(reply.body):
            for key in ("supplier_id", "participant_id", "seller_id"):
                assert found.get(key, desk[me]["id"]) == desk[me]["id"], found
            assert found.get("quote_id") not in other_quotes, found
            if "revision" in found and "rfq_id" in found:  # a quote
                assert found["id"] not in other_quotes, found
            for value in found.values():
                if isinstance(value, str):
                    assert not any(name in value for name in names), value
                    assert value not in prices, value


async def test_a_reverse_auction_shows_each_supplier_its_rank_and_the_best_price_never_who(
    desk, clock
):
    west = desk["regions"][2]
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock, mode="reverse_auction"))
    # a: lowest price from far away (landed 130); b: near (landed 115); c: near (landed 127)
    bid_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, price="100.00"))
    bid_b = await quote(desk["b_api"], rfq["id"],
                        quote_body(desk, clock, price="111.00", origin_region=west))  # fmt: skip
    bid_c = await quote(desk["c_api"], rfq["id"],
                        quote_body(desk, clock, price="123.00", origin_region=west))  # fmt: skip
    a_before = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/standing")
    b_before = await desk["b_api"].get(f"/v1/rfqs/{rfq['id']}/standing")
    clock.advance(timedelta(minutes=1))
    a_undercuts = await desk["a_api"].patch(f"/v1/quotes/{bid_a['id']}", {"price": "79.00"})
    a_after = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/standing")
    b_after = await desk["b_api"].get(f"/v1/rfqs/{rfq['id']}/standing")
    c_after = await desk["c_api"].get(f"/v1/rfqs/{rfq['id']}/standing")
    buyer_live = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}/comparison")

    assert rfq["auction"] == {"soft_close_minutes": 5, "original_closes_at": rfq["closes_at"],
                              "extensions": 0}  # fmt: skip
    assert a_before.status == 200, a_before.body
    assert (a_before.body["rank"], a_before.body["live_bids"]) == (3, 3)
    assert (a_before.body["price"], a_before.body["landed_cost"]) == ("100.00", "130.00")
    assert a_before.body["best_landed_cost"] == "115.00"
    assert (b_before.body["rank"], b_before.body["best_landed_cost"]) == (1, "115.00")
    assert a_undercuts.status == 200, a_undercuts.body
    assert (a_after.body["rank"], a_after.body["landed_cost"]) == (1, "109.00")
    assert (b_after.body["rank"], b_after.body["best_landed_cost"]) == (2, "109.00")
    assert (c_after.body["rank"], c_after.body["live_bids"]) == (3, 3)
    live = [(q["supplier"]["participant_id"], q["landed_cost"]) for q in buyer_live.body["quotes"]]
    assert live == [(desk["a"]["id"], "109.00"), (desk["b"]["id"], "115.00"),
                    (desk["c"]["id"], "127.00")]  # fmt: skip
    a_everything = [a_before, a_after, a_undercuts,
                    await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/quotes"),
                    await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}"),
                    await desk["a_api"].get("/v1/rfqs", limit="500")]  # fmt: skip
    b_everything = [b_before, b_after, await desk["b_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")]
    assert_nothing_of_others(a_everything, desk, "a", {"b": bid_b, "c": bid_c})
    assert_nothing_of_others(b_everything, desk, "b",
                             {"a": a_undercuts.body, "c": bid_c})  # fmt: skip
    assert bid_a["price"] == "100.00"  # a's first bid is no secret of b's either:
    assert_nothing_of_others(b_everything, desk, "b", {"a": bid_a})


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"price": "100.00"}, "BID_NOT_LOWER"),  # the same price
        ({"price": "101.00"}, "BID_NOT_LOWER"),
        ({"quantity": "40"}, "BID_NOT_LOWER"),  # every revision is a lower bid
        ({"price": "90.00", "origin_region": "WEST"}, "ORIGIN_FIXED"),
    ],
)
async def test_a_bid_that_does_not_undercut_is_refused_and_changes_nothing(
    desk, clock, change, code
):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock, mode="reverse_auction"))
    bid = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, price="100.00"))
    if change.get("origin_region") == "WEST":
        change = change | {"origin_region": desk["regions"][2]}
    reply = await desk["a_api"].patch(f"/v1/quotes/{bid['id']}", change)
    after = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")

    assert (reply.status, reply.body["code"]) == (422, code), reply.body
    assert [(q["revision"], q["price"], q["quantity"]) for q in after.body] == [
        (1, "100.00", "50.000000")
    ]  # fmt: skip


async def test_bids_in_a_reverse_auction_are_binding(desk, clock):
    rfq = await create(desk["buyer_api"], rfq_body(desk, clock, mode="reverse_auction"))
    bid = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock))
    reply = await desk["a_api"].post(f"/v1/quotes/{bid['id']}/withdraw")
    after = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/quotes")

    assert (reply.status, reply.body["code"]) == (409, "BID_BINDING")
    assert [q["status"] for q in after.body] == ["submitted"]


async def test_a_bid_in_the_last_minutes_extends_the_closing_and_a_bid_after_it_is_refused(
    desk, clock
):
    closes = clock.now() + timedelta(hours=1)
    rfq = await create(desk["buyer_api"], rfq_body(
        desk, clock, mode="reverse_auction", closes_at=closes.isoformat(), soft_close_minutes=10
    ))  # fmt: skip
    early = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, price="120.00"))
    before = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}")
    clock.set(closes - timedelta(minutes=3))
    await quote(desk["b_api"], rfq["id"], quote_body(desk, clock, price="118.00"))
    first = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}")
    clock.set(closes + timedelta(minutes=5))  # past the original closing, within the extension
    undercut = await desk["a_api"].patch(f"/v1/quotes/{early['id']}", {"price": "117.00"})
    second = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}")
    standing = await desk["a_api"].get(f"/v1/rfqs/{rfq['id']}/standing")
    clock.set(closes + timedelta(minutes=15))  # the extended closing itself
    too_late = await desk["c_api"].post(f"/v1/rfqs/{rfq['id']}/quotes", quote_body(desk, clock))
    late_undercut = await desk["a_api"].patch(f"/v1/quotes/{early['id']}", {"price": "100.00"})
    closed = await desk["buyer_api"].get(f"/v1/rfqs/{rfq['id']}")

    assert (at(before.body["closes_at"]), before.body["auction"]["extensions"]) == (closes, 0)
    assert at(first.body["closes_at"]) == closes + timedelta(minutes=7)  # now + 10 minutes
    assert at(first.body["auction"]["original_closes_at"]) == closes
    assert first.body["auction"]["extensions"] == 1
    assert undercut.status == 200, undercut.body
    assert at(second.body["closes_at"]) == closes + timedelta(minutes=15)
    assert (second.body["status"], second.body["auction"]["extensions"]) == ("open", 2)
    assert at(second.body["auction"]["original_closes_at"]) == closes
    assert at(standing.body["closes_at"]) == closes + timedelta(minutes=15)
    assert standing.body["auction"] == second.body["auction"]
    assert (too_late.status, too_late.body["code"]) == (409, "RFQ_NOT_OPEN")
    assert (late_undercut.status, late_undercut.body["code"]) == (409, "RFQ_NOT_OPEN")
    assert (closed.body["status"], closed.body["auction"]["extensions"]) == ("closed", 2)


async def test_standing_is_for_suppliers_with_a_live_bid_in_a_reverse_auction(desk, clock):
    auction = await create(desk["buyer_api"], rfq_body(desk, clock, mode="reverse_auction"))
    open_rfq = await create(desk["buyer_api"], rfq_body(desk, clock))
    await quote(desk["a_api"], open_rfq["id"], quote_body(desk, clock))
    no_bid = await desk["b_api"].get(f"/v1/rfqs/{auction['id']}/standing")
    not_auction = await desk["a_api"].get(f"/v1/rfqs/{open_rfq['id']}/standing")
    by_buyer = await desk["buyer_api"].get(f"/v1/rfqs/{auction['id']}/standing")
    uninvited = await create(desk["buyer_api"], rfq_body(
        desk, clock, mode="reverse_auction", invited=[desk["a"]["id"]]
    ))  # fmt: skip
    not_invited = await desk["b_api"].get(f"/v1/rfqs/{uninvited['id']}/standing")

    assert (no_bid.status, no_bid.body["code"]) == (409, "NO_LIVE_BID")
    assert (not_auction.status, not_auction.body["code"]) == (409, "NOT_AN_AUCTION")
    assert (by_buyer.status, by_buyer.body["code"]) == (403, "ROLE_REQUIRED")
    assert (not_invited.status, not_invited.body["code"]) == (404, "UNKNOWN_RFQ")
    assert (open_rfq["auction"], open_rfq["sealed_until"]) == (None, None)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"mode": "sealed", "soft_close_minutes": 5}, "NOT_AN_AUCTION"),
        ({"soft_close_minutes": 5}, "NOT_AN_AUCTION"),
        ({"mode": "reverse_auction", "soft_close_minutes": 0}, "VALIDATION_FAILED"),
        ({"mode": "reverse_auction", "soft_close_minutes": 61}, "VALIDATION_FAILED"),
        ({"mode": "english_auction"}, "VALIDATION_FAILED"),
    ],
)
async def test_a_refused_mode_creates_no_rfq(desk, clock, overrides, code):
    before = await desk["other_buyer_api"].get("/v1/rfqs", include_closed="true")
    reply = await desk["other_buyer_api"].post("/v1/rfqs", rfq_body(desk, clock, **overrides))
    after = await desk["other_buyer_api"].get("/v1/rfqs", include_closed="true")

    assert (reply.status, reply.body["code"]) == (422, code), reply.body
    assert after.body["data"] == before.body["data"]


async def test_a_reverse_auction_keeps_its_chosen_soft_close(desk, clock):
    body = rfq_body(desk, clock, mode="reverse_auction", soft_close_minutes=60)
    rfq = await create(desk["buyer_api"], body)

    assert rfq["auction"]["soft_close_minutes"] == 60


async def until(sock: Socket, wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Messages up to and including the first `wanted` one (a missing one times out)."""
    seen = [await sock.recv()]
    while not wanted(seen[-1]):
        seen.append(await sock.recv())
    return seen


def kind(message_type: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    def wanted(message: dict[str, Any]) -> bool:
        body = message.get("standing") or message.get("rfq") or message.get("quote") or {}
        return message["type"] == message_type and all(
            message.get(k, body.get(k)) == v for k, v in fields.items()
        )

    return wanted


async def test_bidders_are_told_their_standing_and_the_soft_close_live(desk, clock):
    closes = clock.now() + timedelta(hours=1)
    body = rfq_body(desk, clock, mode="reverse_auction", closes_at=closes.isoformat())
    rfq = await create(desk["buyer_api"], body)
    socks = {name: await connect(desk[f"{name}_api"]) for name in ("a", "b", "buyer")}
    try:
        for sock in socks.values():
            await sock.subscribe({"name": "rfqs"})
            await sock.next("rfqs_snapshot")
        bid_a = await quote(desk["a_api"], rfq["id"], quote_body(desk, clock, price="120.00"))
        a_first = await until(socks["a"], kind("standing", rfq_id=rfq["id"]))
        buyer_sees = await until(socks["buyer"], kind("quote", id=bid_a["id"]))
        clock.set(closes - timedelta(minutes=2))  # inside the 5-minute soft close
        bid_b = await quote(desk["b_api"], rfq["id"], quote_body(desk, clock, price="118.00"))
        a_then = await until(socks["a"], kind("standing", rfq_id=rfq["id"]))
        b_then = await until(socks["b"], kind("standing", rfq_id=rfq["id"]))
        buyer_then = await until(socks["buyer"], kind("rfq", id=rfq["id"], event="extended"))
    finally:
        for sock in socks.values():
            await sock.ws.close()

    assert (a_first[-1]["standing"]["rank"], a_first[-1]["standing"]["live_bids"]) == (1, 1)
    assert buyer_sees[-1]["quote"]["price"] == "120.00"  # the buyer sees bids live
    extended = [m for m in a_then if kind("rfq", id=rfq["id"], event="extended")(m)]
    assert len(extended) == 1
    assert at(extended[0]["rfq"]["closes_at"]) == closes + timedelta(minutes=3)
    assert extended[0]["rfq"]["auction"]["extensions"] == 1
    assert a_then[-1]["standing"]["rank"] == 2  # undercut by b
    assert a_then[-1]["standing"]["best_landed_cost"] == b_then[-1]["standing"]["landed_cost"]
    assert (b_then[-1]["standing"]["rank"], b_then[-1]["standing"]["live_bids"]) == (1, 2)
    assert at(buyer_then[-1]["rfq"]["closes_at"]) == closes + timedelta(minutes=3)
    never = [Reply(200, m, {}) for m in a_first + a_then if "sequence" in m]
    assert_nothing_of_others(never, desk, "a", {"b": bid_b})


async def test_the_buyer_of_a_sealed_rfq_is_told_of_no_quote_before_closing(desk, clock):
    sealed = await create(desk["buyer_api"], rfq_body(desk, clock, mode="sealed"))
    buyer = await connect(desk["buyer_api"])
    try:
        await buyer.subscribe({"name": "rfqs"})
        await buyer.next("rfqs_snapshot")
        await quote(desk["a_api"], sealed["id"], quote_body(desk, clock))
        marker = await create(desk["buyer_api"], rfq_body(desk, clock))
        seen = await until(buyer, kind("rfq", id=marker["id"], event="created"))
    finally:
        await buyer.ws.close()

    assert [m for m in seen if m["type"] == "quote"] == []
