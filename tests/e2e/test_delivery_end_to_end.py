"""The whole delivery with real processes: the center on loopback (the real clock), the bank
simulator as a process and node agents as processes (`exchange node-agent --simulate`) for
nodes serving different regions. A trade is paid at the bank, routed to the node serving the
buyer's region, delivered with the buyer's code (this test, as the buyer's receiver, reads it
from the task as the buyer and leaves it in the handoff folder the driver reads), accepted,
and the supplier's available funds rise by exactly the amount less the fee; a node whose agent
stops with a task accepted but not picked up loses the task to the next node; seeded drivers
fail a task (it moves on) and deliver one short, as the center records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from exchange.delivery.handoff import leave_code
from tests.bank_e2e_support import Party, contract_of, party
from tests.banksim import BankSim
from tests.conftest import settings_for, start_app
from tests.factories import OPERATOR_KEY, Api, unique
from tests.nodeagent import NodeAgent
from tests.outbound_support import eventually
from tests.payments_support import balance, commodity, contract

SILENCE = 1.5  # seconds without a heartbeat or socket before a node counts as silent
WITHIN = 30.0


@dataclass
class World:
    url: str
    operator: Api
    bank: BankSim
    tmp: Path
    handoff: Path


@pytest.fixture(scope="module")
async def world(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, http: ClientSession
) -> AsyncIterator[World]:
    """The center (real clock, sweeping often) talking to the bank simulator as a process."""
    tmp = tmp_path_factory.mktemp("delivery-e2e")
    bank = BankSim(tmp)
    settings = settings_for(
        database_url, bank_url=bank.url, bank_api_key=bank.api_key, bank_secret=bank.secret,
        delivery_sweep_seconds=0.1, node_silence_seconds=SILENCE, node_offer_seconds=30,
    )  # fmt: skip
    runner, url = await start_app(settings)
    try:
        bank.notify_url = f"{url}/v1/bank/notifications"
        await bank.start()
        try:
            yield World(url, Api(http, url, OPERATOR_KEY), bank, tmp, tmp / "handoff")
        finally:
            await bank.stop()
    finally:
        await runner.cleanup()


async def region(operator: Api, prefix: str) -> str:
    code = unique(prefix)
    assert (await operator.post("/v1/regions", {"code": code, "name": code})).status == 201
    return code


async def node(
    world: World, regions: list[str], lanes: list[tuple[str, str, str, str]]
) -> tuple[str, str]:
    """Register a node serving `regions` with `lanes` (origin, destination, commodity, rate);
    returns its code and key."""
    code = unique("N").replace("-", "")[:16].upper()
    body = {"code": code, "name": f"Node {code}", "regions": regions, "daily_capacity": 50}
    made = await world.operator.post("/v1/nodes", body)
    assert made.status == 201, made.body
    key = made.body["api_key"]["key"]
    as_node = world.operator.with_key(key)
    lane_bodies = [
        {"origin_region": o, "destination_region": d, "commodity": c, "rate": r,
         "transit_days": 2}
        for o, d, c, r in lanes
    ]  # fmt: skip
    put = await as_node.call("PUT", f"/v1/nodes/{code}/lanes", {"lanes": lane_bodies})
    assert put.status == 200, put.body
    return code, key


async def agent(world: World, code: str, key: str, **options: Any) -> NodeAgent:
    """A node agent process for `code`, simulating unless told otherwise, once the center sees
    the node online."""
    options.setdefault("simulate", True)
    handoff = world.handoff if options["simulate"] else None
    started = NodeAgent(world.tmp, world.url, code, key, handoff=handoff, heartbeat=0.2, **options)
    await started.start()

    async def online() -> bool:
        found = await world.operator.get(f"/v1/nodes/{code}")
        assert started.process is not None
        assert started.process.poll() is None, started.text()
        return bool(found.status == 200 and found.body.get("node", found.body).get("online"))

    await eventually(online, f"node {code} online", WITHIN)
    return started


def node_of(task: dict[str, Any]) -> str | None:
    return task["node"]  # type: ignore[no-any-return]


async def task_of(buyer: Party, contract_id: int, status: str | None = None) -> dict[str, Any]:
    """The contract's (latest) task as the buyer sees it, once there is one (in `status`)."""
    return (await detail_of(buyer, contract_id, status))["task"]  # type: ignore[no-any-return]


