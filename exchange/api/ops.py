"""Operations: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web

from exchange.api.endpoint import ENCODER, Context, Routes
from exchange.appkeys import DB_HEALTH, LIFECYCLE, METRICS, OPENAPI
from exchange.db.health import database_unavailable
from exchange.messages.common import Health, Readiness

routes = Routes("operations")


@routes.route("GET", "/healthz", summary="The process is alive", public=True, response=Health)
async def healthz(ctx: Context) -> Health:
    return Health(status="ok")


async def _database_check(ctx: Context) -> str:
    try:
        async with asyncio.timeout(2):
            await ctx.runtime.pool.fetchval("SELECT 1")
    except Exception as exc:  # any failure means not ready
        if database_unavailable(exc):
            ctx.app[DB_HEALTH].lost()
        return f"failing: {type(exc).__name__}"
    return "ok" if ctx.app[DB_HEALTH].available else "failing: unavailable"


def _books_check(ctx: Context) -> str:
    rebuilding = ctx.runtime.books.rebuilding()
    return "ok" if not rebuilding else "rebuilding: " + ", ".join(sorted(rebuilding))


@routes.route(
    "GET",
    "/readyz",
    summary="Ready to take traffic: database reachable, books loaded, start-up done, not draining",
    public=True,
    response=Readiness,
    errors=[503],
)
async def readyz(ctx: Context) -> web.Response:
    lifecycle = ctx.app[LIFECYCLE]
    checks = dict(lifecycle.checks)
    checks["startup"] = "ok" if lifecycle.started else "starting"
    checks["draining"] = "yes" if lifecycle.draining else "no"
    checks["database"] = await _database_check(ctx) if lifecycle.started else "unknown"
    checks["books"] = _books_check(ctx) if lifecycle.started else "unknown"
    ready = (
        lifecycle.started
        and not lifecycle.draining
        and checks["database"] == checks["books"] == "ok"
    )
    readiness = Readiness(status="ready" if ready else "unavailable", checks=checks)
    return web.Response(
        body=ENCODER.encode(readiness),
        status=200 if ready else 503,
        content_type="application/json",
    )


@routes.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    public=True,
    content_type="text/plain",
)
async def metrics(ctx: Context) -> web.Response:
    return web.Response(
        body=ctx.app[METRICS].render(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


@routes.route("GET", "/v1/openapi.json", summary="This API's OpenAPI 3.1 document", public=True)
async def openapi(ctx: Context) -> web.Response:
    return web.Response(body=ctx.app[OPENAPI], content_type="application/json")
