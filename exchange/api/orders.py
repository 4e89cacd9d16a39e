"""Orders: place, read, list, cancel, amend, batch; and the participant's fills."""

from __future__ import annotations

import asyncio

from aiohttp import web

from exchange.api.endpoint import ENCODER, Context, Owned, Routes
from exchange.audit import AuditRecord
from exchange.errors import ApiError, ForbiddenError
from exchange.messages.common import Page, Problem
from exchange.messages.orders import (
    AmendOrder,
    BatchResult,
    BatchResults,
    Fill,
    FillQuery,
    Order,
    OrderQuery,
    PlaceOrder,
    PlaceOrders,
)
from exchange.messages.participants import Role
from exchange.orders import entry
from exchange.orders.fills import list_fills
from exchange.orders.store import list_orders
from exchange.orders.views import order_from_row
from exchange.pagination import decode_time_cursor, time_page_of

routes = Routes("orders")
TRADERS = [Role.BUYER, Role.SUPPLIER]
READERS = [Role.BUYER, Role.SUPPLIER, Role.OPERATOR]  # operators see and cancel any order


def _order_response(order: Order, replayed: bool) -> web.Response:
    return web.Response(
        body=ENCODER.encode(order),
        status=200 if replayed else 201,
        content_type="application/json",
        headers={"Idempotent-Replayed": "true"} if replayed else None,
    )


@routes.route(
    "POST",
    "/v1/orders",
    summary="Place an offer (sell, supplier role) or demand (buy, buyer role). A retry with the"
    " same client_order_id and body answers 200 with the original order",
    roles=TRADERS,
    body=PlaceOrder,
    response=Order,
    status=201,
    errors=[409, 503],
)
async def place_order(ctx: Context) -> web.Response:
    order, replayed = await entry.place(ctx.runtime.books, ctx.runtime.pool, ctx.caller, ctx.body)
    return _order_response(order, replayed)


async def _place_one(ctx: Context, index: int, body: PlaceOrder) -> BatchResult:
    try:
        order, replayed = await entry.place(ctx.runtime.books, ctx.runtime.pool, ctx.caller, body)
    except ApiError as exc:
        problem = Problem(
            title=exc.title, status=exc.status, code=exc.code, detail=exc.detail,
            request_id=ctx.request_id,
        )  # fmt: skip
        return BatchResult(index=index, status=exc.status, error=problem)
    return BatchResult(index=index, status=200 if replayed else 201, order=order)


@routes.route(
    "POST",
    "/v1/orders/batch",
    summary="Place up to 1,000 orders in one call (a supplier publishing its catalogue);"
    " one result per order, in request order, each with the status it would have alone",
    roles=TRADERS,
    body=PlaceOrders,
    response=BatchResults,
    errors=[503],
)
async def place_orders(ctx: Context) -> BatchResults:
    body: PlaceOrders = ctx.body
    results = await asyncio.gather(
        *(_place_one(ctx, index, order) for index, order in enumerate(body.orders))
    )
    return BatchResults(results=list(results))


def _whose(ctx: Context, query: OrderQuery) -> int | None:
    """Whose orders a list shows: the caller's; an operator's choice (None: everyone's)."""
    if ctx.caller.is_operator:
        return query.participant_id
    if query.participant_id not in (None, ctx.caller.participant_id):
        raise ForbiddenError("only operators list other participants' orders", code="ROLE_REQUIRED")
    return ctx.caller.participant_id


@routes.route(
    "GET",
    "/v1/orders",
    summary="The caller's orders, newest first; for operators everyone's, or one"
    " participant's with `participant_id`",
    roles=READERS,
    query=OrderQuery,
    response=Page[Order],
)
async def list_own_orders(ctx: Context) -> Page[Order]:
    query: OrderQuery = ctx.query
    books = ctx.runtime.books
    commodity_id = await books.filter_id(query.commodity)
    rows = await list_orders(
        ctx.runtime.pool, _whose(ctx, query), decode_time_cursor(query.cursor),
        query.limit + 1, query.status, commodity_id, query.side,
    )  # fmt: skip
    views = [(row, order_from_row(books.spec_by_id(row["commodity_id"]), row)) for row in rows]
    page = time_page_of(views, query.limit, lambda v: (v[0]["created_at"], v[0]["id"]))
    return Page(data=[view for _, view in page.data], next_cursor=page.next_cursor,
                has_next=page.has_next)  # fmt: skip


@routes.route(
    "GET", "/v1/orders/{order_id}", summary="One of the caller's orders (operators: any order)",
    roles=READERS, owned=Owned("order_id", operators=True), response=Order,
)  # fmt: skip
async def get_order(ctx: Context) -> Order:
    return await entry.get_order(
        ctx.runtime.books, ctx.runtime.pool, ctx.caller, ctx.int_param("order_id")
    )


@routes.route(
    "DELETE",
    "/v1/orders/{order_id}",
    summary="Cancel the open remainder of an order. Operators may cancel any order: its"
    " reason is then `by_operator`, and the audit trail records who did it",
    roles=READERS,
    response=Order,
    errors=[409, 503],
    owned=Owned("order_id", operators=True),
)
async def cancel_order(ctx: Context) -> Order:
    order_id = ctx.int_param("order_id")
    audit = AuditRecord(
        ctx.caller.participant_id, "order.cancel", f"order:{order_id}", {}, ctx.request_id
    )
    return await entry.cancel(ctx.runtime.books, ctx.runtime.pool, ctx.caller, order_id, audit)


@routes.route(
    "PATCH",
    "/v1/orders/{order_id}",
    summary="Amend price and/or open quantity. Reducing the quantity keeps time priority;"
    " a price change or an increase sends the order to the back of its level",
    roles=TRADERS,
    body=AmendOrder,
    response=Order,
    errors=[409, 503],
    owned=Owned("order_id"),
)
async def amend_order(ctx: Context) -> Order:
    return await entry.amend(
        ctx.runtime.books,
        ctx.runtime.pool,
        ctx.caller,
        ctx.int_param("order_id"),
        ctx.body,
    )


@routes.route(
    "GET",
    "/v1/fills",
    summary="The caller's own trades, newest first",
    roles=TRADERS,
    query=FillQuery,
    response=Page[Fill],
)
async def get_fills(ctx: Context) -> Page[Fill]:
    query: FillQuery = ctx.query
    return await list_fills(ctx.runtime.pool, ctx.runtime.books, ctx.caller.participant_id, query)