async def detail_of(buyer: Party, contract_id: int, status: str | None = None) -> dict[str, Any]:
    """`{"task", "timeline"}` of the contract's (latest) task, once there is one (in
    `status`)."""

    async def check() -> dict[str, Any] | None:
        listed = await buyer.api.get("/v1/delivery-tasks")
        assert listed.status == 200, listed.body
        for task in listed.body["data"]:
            if task["contract_id"] == contract_id and status in (None, task["status"]):
                detail = await buyer.api.get(f"/v1/delivery-tasks/{task['id']}")
                assert detail.status == 200, detail.body
                return detail.body  # type: ignore[no-any-return]
        return None

    found: dict[str, Any] = await eventually(check, f"task of {contract_id} {status}", WITHIN)
    return found


async def paid_contract(world: World, buyer: Party, supplier: Party, code: str) -> dict[str, Any]:
    made = await contract(buyer.api, supplier.api, code, 1000, quantity=4)
    await buyer.pay(world.bank, made["amount"], made["payment_reference"])
    assert (await contract_of(buyer.api, made["id"]))["status"] in ("funded", "in_delivery")
    return made


async def hand_over_code(world: World, buyer: Party, task: dict[str, Any]) -> None:
    """As the buyer's receiver at the door: the code from the task, seen as the buyer, into
    the handoff folder (the driver reads it there)."""
    code = (await buyer.api.get(f"/v1/delivery-tasks/{task['id']}")).body["task"]
    assert code["delivery_code"], code
    leave_code(world.handoff, task["id"], code["delivery_code"], "Goods-in, dock 3")


