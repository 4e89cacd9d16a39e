"""Claims: the buyer opens one within the claim window (the contract is disputed), the
supplier answers, an operator resolves it, and the ledger moves exactly that: release in full,
refund part (the rest to the supplier, its fee in proportion) or refund all. A claim after the
window, a second claim, a second resolution and foreign callers are refused, changing nothing.
The ledger's trial balance holds after every test."""

from __future__ import annotations

from typing import Any

import pytest

from exchange.clock import ManualClock
from tests.factories import Api
from tests.outcomes_support import (  # noqa: F401
    DAY,
    Desk,
    arrange_delivered,
    available_minor,
    escrow_minor,
    funded,
    ledger_holds,
    manual_clock,
    minor,
    new_desk,
    outcome_center,
    status_of,
)

EVIDENCE = ["ab" * 32, "0f" * 32]


@pytest.fixture(scope="module")
async def desk(operator: Api) -> Desk:
    return await new_desk(operator)


async def _claimed(desk: Desk, clock: ManualClock, database_url: str, price: int, qty: int,
                   amount: str = "100.00") -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """A contract funded, delivered, and a claim opened on it: (contract, claim)."""
    made = await funded(desk, clock, price, qty)
    await arrange_delivered(database_url, made["id"], clock.now())
    body = {"kind": "quality", "amount": amount, "description": "grade below spec",
            "evidence": EVIDENCE}  # fmt: skip
    reply = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/claims", body)
    assert reply.status == 201, reply.body
    assert reply.body["contract"]["status"] == "disputed"
    return made, reply.body["claim"]


async def _money(desk: Desk) -> tuple[int, int, int]:
    return (await available_minor(desk.supplier), await available_minor(desk.buyer_api),
            await escrow_minor(desk.buyer_api))  # fmt: skip


def _moved(after: tuple[int, ...], before: tuple[int, ...]) -> list[int]:
    return [a - b for a, b in zip(after, before, strict=True)]


async def _resolve(operator: Api, claim: dict[str, Any], **body: Any) -> Any:
    reply = await operator.post(f"/v1/claims/{claim['id']}/resolve", {"reason": "inspected"} | body)
    assert reply.status == 200, reply.body
    return reply.body


async def test_a_claim_is_opened_answered_and_seen_by_the_parties_and_operators_only(
    desk, clock, database_url, operator, db
):
    made, claim = await _claimed(desk, clock, database_url, 300, 2)
    stranger = await new_desk(operator)

    answer = await desk.supplier.post(f"/v1/claims/{claim['id']}/answer", {"answer": "on spec"})
    again = await desk.supplier.post(f"/v1/claims/{claim['id']}/answer", {"answer": "sure?"})
    by_buyer = await desk.buyer_api.post(f"/v1/claims/{claim['id']}/answer", {"answer": "x"})
    by_other = await stranger.supplier.post(f"/v1/claims/{claim['id']}/answer", {"answer": "x"})

    assert (claim["kind"], claim["amount"], claim["status"], claim["evidence"]) == (
        "quality", "100.00", "open", EVIDENCE
    )  # fmt: skip
    assert answer.status == 200, answer.body
    assert (answer.body["status"], answer.body["answer"]) == ("answered", "on spec")
    assert [(r.status, r.code) for r in (again, by_buyer, by_other)] == [
        (409, "CLAIM_ANSWERED"), (403, "ROLE_REQUIRED"), (404, "UNKNOWN_CLAIM")
    ]  # fmt: skip
    for api in (desk.buyer_api, desk.supplier, operator):
        seen = await api.get(f"/v1/claims/{claim['id']}")
        assert (seen.status, seen.body["answer"]) == (200, "on spec")
        listed = await api.get("/v1/claims")
        assert claim["id"] in [c["id"] for c in listed.body["data"]]
    hidden = await stranger.buyer_api.get(f"/v1/claims/{claim['id']}")
    assert (hidden.status, hidden.code) == (404, "UNKNOWN_CLAIM")
    assert claim["id"] not in [
        c["id"] for c in (await stranger.buyer_api.get("/v1/claims")).body["data"]
    ]
    actions = await db.fetch(
        "SELECT action FROM audit_log WHERE target = $1 ORDER BY id", f"claim:{claim['id']}"
    )
    assert [a["action"] for a in actions] == ["claim.opened", "claim.answered"]
    assert await status_of(desk.buyer_api, made["id"]) == "disputed"


