"""Nodes and lanes: registration with the node's own participant and key, patching, heartbeat
and online, lanes replaced by the node (or operators) and published to everyone."""

from __future__ import annotations

from datetime import timedelta

from tests.delivery_support import (  # noqa: F401
    SILENCE_SECONDS,
    delivery_center,
    ledger_holds,
    manual_clock,
    new_region,
    register_node,
)
from tests.factories import commodity_body, new_participant, unique


async def test_registering_a_node_makes_its_participant_and_key(operator):
    region = await new_region(operator)
    code = unique("REG")
    body = {"code": code, "name": "North hub", "regions": [region], "daily_capacity": 5}

    reply = await operator.post("/v1/nodes", body)

    assert reply.status == 201, reply.body
    node = reply.body["node"]
    assert node["code"] == code
    assert node["regions"] == [region]
    assert node["daily_capacity"] == 5
    assert node["status"] == "active"
    assert node["online"] is False
    assert node["active_tasks"] == 0
    node_api = operator.with_key(reply.body["api_key"]["key"])
    me = (await node_api.get("/v1/me")).body["participant"]
    assert me["id"] == node["participant_id"]
    assert me["roles"] == ["node"]
    assert me["registration_number"] == f"NODE-{code}"
    again = await operator.post("/v1/nodes", body)
    assert again.status == 409
    assert again.code == "DUPLICATE_NODE"


async def test_a_node_needs_known_regions_and_an_operator(operator):
    unknown = await operator.post(
        "/v1/nodes", {"code": unique("X"), "name": "x", "regions": ["NOWHERE-1"],
                      "daily_capacity": 1},
    )  # fmt: skip
    _, buyer = await new_participant(operator, ["buyer"])
    region = await new_region(operator)
    body = {"code": unique("X"), "name": "x", "regions": [region], "daily_capacity": 1}
    refused = await buyer.post("/v1/nodes", body)

    assert unknown.status == 422
    assert unknown.code == "UNKNOWN_REGION"
    assert refused.status == 403
    assert (await operator.get(f"/v1/nodes/{body['code']}")).status == 404


async def test_heartbeat_makes_a_node_online_until_it_falls_silent(operator, clock):
    region = await new_region(operator)
    node, node_api = await register_node(operator, [region], heartbeat=False)
    code = node["code"]
    assert (await operator.get(f"/v1/nodes/{code}")).body["online"] is False

    beat = await node_api.post(f"/v1/nodes/{code}/heartbeat")
    assert beat.status == 200, beat.body
    assert beat.body["online"] is True
    clock.advance(timedelta(seconds=SILENCE_SECONDS + 1))
    assert (await operator.get(f"/v1/nodes/{code}")).body["online"] is False
    # another node cannot beat for it
    _, other_api = await register_node(operator, [region])
    assert (await other_api.post(f"/v1/nodes/{code}/heartbeat")).status == 404


async def test_an_operator_patches_a_node(operator):
    region, other = await new_region(operator), await new_region(operator)
    node, _ = await register_node(operator, [region])

    reply = await operator.patch(
        f"/v1/nodes/{node['code']}",
        {"name": "Renamed", "regions": [other, region], "daily_capacity": 7, "status": "suspended"},
    )

    assert reply.status == 200, reply.body
    assert reply.body["name"] == "Renamed"
    assert reply.body["regions"] == sorted([other, region])
    assert reply.body["daily_capacity"] == 7
    assert reply.body["status"] == "suspended"
    listed = (await operator.get("/v1/nodes")).body["data"]
    assert any(n["code"] == node["code"] and n["status"] == "suspended" for n in listed)


async def test_lanes_are_replaced_by_the_node_and_public(operator, anonymous):
    origin, destination = await new_region(operator), await new_region(operator)
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    commodity = body["code"]
    node, node_api = await register_node(operator, [origin, destination])
    path = f"/v1/nodes/{node['code']}/lanes"
    first = {"lanes": [{"origin_region": origin, "destination_region": destination,
                        "commodity": commodity, "rate": "12.50", "transit_days": 3}]}  # fmt: skip
    second = {"lanes": [{"origin_region": destination, "destination_region": origin,
                         "commodity": commodity, "rate": "9", "transit_days": 1}]}  # fmt: skip

    assert (await node_api.call("PUT", path, first)).status == 200
    replaced = await node_api.call("PUT", path, second)
    public = await anonymous.get("/v1/lanes", commodity=commodity)

    assert replaced.status == 200, replaced.body
    assert public.status == 200, public.body
    assert public.body["data"] == [
        {"node": node["code"], "origin_region": destination, "destination_region": origin,
         "commodity": commodity, "currency": "EUR", "rate": "9.00", "transit_days": 1,
         "updated_at": public.body["data"][0]["updated_at"]}
    ]  # fmt: skip
    filtered = await anonymous.get("/v1/lanes", commodity=commodity, origin_region=origin)
    assert filtered.body["data"] == []


async def test_bad_lanes_are_refused_and_change_nothing(operator, anonymous):
    origin = await new_region(operator)
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", body)).status == 201
    node, node_api = await register_node(operator, [origin])
    path = f"/v1/nodes/{node['code']}/lanes"
    lane = {"origin_region": origin, "destination_region": origin, "commodity": body["code"],
            "rate": "1.00", "transit_days": 0}  # fmt: skip
    assert (await operator.call("PUT", path, {"lanes": [lane]})).status == 200

    twice = await node_api.call("PUT", path, {"lanes": [lane, lane]})
    fine_cents = await node_api.call("PUT", path, {"lanes": [lane | {"rate": "1.001"}]})
    no_such = await node_api.call("PUT", path, {"lanes": [lane | {"commodity": "NOPE-1"}]})
    _, other_api = await register_node(operator, [origin])
    foreign = await other_api.call("PUT", path, {"lanes": []})

    assert (twice.status, twice.code) == (422, "DUPLICATE_LANE")
    assert (fine_cents.status, fine_cents.code) == (422, "INVALID_AMOUNT")
    assert (no_such.status, no_such.code) == (422, "UNKNOWN_COMMODITY")
    assert (foreign.status, foreign.code) == (404, "UNKNOWN_NODE")
    public = await anonymous.get("/v1/lanes", commodity=body["code"])
    assert [(x["node"], x["rate"]) for x in public.body["data"]] == [(node["code"], "1.00")]
