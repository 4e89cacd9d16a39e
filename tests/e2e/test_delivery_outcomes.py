"""Outcomes after a real delivery through the routing code (no arrangement): a funded contract
is routed to a node, which picks it up and delivers it with the buyer's code; the buyer
accepts and the supplier's available funds rise by exactly the amount less the fee. A delivery
short by one unit is backordered: the routing sweep makes attempt 2, the node delivers the rest,
the buyer accepts the whole. The ledger's trial balance holds after every test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange.clock import ManualClock
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
from tests.factories import Api
from tests.outcomes_support import DAY, available_minor, minor


async def _deliver(node: dict[str, Any], node_api: Api, buyer: Api, contract_id: int,
                   attempt: int, quantity: str) -> None:  # fmt: skip
    """The node takes the attempt's task to the buyer and hands over `quantity`."""
    task = (await task_of(node_api, contract_id, attempt))["task"]
    code = (await task_of(buyer, contract_id, attempt))["task"]["delivery_code"]
    for kind, fields in (("accepted", {}), ("picked_up", {}), ("delivered", {
        "delivered_quantity": quantity, "receiver_name": "Gate 3", "delivery_code": code,
        "proof_sha256": PROOF,
    })):  # fmt: skip
        reply = await event(node_api, task["id"], kind, **fields)
        assert reply.status == 200, (kind, reply.body)


async def test_a_routed_delivery_accepted_pays_the_supplier_the_amount_less_the_fee(
    operator: Api, clock: ManualClock, center
):
    where = await desk(operator)
    node, node_api = await register_node(
        operator, [where.origin, where.destination],
        [(where.origin, where.destination, where.code, "2.50")],
    )  # fmt: skip
    made = await funded_contract(operator, clock, where, 300, 4)
    await route(center[1])
    await _deliver(node, node_api, where.buyer_api, made["id"], 1, "4")
    before = await available_minor(where.supplier_api)

    reply = await where.buyer_api.post(f"/v1/contracts/{made['id']}/accept")

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "completed"
    gained = await available_minor(where.supplier_api) - before
    assert gained == minor(made["amount"]) - minor(made["fee"]) == 119820


async def test_a_backorder_routed_and_delivered_completes_the_contract(
    operator: Api, clock: ManualClock, center
):
    where = await desk(operator)
    node, node_api = await register_node(
        operator, [where.origin, where.destination],
        [(where.origin, where.destination, where.code, "2.50")],
    )  # fmt: skip
    made = await funded_contract(operator, clock, where, 300, 4)
    await route(center[1])
    await _deliver(node, node_api, where.buyer_api, made["id"], 1, "3")
    by = (clock.now() + 5 * DAY).isoformat()
    chosen = await where.buyer_api.post(f"/v1/contracts/{made['id']}/shortage",
                                        {"settle": "backorder", "by": by})  # fmt: skip
    assert chosen.status == 200, chosen.body
    await route(center[1])  # attempt 2 for the rest
    second = (await task_of(node_api, made["id"], 2))["task"]
    await _deliver(node, node_api, where.buyer_api, made["id"], 2, "1")
    before = await available_minor(where.supplier_api)

    reply = await where.buyer_api.post(f"/v1/contracts/{made['id']}/accept")

    assert Decimal(second["quantity"]) == 1  # the rest
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "completed"
    gained = await available_minor(where.supplier_api) - before
    assert gained == minor(made["amount"]) - minor(made["fee"])