async def contract_in(api: Api, contract_id: int, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await contract_of(api, contract_id)
        return found if found["status"] == status else None

    found: dict[str, Any] = await eventually(check, f"contract {contract_id} {status}", WITHIN)
    return found


async def test_a_paid_trade_is_delivered_by_the_node_of_its_region_and_accepted(
    world: World,
) -> None:
    operator, origin = world.operator, await region(world.operator, "EU-ORIGIN-")
    north, south = await region(operator, "EU-NORTH-"), await region(operator, "EU-SOUTH-")
    code = await commodity(operator)
    north_node = await node(world, [north], [(origin, north, code, "12.00")])
    south_node = await node(world, [south], [(origin, south, code, "9.00")])
    agents = [await agent(world, *north_node), await agent(world, *south_node)]
    try:
        supplier = await party(operator, world.bank, ["supplier"], "0.00", origin)
        buyer = await party(operator, world.bank, ["buyer"], "10000.00", north)
        other_buyer = await party(operator, world.bank, ["buyer"], "10000.00", south)
        before = Decimal((await balance(supplier.api))["available"])

        made = await paid_contract(world, buyer, supplier, code)
        task = await task_of(buyer, made["id"], "in_transit")
        assert node_of(task) == north_node[0]
        assert (task["origin_region"], task["destination_region"]) == (origin, north)
        await hand_over_code(world, buyer, task)
        await contract_in(buyer.api, made["id"], "delivered")
        done = await task_of(buyer, made["id"], "delivered")
        assert Decimal(done["delivered_quantity"]) == 4
        assert len(done["proof_sha256"]) == 64
        assert done["receiver_name"] == "Goods-in, dock 3"

        second = await paid_contract(world, other_buyer, supplier, code)
        elsewhere = await task_of(other_buyer, second["id"], "in_transit")
        assert node_of(elsewhere) == south_node[0]
        await hand_over_code(world, other_buyer, elsewhere)
        await contract_in(other_buyer.api, second["id"], "delivered")
        assert f"task {elsewhere['id']}" not in agents[0].text()  # the north node never saw it

        # delivered is not paid: the money waits in escrow for the buyer's word
        assert Decimal((await balance(supplier.api))["available"]) == before
        accepted = await buyer.api.post(f"/v1/contracts/{made['id']}/accept")
        assert accepted.status == 200, accepted.body
        assert (await contract_of(buyer.api, made["id"]))["status"] == "completed"
        after = Decimal((await balance(supplier.api))["available"])
        assert after - before == Decimal(made["amount"]) - Decimal(made["fee"])
        assert (made["amount"], made["fee"]) == ("4000.00", "6.00")  # 15 bps: a fee is taken
    finally:
        for running in agents:
            assert await running.stop() == 0, running.text()


async def test_a_stopped_agents_unstarted_task_moves_on_to_the_next_node(world: World) -> None:
    operator, origin = world.operator, await region(world.operator, "EU-ORIGIN-")
    east = await region(operator, "EU-EAST-")
    code = await commodity(operator)
    # the cheaper node gets the offer first; its agent is worked by hand
    slow = await node(world, [east], [(origin, east, code, "5.00")])
    spare = await node(world, [east], [(origin, east, code, "8.00")])
    by_hand = await agent(world, *slow, simulate=False)
    simulated = await agent(world, *spare)
    try:
        supplier = await party(operator, world.bank, ["supplier"], "0.00", origin)
        buyer = await party(operator, world.bank, ["buyer"], "10000.00", east)
        made = await paid_contract(world, buyer, supplier, code)
        offered = await task_of(buyer, made["id"], "assigned")
        assert node_of(offered) == slow[0]
        await by_hand.wait_for(rf"offered: task {offered['id']} ", WITHIN)
        by_hand.send(f"accept {offered['id']}")
        await by_hand.wait_for(f"ok: task {offered['id']} accepted", WITHIN)
        assert (await contract_of(buyer.api, made["id"]))["status"] == "in_delivery"

        assert await by_hand.stop() == 0  # gone before picking anything up

        moved_on = await task_of(buyer, made["id"], "in_transit")
        assert node_of(moved_on) == spare[0]
        await hand_over_code(world, buyer, moved_on)
        await contract_in(buyer.api, made["id"], "delivered")
        alerts = (await operator.get("/v1/alerts", all="true")).body["data"]
        assert any(a["kind"] == "node_silent" and slow[0] in a["subject"] for a in alerts), alerts
    finally:
        await by_hand.stop()
        assert await simulated.stop() == 0, simulated.text()


async def test_seeded_drivers_report_a_shortage_and_a_failure_the_center_records(
    world: World,
) -> None:
    operator, origin = world.operator, await region(world.operator, "EU-ORIGIN-")
    west = await region(operator, "EU-WEST-")
    code = await commodity(operator)
    failing = await node(world, [west], [(origin, west, code, "3.00")])  # cheapest: first
    short = await node(world, [west], [(origin, west, code, "7.00")])
    agents = [
        await agent(world, *failing, seed=1, extra=["--failure-rate", "1", "--shortage-rate", "0"]),
        await agent(world, *short, seed=1, extra=["--shortage-rate", "1", "--failure-rate", "0"]),
    ]
    try:
        supplier = await party(operator, world.bank, ["supplier"], "0.00", origin)
        buyer = await party(operator, world.bank, ["buyer"], "10000.00", west)
        made = await paid_contract(world, buyer, supplier, code)

        # after the first node failed
        detail = await detail_of(buyer, made["id"], "in_transit")
        carried = detail["task"]
        assert node_of(carried) == short[0]
        kinds = [(entry["kind"], entry["node"]) for entry in detail["timeline"]]
        assert ("failed", failing[0]) in kinds
        assert ("shortage", short[0]) in kinds
        available = Decimal(carried["available_quantity"])
        assert 0 < available < 4
        await hand_over_code(world, buyer, carried)
        await contract_in(buyer.api, made["id"], "delivered")
        done = await task_of(buyer, made["id"], "delivered")
        assert Decimal(done["delivered_quantity"]) == available  # delivered short
        alerts = (await operator.get("/v1/alerts", all="true")).body["data"]
        assert any(a["kind"] == "task_failed" and a["subject"] == f"task:{done['id']}"
                   for a in alerts), alerts  # fmt: skip
    finally:
        for running in agents:
            assert await running.stop() == 0, running.text()
