"""Routing: a funded contract becomes a task offered to the right node; least loaded first;
rejection, offer timeout and silence move it on; no node: it waits and operators are alerted;
capacity; a cancelled contract's task is cancelled. The clock moves; nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.delivery_support import (  # noqa: F401
    OFFER_SECONDS,
    SILENCE_SECONDS,
    delivery_center,
    desk,
    event,
    funded_contract,
    ledger_holds,
    manual_clock,
    new_region,
    register_node,
    route,
    task_of,
)


async def _alerts(operator, subject: str) -> list[dict]:
    reply = await operator.get("/v1/alerts", all="true", limit="500")
    assert reply.status == 200, reply.body
    return [a for a in reply.body["data"] if a["subject"] == subject]


async def _contract(api, contract_id: int) -> dict:
    return (await api.get(f"/v1/contracts/{contract_id}")).body["contract"]


async def test_a_funded_contract_goes_to_the_node_serving_its_lane(operator, clock, center):
    where = await desk(operator)
    elsewhere = await new_region(operator)
    right, right_api = await register_node(
        operator, [where.origin, where.destination],
        [(where.origin, where.destination, where.code, "5.00")],
    )  # fmt: skip
    _wrong, wrong_api = await register_node(
        operator, [elsewhere], [(elsewhere, where.destination, where.code, "1.00")]
    )
    made = await funded_contract(operator, clock, where)

    report = await route(center[1])

    seen = await task_of(right_api, made["id"])
    task = seen["task"]
    assert task["id"] in report.created
    assert task["status"] == "assigned"
    assert task["node"] == right["code"]
    assert (task["origin_region"], task["destination_region"]) == (where.origin, where.destination)
    assert task["quantity"] == "4.000000"
    assert task["delivery_code"] is None  # the node never sees the buyer's code
    expires = datetime.fromisoformat(task["offer_expires_at"])
    assert expires == clock.now() + timedelta(seconds=OFFER_SECONDS)
    assert [e["kind"] for e in seen["timeline"]] == ["created", "offered"]
    assert (await wrong_api.get("/v1/delivery-tasks")).body["data"] == []
    assert (await _contract(where.buyer_api, made["id"]))["status"] == "funded"
    # the delivery window ends lead days after funding, on the contract too
    assert task["window_end"] == (await task_of(where.buyer_api, made["id"]))["task"]["window_end"]


async def test_the_least_loaded_node_comes_first_then_the_cheapest(operator, clock, center):
    where = await desk(operator)
    lane = (where.origin, where.destination, where.code)
    cheap, _ = await register_node(operator, [where.origin], [(*lane, "2.00")])
    dear, _ = await register_node(operator, [where.origin], [(*lane, "3.00")])
    contracts = [await funded_contract(operator, clock, where) for _ in range(3)]

    await route(center[1])

    nodes = [(await task_of(operator, c["id"]))["task"]["node"] for c in contracts]
    assert nodes == [cheap["code"], dear["code"], cheap["code"]]


async def test_a_rejected_task_goes_to_the_next_node_at_once(operator, clock, center):
    where = await desk(operator)
    lane = (where.origin, where.destination, where.code)
    _first, first_api = await register_node(operator, [where.origin], [(*lane, "1.00")])
    second, second_api = await register_node(operator, [where.origin], [(*lane, "2.00")])
    made = await funded_contract(operator, clock, where)
    await route(center[1])
    task_id = (await task_of(first_api, made["id"]))["task"]["id"]

    reply = await event(first_api, task_id, "rejected", reason="no trucks free")

    assert reply.status == 200, reply.body
    assert reply.body["node"] == second["code"]
    assert reply.body["status"] == "assigned"
    seen = await task_of(second_api, made["id"])
    assert [e["kind"] for e in seen["timeline"]] == ["created", "offered", "rejected", "offered"]
    assert seen["timeline"][2]["detail"] == {"reason": "no trucks free"}
    # the first node sees the task it was offered, but may no longer act on it
    assert (await event(first_api, task_id, "accepted")).status == 404


async def test_an_offer_not_accepted_in_time_goes_to_the_next_node(operator, clock, center):
    where = await desk(operator)
    lane = (where.origin, where.destination, where.code)
    slow, slow_api = await register_node(operator, [where.origin], [(*lane, "1.00")])
    other, other_api = await register_node(operator, [where.origin], [(*lane, "2.00")])
    made = await funded_contract(operator, clock, where)
    await route(center[1])
    task_id = (await task_of(slow_api, made["id"]))["task"]["id"]

    clock.advance(timedelta(seconds=OFFER_SECONDS - 1))
    for code, api in ((slow["code"], slow_api), (other["code"], other_api)):
        assert (await api.post(f"/v1/nodes/{code}/heartbeat")).status == 200
    await route(center[1])
    assert (await task_of(operator, made["id"]))["task"]["node"] == slow["code"]  # not yet
    clock.advance(timedelta(seconds=2))
    await route(center[1])

    seen = await task_of(other_api, made["id"])
    assert seen["task"]["node"] == other["code"]
    assert [e["kind"] for e in seen["timeline"]][-2:] == ["expired", "offered"]
    late = await event(slow_api, task_id, "accepted")
    assert late.status == 404


async def test_with_no_eligible_node_the_task_waits_and_operators_are_alerted(
    operator, clock, center
):
    where = await desk(operator)
    made = await funded_contract(operator, clock, where)

    await route(center[1])
    await route(center[1])  # still nobody: one alert, one waiting entry

    seen = await task_of(where.buyer_api, made["id"])
    assert seen["task"]["status"] == "waiting"
    assert seen["task"]["node"] is None
    assert [e["kind"] for e in seen["timeline"]] == ["created", "waiting"]
    subject = f"task:{seen['task']['id']}"
    [alert] = await _alerts(operator, subject)
    assert alert["kind"] == "no_node"
    assert alert["acknowledged_at"] is None
    node, _ = await register_node(
        operator, [where.origin], [(where.origin, where.destination, where.code, "1.00")]
    )
    await route(center[1])
    routed = await task_of(where.buyer_api, made["id"])
    assert routed["task"]["status"] == "assigned"
    assert routed["task"]["node"] == node["code"]


async def test_an_offline_or_suspended_node_is_not_offered_tasks(operator, clock, center):
    where = await desk(operator)
    lane = (where.origin, where.destination, where.code, "1.00")
    _quiet, _ = await register_node(operator, [where.origin], [lane], heartbeat=False)
    paused, _ = await register_node(operator, [where.origin], [lane])
    suspended = await operator.patch(f"/v1/nodes/{paused['code']}", {"status": "suspended"})
    assert suspended.status == 200, suspended.body
    made = await funded_contract(operator, clock, where)

    await route(center[1])

    assert (await task_of(operator, made["id"]))["task"]["status"] == "waiting"


async def test_a_node_at_its_daily_capacity_is_passed_over(operator, clock, center):
    where = await desk(operator)
    small, _ = await register_node(
        operator, [where.origin], [(where.origin, where.destination, where.code, "1.00")],
        capacity=1,
    )  # fmt: skip
    first = await funded_contract(operator, clock, where)
    second = await funded_contract(operator, clock, where)

    await route(center[1])

    assert (await task_of(operator, first["id"]))["task"]["node"] == small["code"]
    assert (await task_of(operator, second["id"]))["task"]["status"] == "waiting"
    node = (await operator.get(f"/v1/nodes/{small['code']}")).body
    assert (node["tasks_today"], node["active_tasks"]) == (1, 1)


async def test_a_silent_node_loses_its_unstarted_tasks_and_operators_are_alerted(
    operator, clock, center
):
    where = await desk(operator)
    lane = (where.origin, where.destination, where.code)
    silent, silent_api = await register_node(operator, [where.origin], [(*lane, "1.00")])
    unstarted = await funded_contract(operator, clock, where)
    started = await funded_contract(operator, clock, where)
    await route(center[1])
    ids = {}
    for made in (unstarted, started):
        ids[made["id"]] = (await task_of(silent_api, made["id"]))["task"]["id"]
        assert (await event(silent_api, ids[made["id"]], "accepted")).status == 200
    assert (await event(silent_api, ids[started["id"]], "picked_up")).status == 200
    assert (await _contract(operator, unstarted["id"]))["status"] == "in_delivery"

    clock.advance(timedelta(seconds=SILENCE_SECONDS + 1))
    backup, _ = await register_node(operator, [where.origin], [(*lane, "9.00")])
    await route(center[1])

    moved = await task_of(operator, unstarted["id"])
    assert moved["task"]["node"] == backup["code"]
    assert moved["task"]["status"] == "assigned"
    assert [e["kind"] for e in moved["timeline"]][-2:] == ["withdrawn", "offered"]
    kept = await task_of(operator, started["id"])
    assert (kept["task"]["node"], kept["task"]["status"]) == (silent["code"], "picked_up")
    [alert] = await _alerts(operator, f"node:{silent['code']}")
    assert alert["kind"] == "node_silent"
    # the contract stays in delivery while the next node takes it over
    assert (await _contract(operator, unstarted["id"]))["status"] == "in_delivery"


async def test_a_cancelled_contracts_task_is_cancelled_and_leaves_its_node(operator, clock, center):
    where = await desk(operator)
    node, node_api = await register_node(
        operator, [where.origin], [(where.origin, where.destination, where.code, "1.00")]
    )
    made = await funded_contract(operator, clock, where)
    await route(center[1])
    task_id = (await task_of(node_api, made["id"]))["task"]["id"]

    cancelled = await operator.post(f"/v1/contracts/{made['id']}/cancel", {"reason": "test"})
    assert cancelled.status == 200, cancelled.body
    report = await route(center[1])

    assert task_id in report.cancelled
    seen = await task_of(node_api, made["id"])
    assert seen["task"]["status"] == "cancelled"
    assert seen["task"]["node"] is None
    assert (await event(node_api, task_id, "accepted")).status == 404
    listed = (await operator.get(f"/v1/nodes/{node['code']}")).body
    assert listed["active_tasks"] == 0
