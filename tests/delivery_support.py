"""Shared by the delivery tests: a center on a manual clock whose routing sweep the tests run
(`route`), regions, registered nodes with lanes, funded contracts, and node events.

A test module takes the fixtures by importing them (they override conftest's `center`):

    from tests.delivery_support import delivery_center, ledger_holds, manual_clock  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from exchange.appkeys import ROUTING
from exchange.clock import ManualClock
from exchange.delivery.routing import RoutingReport
from tests.conftest import settings_for, start_app
from tests.factories import Api, commodity_body, new_participant, unique
from tests.payments_support import BANK_SECRET, deposit, ledger_holds, manual_clock

__all__ = [
    "Desk",
    "delivery_center",
    "event",
    "funded_contract",
    "ledger_holds",
    "manual_clock",
    "new_region",
    "register_node",
    "route",
    "task_of",
]

OFFER_SECONDS = 300
SILENCE_SECONDS = 60


@pytest.fixture(scope="module", name="center")
async def delivery_center(
    database_url: str, clock: ManualClock
) -> AsyncIterator[tuple[str, web.Application]]:
    """The center on loopback, reading `clock`, taking bank notifications signed with
    BANK_SECRET; its routing sweep does not run by itself: tests call `route`."""
    settings = settings_for(
        database_url,
        bank_secret=BANK_SECRET,
        delivery_sweep_seconds=0,
        node_offer_seconds=OFFER_SECONDS,
        node_silence_seconds=SILENCE_SECONDS,
    )
    runner, url = await start_app(settings, clock)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


async def route(app: web.Application) -> RoutingReport:
    """One run of the routing sweep at the clock's time."""
    return await app[ROUTING].run_once()


async def new_region(operator: Api, prefix: str = "R") -> str:
    code = unique(f"{prefix}-")
    reply = await operator.post("/v1/regions", {"code": code, "name": code})
    assert reply.status == 201, reply.body
    return code


async def register_node(
    operator: Api,
    regions: list[str],
    lanes: list[tuple[str, str, str, str]] = (),  # type: ignore[assignment]
    capacity: int = 10,
    *,
    heartbeat: bool = True,
) -> tuple[dict[str, Any], Api]:
    """A node serving `regions` with `lanes` (origin, destination, commodity, rate), online by
    its heartbeat unless told otherwise: (node, a client holding its key)."""
    code = unique("N")
    body = {"code": code, "name": f"Node {code}", "regions": regions, "daily_capacity": capacity}
    reply = await operator.post("/v1/nodes", body)
    assert reply.status == 201, reply.body
    node, api = reply.body["node"], operator.with_key(reply.body["api_key"]["key"])
    if lanes:
        put = {"lanes": [{"origin_region": o, "destination_region": d, "commodity": c,
                          "rate": r, "transit_days": 2} for o, d, c, r in lanes]}  # fmt: skip
        reply = await api.call("PUT", f"/v1/nodes/{code}/lanes", put)
        assert reply.status == 200, reply.body
    if heartbeat:
        reply = await api.post(f"/v1/nodes/{code}/heartbeat")
        assert reply.status == 200, reply.body
    return node, api


@dataclass
class Desk:
    """A commodity, a supplier in `origin` and a buyer in `destination`."""

    code: str
    origin: str
    destination: str
    buyer: dict[str, Any]
    buyer_api: Api
    supplier: dict[str, Any]
    supplier_api: Api


async def desk(operator: Api, origin: str | None = None, destination: str | None = None) -> Desk:
    origin = origin or await new_region(operator, "O")
    destination = destination or await new_region(operator, "D")
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    buyer, buyer_api = await new_participant(operator, ["buyer"], home_region=destination)
    supplier, supplier_api = await new_participant(operator, ["supplier"], home_region=origin)
    return Desk(body["code"], origin, destination, buyer, buyer_api, supplier, supplier_api)


async def funded_contract(
    operator: Api, clock: ManualClock, where: Desk, price: int = 100, quantity: int = 4
) -> dict[str, Any]:
    """A contract between the desk's parties, paid from a bank deposit: `funded`."""
    sell = {"client_order_id": unique("d-"), "commodity": where.code, "side": "sell",
            "price": f"{price}.00", "quantity": str(quantity)}  # fmt: skip
    assert (await where.supplier_api.post("/v1/orders", sell)).status == 201
    buy = sell | {"client_order_id": unique("d-"), "side": "buy"}
    reply = await where.buyer_api.post("/v1/orders", buy)
    assert reply.status == 201, reply.body
    assert reply.body["status"] == "filled", reply.body
    contracts = (await where.buyer_api.get("/v1/contracts", commodity=where.code)).body["data"]
    made = next(c for c in contracts if c["status"] == "awaiting_payment")
    await deposit(operator, clock, where.buyer["id"], made["amount"])
    paid = await where.buyer_api.post(f"/v1/contracts/{made['id']}/pay")
    assert paid.status == 200, paid.body
    found = await where.buyer_api.get(f"/v1/contracts/{made['id']}")
    assert found.body["contract"]["status"] == "funded", found.body
    return found.body["contract"]  # type: ignore[no-any-return]


async def task_of(api: Api, contract_id: int, attempt: int = 1) -> dict[str, Any]:
    """The contract's delivery task as `api`'s holder sees it, with its timeline."""
    listed = (await api.get("/v1/delivery-tasks", limit="500")).body["data"]
    found = [t for t in listed if t["contract_id"] == contract_id and t["attempt"] == attempt]
    assert found, listed
    reply = await api.get(f"/v1/delivery-tasks/{found[0]['id']}")
    assert reply.status == 200, reply.body
    return reply.body  # type: ignore[no-any-return]


async def event(node_api: Api, task_id: int, kind: str, **fields: Any) -> Any:
    """Post a node's event; the reply."""
    return await node_api.post(f"/v1/delivery-tasks/{task_id}/events", {"type": kind} | fields)


PROOF = "ab" * 32
