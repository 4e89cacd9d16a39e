"""Ratings and credit: each party rates the other once after the contract ends; a scripted
history (payments on time and late, deliveries on time, late and short, a claim upheld,
ratings) gives exactly the figures, the contracts behind them and the score of the documented
formula; the score shows where a counterparty is shown (the contract's parties, the
participant directory). The ledger's trial balance holds after every test."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from exchange.clock import ManualClock
from tests.factories import Api, new_participant
from tests.outcomes_support import (  # noqa: F401
    DAY,
    Desk,
    arrange_delivered,
    funded,
    ledger_holds,
    manual_clock,
    new_desk,
    outcome_center,
)
from tests.payments_support import contract, deposit


async def _late_paid(desk: Desk, clock: ManualClock) -> dict[str, Any]:
    """A contract paid an hour after its due time (with the late penalty)."""
    made = await contract(desk.buyer_api, desk.supplier, desk.code, 100, 1)
    clock.set(datetime.fromisoformat(made["payment_due_at"]) + timedelta(hours=1))
    await deposit(desk.buyer_api, clock, desk.buyer_id, "200.00")
    reply = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/pay")
    assert reply.status == 200, reply.body
    return reply.body["contract"]  # type: ignore[no-any-return]


async def _ok(reply: Any) -> Any:
    assert reply.status in (200, 201), reply.body
    return reply.body


@pytest.fixture(scope="module")
async def history(operator: Api, clock: ManualClock, database_url: str) -> dict[str, Any]:
    """The script: supplier S sells to buyer B
    c1 paid on time, delivered on time in full, accepted;
    c2 paid on time, delivered late in full, accepted;
    c3 paid on time, delivered short, settled pro rata;
    c4 paid on time, delivered on time in full, a claim upheld (refund part);
    c5 paid late, delivered on time in full, accepted.
    B rates S 5 (c1) and 3 (c2); S rates B 4 (c1)."""
    desk = await new_desk(operator)
    buyer, seller = desk.buyer_api, desk.supplier
    c = [await funded(desk, clock, 100, 2) for _ in range(4)]
    c.append(await _late_paid(desk, clock))
    now = clock.now()
    script = [(None, None), (None, now - DAY), ("1", None), (None, None), (None, None)]
    for made, (delivered, due) in zip(c, script, strict=True):
        await arrange_delivered(database_url, made["id"], now, delivered, due=due)
    for made in (c[0], c[1], c[4]):
        await _ok(await buyer.post(f"/v1/contracts/{made['id']}/accept"))
    await _ok(await buyer.post(f"/v1/contracts/{c[2]['id']}/shortage", {"settle": "pro_rata"}))
    claim = await _ok(await buyer.post(f"/v1/contracts/{c[3]['id']}/claims",
                      {"kind": "damage", "amount": "50.00", "description": "dented"}))  # fmt: skip
    await _ok(await operator.post(f"/v1/claims/{claim['claim']['id']}/resolve",
              {"resolution": "refund_part", "amount": "50.00", "reason": "dented"}))  # fmt: skip
    for api, made, score in ((buyer, c[0], 5), (buyer, c[1], 3), (seller, c[0], 4)):
        await _ok(await api.post(f"/v1/contracts/{made['id']}/ratings",
                                 {"score": score, "comment": "noted"}))  # fmt: skip
    return {"desk": desk, "ids": [made["id"] for made in c]}


def _component(profile: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in profile["components"] if c["name"] == name]
    return found


async def test_the_suppliers_figures_and_score_follow_from_its_history(history, operator):
    desk, ids = history["desk"], history["ids"]
    c1, c2, c3, c4, c5 = ids

    reply = await desk.buyer_api.get(f"/v1/participants/{desk.seller_id}/credit")

    assert reply.status == 200, reply.body
    profile = reply.body
    deliveries = _component(profile, "deliveries")
    assert deliveries["contracts"] == {
        "complete_on_time": [c1, c4, c5], "late": [c2], "delivered": [c1, c2, c3, c4, c5]
    }  # fmt: skip
    assert (deliveries["value"], deliveries["weight"], deliveries["basis"]) == ("0.6000", 25, 5)
    assert _component(profile, "shortages")["contracts"] == {"short": [c3]}
    assert _component(profile, "shortages")["value"] == "0.8000"
    assert _component(profile, "claims")["contracts"] == {"upheld": [c4]}
    assert _component(profile, "claims")["value"] == "0.8000"
    ratings = _component(profile, "ratings")
    assert (ratings["value"], ratings["basis"], ratings["contracts"]) == (
        "0.7500", 2, {"rated": [c1, c2]}
    )  # fmt: skip
    assert profile["average_rating"] == "4.00"
    assert _component(profile, "payments")["value"] is None  # it never bought
    # 100 x (25 x 0.6 + 15 x 0.8 + 15 x 0.8 + 15 x 0.75) / 70 = 71.79 -> 72
    assert profile["score"] == 72


async def test_the_buyers_payments_and_score_follow_from_its_history(history, operator):
    desk, ids = history["desk"], history["ids"]

    profile = (await desk.supplier.get(f"/v1/participants/{desk.buyer_id}/credit")).body

    payments = _component(profile, "payments")
    assert payments["contracts"] == {"on_time": ids[:4], "late": [ids[4]], "defaulted": []}
    assert (payments["value"], payments["weight"]) == ("0.9000", 30)  # (4 + 1/2) / 5
    assert _component(profile, "deliveries")["value"] is None  # it never sold
    # 100 x (30 x 0.9 + 15 x 0.75) / 45 = 85
    assert profile["score"] == 85


async def test_the_score_shows_where_a_counterparty_is_shown(history, operator):
    desk, ids = history["desk"], history["ids"]
    newcomer, _ = await new_participant(operator, ["buyer"])

    detail = (await desk.buyer_api.get(f"/v1/contracts/{ids[0]}")).body
    one = (await operator.get(f"/v1/participants/{desk.seller_id}")).body
    listed = (await operator.get("/v1/participants", role="supplier", limit="500")).body["data"]
    fresh = (await desk.buyer_api.get(f"/v1/participants/{newcomer['id']}/credit")).body

    assert [(p["role"], p["participant_id"], p["credit_score"]) for p in detail["parties"]] == [
        ("seller", desk.seller_id, 72), ("buyer", desk.buyer_id, 85)
    ]  # fmt: skip
    assert one["credit_score"] == 72
    assert [p["credit_score"] for p in listed if p["id"] == desk.seller_id] == [72]
    assert fresh["score"] is None
    assert {c["basis"] for c in fresh["components"]} == {0}


async def test_each_party_rates_once_after_the_end_and_only_its_own_contracts(
    history, operator, clock
):
    desk, ids = history["desk"], history["ids"]
    stranger = await new_desk(operator)
    open_one = await funded(desk, clock, 100, 1)
    body = {"score": 2, "comment": "again"}

    replies = [
        await desk.buyer_api.post(f"/v1/contracts/{ids[0]}/ratings", body),
        await desk.supplier.post(f"/v1/contracts/{ids[0]}/ratings", body),
        await desk.buyer_api.post(f"/v1/contracts/{open_one['id']}/ratings", body),
        await stranger.buyer_api.post(f"/v1/contracts/{ids[0]}/ratings", body),
        await desk.buyer_api.post(f"/v1/contracts/{ids[4]}/ratings", {"score": 6}),
    ]
    first = await desk.supplier.post(f"/v1/contracts/{ids[4]}/ratings", {"score": 5})

    assert [(r.status, r.code) for r in replies] == [
        (409, "ALREADY_RATED"), (409, "ALREADY_RATED"), (409, "NOT_RATABLE"),
        (404, "UNKNOWN_CONTRACT"), (422, "VALIDATION_FAILED"),
    ]  # fmt: skip
    assert first.status == 201, first.body
    assert (first.body["ratee_id"], first.body["score"]) == (desk.buyer_id, 5)
    profile = (await operator.get(f"/v1/participants/{desk.buyer_id}/credit")).body
    assert profile["average_rating"] == "4.50"
