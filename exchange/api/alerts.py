"""Operator alerts of the delivery subsystem (docs/delivery.md, "Alerts")."""

from __future__ import annotations

from exchange.api.endpoint import Context, Routes
from exchange.appkeys import CLOCK
from exchange.delivery import alerts as store
from exchange.messages.common import Page
from exchange.messages.delivery import Alert, AlertQuery
from exchange.messages.participants import Role
from exchange.pagination import decode_cursor, page_of

routes = Routes("delivery")
OPERATOR = [Role.OPERATOR]


@routes.route(
    "GET",
    "/v1/alerts",
    summary="Alerts for operators, newest first: open ones, or all with all=true",
    roles=OPERATOR,
    query=AlertQuery,
    response=Page[Alert],
)
async def list_alerts(ctx: Context) -> Page[Alert]:
    query: AlertQuery = ctx.query
    found = await store.list_alerts(
        ctx.runtime.pool, query.all, decode_cursor(query.cursor, int), query.limit + 1
    )
    return page_of(found, query.limit, lambda a: a.id)


@routes.route(
    "POST",
    "/v1/alerts/{alert_id}/acknowledge",
    summary="Acknowledge an alert (again: unchanged); a new alert of its kind and subject may"
    " then be raised",
    roles=OPERATOR,
    response=Alert,
)
async def acknowledge(ctx: Context) -> Alert:
    alert_id = ctx.int_param("alert_id")
    async with ctx.transaction() as conn:
        alert = await store.acknowledge(
            conn, alert_id, ctx.caller.participant_id, ctx.app[CLOCK].now()
        )
        await ctx.audit(conn, "alert.acknowledge", f"alert:{alert_id}")
    return alert
