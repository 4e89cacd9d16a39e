"""Regional distribution nodes and their public freight lanes (docs/delivery.md)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from exchange.api.endpoint import ANY_PARTICIPANT, Context, Owned, Routes
from exchange.appkeys import CLOCK, DB_HEALTH, LIFECYCLE, ROUTING, RUNTIME, SETTINGS
from exchange.delivery import nodes as store
from exchange.delivery.errors import UnknownNodeError
from exchange.errors import DatabaseUnavailableError, UnavailableError
from exchange.messages.delivery import (
    LaneList,
    LaneQuery,
    Node,
    NodeList,
    NodeRegistered,
    PutLanes,
    RegisterNode,
    UpdateNode,
)
from exchange.messages.participants import Role

routes = Routes("delivery")
OPERATOR = [Role.OPERATOR]


def presence(ctx: Context) -> store.Presence:
    """What decides, now, whether a node is online."""
    return store.Presence(
        now=ctx.app[CLOCK].now(),
        silence=timedelta(seconds=ctx.app[SETTINGS].node_silence_seconds),
        connected=ctx.app[ROUTING].connected(),
    )


async def _own_node(ctx: Context, *, operators: bool) -> asyncpg.Record:
    """The node named in the path, if the caller is that node (or, with `operators`, an
    operator); anyone else gets 404, as if it did not exist."""
    row = await store.node_row(ctx.runtime.pool, ctx.param("node_code"), presence(ctx))
    if row["participant_id"] != ctx.caller.participant_id and not (
        operators and ctx.caller.is_operator
    ):
        raise UnknownNodeError(f"node {row['code']!r} does not exist")
    return row


@routes.route(
    "POST",
    "/v1/nodes",
    summary="Register a regional distribution node, its own participant (role node) and that"
    " participant's first API key",
    roles=OPERATOR,
    body=RegisterNode,
    response=NodeRegistered,
    status=201,
    errors=[409],
)
async def register_node(ctx: Context) -> NodeRegistered:
    body: RegisterNode = ctx.body
    async with ctx.transaction() as conn:
        node, key = await store.register(conn, body, presence(ctx))
        await ctx.audit(conn, "node.register", f"node:{node.code}",
                        {"participant_id": node.participant_id})  # fmt: skip
    return NodeRegistered(node=node, api_key=key)


@routes.route(
    "GET",
    "/v1/nodes",
    summary="Every node, by code, with whether it is online and its load",
    roles=ANY_PARTICIPANT,
    response=NodeList,
)
async def list_nodes(ctx: Context) -> NodeList:
    return NodeList(data=await store.list_nodes(ctx.runtime.pool, presence(ctx)))


@routes.route(
    "GET",
    "/v1/nodes/{node_code}",
    summary="One node",
    roles=ANY_PARTICIPANT,
    response=Node,
)
async def get_node(ctx: Context) -> Node:
    return await store.get_node(ctx.runtime.pool, ctx.param("node_code"), presence(ctx))


@routes.route(
    "PATCH",
    "/v1/nodes/{node_code}",
    summary="Change a node's name, regions, daily capacity or status (a suspended node is"
    " offered no task)",
    roles=OPERATOR,
    body=UpdateNode,
    response=Node,
    errors=[409],
)
async def update_node(ctx: Context) -> Node:
    code = ctx.param("node_code")
    async with ctx.transaction() as conn:
        node = await store.update(conn, code, ctx.body, presence(ctx))
        await ctx.audit(conn, "node.update", f"node:{code}")
    return node


@routes.route(
    "POST",
    "/v1/nodes/{node_code}/heartbeat",
    summary="The node itself says it is alive (online while its heartbeat is younger than"
    " node_silence_seconds)",
    roles=[Role.NODE],
    owned=Owned("node_code"),
    response=Node,
)
async def heartbeat(ctx: Context) -> Node:
    row = await _own_node(ctx, operators=False)
    now = ctx.app[CLOCK].now()
    await store.touch(ctx.runtime.pool, [row["participant_id"]], now)
    return await store.get_node(ctx.runtime.pool, row["code"], presence(ctx))


@routes.route(
    "PUT",
    "/v1/nodes/{node_code}/lanes",
    summary="Replace the node's freight lanes (the node itself, or operators)",
    roles=[Role.NODE, Role.OPERATOR],
    owned=Owned("node_code", operators=True),
    body=PutLanes,
    response=LaneList,
    errors=[409],
)
async def put_lanes(ctx: Context) -> LaneList:
    row = await _own_node(ctx, operators=True)
    body: PutLanes = ctx.body
    async with ctx.transaction() as conn:
        lanes = await store.put_lanes(conn, row["id"], body.lanes, ctx.app[CLOCK].now())
        await ctx.audit(conn, "node.lanes", f"node:{row['code']}", {"lanes": len(lanes)})
    return LaneList(data=lanes)


@routes.route(
    "GET",
    "/v1/lanes",
    summary="Every freight lane of every active node (public market information): origin and"
    " destination region, commodity, rate per whole unit, transit days",
    public=True,
    query=LaneQuery,
    response=LaneList,
    errors=[503],
)
async def list_lanes(ctx: Context) -> LaneList:
    if not ctx.app[LIFECYCLE].started:
        raise UnavailableError("the center is starting; retry shortly", code="STARTING")
    if not ctx.app[DB_HEALTH].available:
        raise DatabaseUnavailableError()
    return LaneList(data=await store.list_lanes(ctx.app[RUNTIME].pool, ctx.query))
