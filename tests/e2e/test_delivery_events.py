"""A node's events on its task: the full sequence to `delivered` with the buyer's code, wrong
codes refused and counted (the third alerts), shortage, failure, events out of order (409) or
from another node (404), and who may see a task."""

from __future__ import annotations

from datetime import timedelta

from tests.delivery_support import (  # noqa: F401
    PROOF,
    delivery_center,
    desk,
    event,
    funded_contract,
    ledger_holds,
    manual_clock,
    register_node,
    route,
    task_of,
)
from tests.factories import new_participant


async def _routed(operator, clock, center, quantity: int = 4):
    """A funded contract routed to a fresh node: (desk, contract, node, node api, task id)."""
    where = await desk(operator)
    node, node_api = await register_node(
        operator, [where.origin], [(where.origin, where.destination, where.code, "1.00")]
    )
    made = await funded_contract(operator, clock, where, quantity=quantity)
    await route(center[1])
    task_id = (await task_of(node_api, made["id"]))["task"]["id"]
    return where, made, node, node_api, task_id


def _delivered(code: str, quantity: str = "4") -> dict:
    return {"delivered_quantity": quantity, "receiver_name": "R. Eceiver",
            "delivery_code": code, "proof_sha256": PROOF}  # fmt: skip


async def test_the_full_sequence_ends_delivered_with_the_buyers_code(operator, clock, center, db):
    where, made, node, node_api, task_id = await _routed(operator, clock, center)
    code = (await task_of(where.buyer_api, made["id"]))["task"]["delivery_code"]
    assert len(code) == 6

    steps = [("accepted", {}), ("picked_up", {}), ("in_transit", {"location": "Km 40"}),
             ("in_transit", {"location": "Km 90"}), ("delivered", _delivered(code))]  # fmt: skip
    statuses = []
    for kind, fields in steps:
        reply = await event(node_api, task_id, kind, **fields)
        assert reply.status == 200, (kind, reply.body)
        statuses.append(reply.body["status"])
        if kind == "accepted":
            contract = (await where.buyer_api.get(f"/v1/contracts/{made['id']}")).body
            assert contract["contract"]["status"] == "in_delivery"

    assert statuses == ["accepted", "picked_up", "in_transit", "in_transit", "delivered"]
    seen = await task_of(where.supplier_api, made["id"])
    assert seen["task"]["delivery_code"] is None  # the buyer's alone
    assert seen["task"]["delivered_quantity"] == "4.000000"
    assert seen["task"]["receiver_name"] == "R. Eceiver"
    assert seen["task"]["proof_sha256"] == PROOF
    kinds = [e["kind"] for e in seen["timeline"]]
    assert kinds == ["created", "offered", "accepted", "picked_up", "in_transit", "in_transit",
                     "delivered"]  # fmt: skip
    assert seen["timeline"][4]["detail"] == {"location": "Km 40"}
    assert all(e["node"] == node["code"] for e in seen["timeline"][1:])
    contract = (await where.supplier_api.get(f"/v1/contracts/{made['id']}")).body
    assert contract["contract"]["status"] == "delivered"
    assert [h["to_status"] for h in contract["history"]][-2:] == ["in_delivery", "delivered"]
    row = await db.fetchrow(
        "SELECT delivered_at, delivered_quantity_micro, claim_window_until, delivery_due_at"
        " FROM contracts WHERE id = $1",
        made["id"],
    )
    assert row["delivered_at"] == clock.now()
    assert row["delivered_quantity_micro"] == 4_000_000
    assert row["claim_window_until"] - row["delivered_at"] == timedelta(
        days=contract["contract"]["terms"]["breach"]["claim_window_days"]
    )
    assert row["delivery_due_at"] is not None


