"""Commodities and regions: operators write, every participant reads."""

from __future__ import annotations

from typing import Any

import msgspec

from exchange import reference as store
from exchange.api.endpoint import ANY_PARTICIPANT, Context, Routes
from exchange.messages.common import Page, PageQuery
from exchange.messages.participants import Role
from exchange.messages.reference import (
    Commodity,
    CreateCommodity,
    CreateRegion,
    Region,
    TradingStatus,
    UpdateCommodity,
    UpdateRegion,
)
from exchange.orders.entry import set_halted
from exchange.pagination import decode_cursor, page_of

routes = Routes("reference data")
OPERATOR = [Role.OPERATOR]


def _given(body: CreateCommodity | UpdateCommodity) -> dict[str, Any]:
    """The fields a request set (null included), for the audit trail."""
    return {k: v for k, v in msgspec.structs.asdict(body).items() if v is not msgspec.UNSET}


@routes.route(
    "POST",
    "/v1/commodities",
    summary="List a new commodity for trading",
    roles=OPERATOR,
    body=CreateCommodity,
    response=Commodity,
    status=201,
    errors=[409],
)
async def create_commodity(ctx: Context) -> Commodity:
    async with ctx.transaction() as conn:
        commodity = await store.create_commodity(conn, ctx.body)
        await ctx.audit(conn, "commodity.create", f"commodity:{commodity.code}", _given(ctx.body))
    await ctx.runtime.books.writer(commodity.code)  # its book is open for orders from now on
    return commodity


@routes.route(
    "GET",
    "/v1/commodities",
    summary="Every commodity, by code",
    query=PageQuery,
    response=Page[Commodity],
    roles=ANY_PARTICIPANT,
)
async def list_commodities(ctx: Context) -> Page[Commodity]:
    query: PageQuery = ctx.query
    rows = await store.list_commodities(
        ctx.runtime.pool, decode_cursor(query.cursor, str), query.limit + 1
    )
    return page_of(rows, query.limit, lambda c: c.code)


@routes.route(
    "GET",
    "/v1/commodities/{code}",
    summary="One commodity",
    roles=ANY_PARTICIPANT,
    response=Commodity,
)
async def get_commodity(ctx: Context) -> Commodity:
    return await store.get_commodity(ctx.runtime.pool, ctx.param("code"))


@routes.route(
    "PATCH",
    "/v1/commodities/{code}",
    summary="Change a commodity's name, unit, minimum quantity, fee, review threshold, payment"
    " term, price band or maximum order quantity (tick and lot size are fixed)",
    roles=OPERATOR,
    body=UpdateCommodity,
    response=Commodity,
)
async def update_commodity(ctx: Context) -> Commodity:
    code = ctx.param("code")
    async with ctx.transaction() as conn:
        commodity = await store.update_commodity(conn, code, ctx.body)
        await ctx.audit(conn, "commodity.update", f"commodity:{code}", _given(ctx.body))
    for spec in await store.load_specs(ctx.runtime.pool):
        if spec.code == code:
            ctx.runtime.books.refresh(spec)
    return commodity


async def _set_status(ctx: Context, status: TradingStatus) -> Commodity:
    code = ctx.param("code")
    # through the book's journal, so a replay halts and resumes at the same point
    await set_halted(ctx.runtime.books, code, status is TradingStatus.HALTED)
    async with ctx.transaction() as conn:
        await ctx.audit(conn, f"commodity.{status}", f"commodity:{code}")
    return await store.get_commodity(ctx.runtime.pool, code)


@routes.route(
    "POST",
    "/v1/commodities/{code}/halt",
    summary="Halt trading in a commodity",
    roles=OPERATOR,
    response=Commodity,
)
async def halt_commodity(ctx: Context) -> Commodity:
    return await _set_status(ctx, TradingStatus.HALTED)


@routes.route(
    "POST",
    "/v1/commodities/{code}/resume",
    summary="Resume trading in a halted commodity",
    roles=OPERATOR,
    response=Commodity,
)
async def resume_commodity(ctx: Context) -> Commodity:
    return await _set_status(ctx, TradingStatus.ACTIVE)


@routes.route(
    "POST",
    "/v1/regions",
    summary="Add a delivery region",
    roles=OPERATOR,
    body=CreateRegion,
    response=Region,
    status=201,
    errors=[409],
)
async def create_region(ctx: Context) -> Region:
    async with ctx.transaction() as conn:
        region = await store.create_region(conn, ctx.body)
        await ctx.audit(conn, "region.create", f"region:{region.code}")
    return region


@routes.route(
    "GET",
    "/v1/regions",
    summary="Every region, by code",
    query=PageQuery,
    response=Page[Region],
    roles=ANY_PARTICIPANT,
)
async def list_regions(ctx: Context) -> Page[Region]:
    query: PageQuery = ctx.query
    rows = await store.list_regions(
        ctx.runtime.pool, decode_cursor(query.cursor, str), query.limit + 1
    )
    return page_of(rows, query.limit, lambda r: r.code)


@routes.route(
    "GET", "/v1/regions/{code}", summary="One region", roles=ANY_PARTICIPANT, response=Region
)
async def get_region(ctx: Context) -> Region:
    return await store.get_region(ctx.runtime.pool, ctx.param("code"))


@routes.route(
    "PATCH",
    "/v1/regions/{code}",
    summary="Rename a region",
    roles=OPERATOR,
    body=UpdateRegion,
    response=Region,
)
async def rename_region(ctx: Context) -> Region:
    code = ctx.param("code")
    body: UpdateRegion = ctx.body
    async with ctx.transaction() as conn:
        region = await store.rename_region(conn, code, body.name)
        await ctx.audit(conn, "region.rename", f"region:{code}", {"name": body.name})
    return region