async def test_release_full_pays_the_supplier_the_amount_less_the_fee(
    desk, clock, database_url, operator
):
    made, claim = await _claimed(desk, clock, database_url, 412, 3)
    amount, fee = minor(made["amount"]), minor(made["fee"])
    before = await _money(desk)

    done = await _resolve(operator, claim, resolution="release_full")

    assert _moved(await _money(desk), before) == [amount - fee, 0, -amount]
    assert (done["claim"]["status"], done["claim"]["resolution"], done["claim"]["refunded"]) == (
        "resolved", "release_full", "0.00"
    )  # fmt: skip
    assert done["contract"]["status"] == "completed"


async def test_refund_part_sends_that_to_the_buyer_and_the_rest_less_its_fee_to_the_supplier(
    desk, clock, database_url, operator
):
    made, claim = await _claimed(desk, clock, database_url, 412, 3)
    amount, fee = minor(made["amount"]), minor(made["fee"])
    before = await _money(desk)

    done = await _resolve(operator, claim, resolution="refund_part", amount="200.01")

    rest = amount - 20001
    fee_part = (2 * fee * rest + amount) // (2 * amount)  # the fee in proportion, half up
    assert (rest, fee_part) == (103599, 259)
    assert _moved(await _money(desk), before) == [rest - fee_part, 20001, -amount]
    assert (done["claim"]["refunded"], done["contract"]["status"]) == (
        "200.01", "partially_refunded"
    )  # fmt: skip


async def test_refund_all_returns_the_whole_escrow_to_the_buyer(
    desk, clock, database_url, operator
):
    made, claim = await _claimed(desk, clock, database_url, 412, 3)
    amount = minor(made["amount"])
    before = await _money(desk)

    done = await _resolve(operator, claim, resolution="refund_all")

    assert _moved(await _money(desk), before) == [0, amount, -amount]
    assert (done["claim"]["refunded"], done["contract"]["status"]) == ("1236.00", "refunded")


async def test_a_resolution_is_final_and_a_bad_amount_changes_nothing(
    desk, clock, database_url, operator
):
    _, claim = await _claimed(desk, clock, database_url, 100, 1)
    before = await _money(desk)
    path = f"/v1/claims/{claim['id']}/resolve"

    too_much = await operator.post(path, {"resolution": "refund_part", "amount": "100.00",
                                          "reason": "all of it?"})  # fmt: skip
    no_amount = await operator.post(path, {"resolution": "refund_part", "reason": "how much?"})
    by_buyer = await desk.buyer_api.post(path, {"resolution": "refund_all", "reason": "mine"})
    unknown = await operator.post("/v1/claims/999999/resolve",
                                  {"resolution": "refund_all", "reason": "x"})  # fmt: skip
    assert await _money(desk) == before
    first = await _resolve(operator, claim, resolution="refund_all")
    second = await operator.post(path, {"resolution": "release_full", "reason": "again"})

    assert [(r.status, r.code) for r in (too_much, no_amount, by_buyer, unknown, second)] == [
        (422, "INVALID_AMOUNT"), (422, "VALIDATION_FAILED"), (403, "ROLE_REQUIRED"),
        (404, "UNKNOWN_CLAIM"), (409, "CLAIM_RESOLVED"),
    ]  # fmt: skip
    assert first["contract"]["status"] == "refunded"
    assert _moved(await _money(desk), before) == [0, 10000, -10000]


async def test_a_claim_after_the_window_or_twice_is_refused(
    desk, clock: ManualClock, database_url, operator
):
    made = await funded(desk, clock, 100, 1)
    await arrange_delivered(database_url, made["id"], clock.now())
    twice, _ = await _claimed(desk, clock, database_url, 100, 1)
    undelivered = await funded(desk, clock, 100, 1)
    body = {"kind": "damage", "amount": "10.00", "description": "wet"}
    too_big = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/claims",
                                        body | {"amount": "100.01"})  # fmt: skip
    clock.advance(7 * DAY)
    in_time = await desk.buyer_api.post(f"/v1/contracts/{twice['id']}/claims", body)
    clock.advance(DAY // 86400)  # one second past the window

    late = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/claims", body)
    early = await desk.buyer_api.post(f"/v1/contracts/{undelivered['id']}/claims", body)
    by_supplier = await desk.supplier.post(f"/v1/contracts/{made['id']}/claims", body)

    assert [(r.status, r.code) for r in (in_time, late, early, by_supplier)] == [
        (409, "CLAIM_EXISTS"), (409, "CLAIM_WINDOW_CLOSED"), (409, "CONTRACT_STATE_CONFLICT"),
        (403, "ROLE_REQUIRED"),
    ]  # fmt: skip
    assert (too_big.status, too_big.code) == (422, "INVALID_AMOUNT")
    assert await status_of(desk.buyer_api, made["id"]) == "delivered"
    # leave nothing delivered behind for the other tests
    assert (await desk.buyer_api.post(f"/v1/contracts/{made['id']}/accept")).status == 200