async def test_a_wrong_code_is_refused_and_counted_and_the_third_alerts(operator, clock, center):
    where, made, _node, node_api, task_id = await _routed(operator, clock, center)
    code = (await task_of(where.buyer_api, made["id"]))["task"]["delivery_code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for kind in ("accepted", "picked_up"):
        assert (await event(node_api, task_id, kind)).status == 200

    replies = [await event(node_api, task_id, "delivered", **_delivered(wrong)) for _ in range(3)]

    assert [(r.status, r.code) for r in replies] == [(422, "WRONG_DELIVERY_CODE")] * 3
    seen = await task_of(operator, made["id"])
    assert seen["task"]["status"] == "picked_up"
    assert seen["task"]["wrong_codes"] == 3
    assert [e["kind"] for e in seen["timeline"]].count("wrong_code") == 3
    alerts = (await operator.get("/v1/alerts", limit="500")).body["data"]
    [alert] = [a for a in alerts if a["subject"] == f"task:{task_id}"]
    assert alert["kind"] == "wrong_codes"
    right = await event(node_api, task_id, "delivered", **_delivered(code))
    assert right.status == 200, right.body


async def test_events_out_of_order_are_refused_and_change_nothing(operator, clock, center):
    _, made, _, node_api, task_id = await _routed(operator, clock, center)

    early = await event(node_api, task_id, "picked_up")
    assert (await event(node_api, task_id, "accepted")).status == 200
    twice = await event(node_api, task_id, "accepted")
    reject_late = await event(node_api, task_id, "rejected", reason="changed my mind")
    deliver_early = await event(node_api, task_id, "delivered", **_delivered("000000"))

    for reply in (early, twice, reject_late, deliver_early):
        assert (reply.status, reply.code) == (409, "INVALID_TASK_TRANSITION"), reply.body
    seen = await task_of(operator, made["id"])
    assert seen["task"]["status"] == "accepted"
    assert seen["task"]["wrong_codes"] == 0
    assert [e["kind"] for e in seen["timeline"]] == ["created", "offered", "accepted"]


async def test_an_event_must_carry_what_its_type_needs(operator, clock, center):
    _, _, _, node_api, task_id = await _routed(operator, clock, center)

    missing = await event(node_api, task_id, "rejected")
    extra = await event(node_api, task_id, "accepted", location="here")

    assert missing.status == 422
    assert extra.status == 422


async def test_another_nodes_event_is_404(operator, clock, center):
    where, made, _, _, task_id = await _routed(operator, clock, center)
    _, stranger_api = await register_node(operator, [where.origin])

    reply = await event(stranger_api, task_id, "accepted")

    assert (reply.status, reply.code) == (404, "UNKNOWN_TASK")
    assert (await task_of(operator, made["id"]))["task"]["status"] == "assigned"
    assert (await stranger_api.get(f"/v1/delivery-tasks/{task_id}")).status == 404


async def test_strangers_cannot_see_a_task(operator, clock, center):
    where, _, _, _, task_id = await _routed(operator, clock, center)
    _, other_buyer = await new_participant(operator, ["buyer"])
    _, other_supplier = await new_participant(operator, ["supplier"])

    for api in (other_buyer, other_supplier):
        assert (await api.get(f"/v1/delivery-tasks/{task_id}")).status == 404
        listed = (await api.get("/v1/delivery-tasks")).body["data"]
        assert task_id not in [t["id"] for t in listed]
    assert (await where.buyer_api.get(f"/v1/delivery-tasks/{task_id}")).status == 200


async def test_a_shortage_is_recorded_and_bounds_the_delivery(operator, clock, center, db):
    where, made, _, node_api, task_id = await _routed(operator, clock, center)
    code = (await task_of(where.buyer_api, made["id"]))["task"]["delivery_code"]
    assert (await event(node_api, task_id, "accepted")).status == 200

    whole = await event(node_api, task_id, "shortage", available_quantity="4")
    short = await event(node_api, task_id, "shortage", available_quantity="3")
    assert (await event(node_api, task_id, "picked_up")).status == 200
    beyond = await event(node_api, task_id, "delivered", **_delivered(code, "4"))
    done = await event(node_api, task_id, "delivered", **_delivered(code, "3"))

    assert (whole.status, whole.code) == (422, "INVALID_QUANTITY")
    assert short.status == 200, short.body
    assert short.body["available_quantity"] == "3.000000"
    assert (beyond.status, beyond.code) == (422, "INVALID_QUANTITY")
    assert done.status == 200, done.body
    found = await db.fetchval(
        "SELECT delivered_quantity_micro FROM contracts WHERE id = $1", made["id"]
    )
    assert found == 3_000_000
    contract = (await where.buyer_api.get(f"/v1/contracts/{made['id']}")).body["contract"]
    assert contract["status"] == "delivered"  # a short delivery is delivered too


async def test_a_failed_task_goes_to_the_next_node_and_alerts(operator, clock, center):
    where, made, _node, node_api, task_id = await _routed(operator, clock, center)
    backup, backup_api = await register_node(
        operator, [where.origin], [(where.origin, where.destination, where.code, "8.00")]
    )
    assert (await event(node_api, task_id, "accepted")).status == 200

    failed = await event(node_api, task_id, "failed", reason="truck broke down")

    assert failed.status == 200, failed.body
    assert (failed.body["node"], failed.body["status"]) == (backup["code"], "assigned")
    alerts = (await operator.get("/v1/alerts", limit="500")).body["data"]
    [alert] = [a for a in alerts if a["subject"] == f"task:{task_id}"]
    assert alert["kind"] == "task_failed"
    assert (await event(backup_api, task_id, "accepted")).status == 200
    contract = (await operator.get(f"/v1/contracts/{made['id']}")).body["contract"]
    assert contract["status"] == "in_delivery"
