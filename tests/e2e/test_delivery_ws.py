"""The `node` WebSocket channel (snapshot, then the offer and every change) and `delivery`
messages on the buyer's and supplier's `user` channel; a connected node counts as online."""

from __future__ import annotations

from datetime import timedelta

from tests.delivery_support import (  # noqa: F401
    PROOF,
    SILENCE_SECONDS,
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
from tests.e2e.test_ws_market import connect


async def test_the_node_channel_gets_its_snapshot_then_the_offer(operator, clock, center):
    where = await desk(operator)
    node, node_api = await register_node(
        operator, [where.origin], [(where.origin, where.destination, where.code, "1.00")],
        heartbeat=False,
    )  # fmt: skip
    first = await funded_contract(operator, clock, where)
    sock = await connect(node_api)
    try:
        await sock.subscribe({"name": "node"})
        snapshot = await sock.next("tasks_snapshot")
        assert snapshot["tasks"] == []

        # online by its socket alone: no heartbeat was ever sent
        await route(center[1])
        offered = await sock.next("task")
        assert offered["event"] == "offered"
        assert offered["sequence"] == snapshot["sequence"] + 1
        assert offered["task"]["contract_id"] == first["id"]
        assert offered["task"]["delivery_code"] is None
        assert (await event(node_api, offered["task"]["id"], "accepted")).status == 200
        accepted = await sock.next("task")
        assert (accepted["event"], accepted["task"]["status"]) == ("accepted", "accepted")
        assert accepted["sequence"] == offered["sequence"] + 1
    finally:
        await sock.ws.close()
    again = await connect(node_api)
    try:
        await again.subscribe({"name": "node"})
        snapshot = await again.next("tasks_snapshot")
        assert [(t["id"], t["status"]) for t in snapshot["tasks"]] == [
            (offered["task"]["id"], "accepted")
        ]
    finally:
        await again.ws.close()
    assert node["code"] == offered["task"]["node"]


async def test_a_connected_node_stays_online_without_heartbeats(operator, clock, center):
    where = await desk(operator)
    node, node_api = await register_node(operator, [where.origin],
        [(where.origin, where.destination, where.code, "1.00")])  # fmt: skip
    sock = await connect(node_api)
    try:
        await sock.subscribe({"name": "node"})
        await sock.next("tasks_snapshot")
        clock.advance(timedelta(seconds=SILENCE_SECONDS * 3))
        made = await funded_contract(operator, clock, where)
        await route(center[1])

        assert (await task_of(operator, made["id"]))["task"]["node"] == node["code"]
        assert (await operator.get(f"/v1/nodes/{node['code']}")).body["online"] is True
    finally:
        await sock.ws.close()


async def test_only_a_registered_node_may_subscribe_to_the_node_channel(operator, clock, center):
    where = await desk(operator)
    sock = await connect(where.buyer_api)
    try:
        await sock.send({"type": "subscribe", "channels": [{"name": "node"}]})
        refused = await sock.next("error")
        assert refused["code"] == "ROLE_REQUIRED"
    finally:
        await sock.ws.close()


async def test_buyer_and_supplier_see_every_change_on_their_user_channel(operator, clock, center):
    where = await desk(operator)
    _, node_api = await register_node(
        operator, [where.origin], [(where.origin, where.destination, where.code, "1.00")]
    )
    made = await funded_contract(operator, clock, where)
    buyer = await connect(where.buyer_api)
    supplier = await connect(where.supplier_api)
    try:
        for sock in (buyer, supplier):
            await sock.subscribe({"name": "user"})
            await sock.next("user_snapshot")
        await route(center[1])
        task = (await task_of(node_api, made["id"]))["task"]
        code = (await task_of(where.buyer_api, made["id"]))["task"]["delivery_code"]
        for kind, fields in (
            ("accepted", {}),
            ("picked_up", {}),
            (
                "delivered",
                {
                    "delivered_quantity": "4",
                    "receiver_name": "Ann",
                    "delivery_code": code,
                    "proof_sha256": PROOF,
                },
            ),
        ):
            assert (await event(node_api, task["id"], kind, **fields)).status == 200  # fmt: skip

        skipping = ("heartbeat", "contract", "money")
        seen = {}
        for name, sock in (("buyer", buyer), ("supplier", supplier)):
            seen[name] = [await sock.next("delivery", skipping=skipping) for _ in range(5)]
        for name in ("buyer", "supplier"):
            events = [m["event"] for m in seen[name]]
            assert events == ["created", "offered", "accepted", "picked_up", "delivered"]
            assert all(m["task"]["id"] == task["id"] for m in seen[name])
        assert {m["task"]["delivery_code"] for m in seen["buyer"]} == {code}
        assert {m["task"]["delivery_code"] for m in seen["supplier"]} == {None}
    finally:
        await buyer.ws.close()
        await supplier.ws.close()
