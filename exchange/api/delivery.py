"""Delivery tasks: the nodes' events, and tracking for buyer and supplier (docs/delivery.md)."""

from __future__ import annotations

from exchange.api.endpoint import Context, Owned, Routes
from exchange.api.nodes import presence
from exchange.appkeys import MARKET, ROUTING
from exchange.delivery import views
from exchange.delivery.errors import WrongDeliveryCodeError
from exchange.delivery.tasks import NodeCall, apply_event
from exchange.messages.common import Page
from exchange.messages.delivery import DeliveryTask, TaskDetail, TaskEvent, TaskQuery
from exchange.messages.participants import Role
from exchange.pagination import decode_time_cursor, time_page_of

routes = Routes("delivery")
VIEWERS = [Role.OPERATOR, Role.BUYER, Role.SUPPLIER, Role.NODE]


@routes.route(
    "GET",
    "/v1/delivery-tasks",
    summary="Delivery tasks, newest first: a node's own (offered to it or carried by it), the"
    " tasks of a buyer's or supplier's contracts, all of them for operators",
    roles=VIEWERS,
    query=TaskQuery,
    response=Page[DeliveryTask],
)
async def list_tasks(ctx: Context) -> Page[DeliveryTask]:
    query: TaskQuery = ctx.query
    caller = ctx.caller
    tasks = await views.list_tasks(
        ctx.runtime.pool,
        caller.participant_id,
        caller.is_operator,
        None if query.status is None else str(query.status),
        decode_time_cursor(query.cursor),
        query.limit + 1,
    )
    return time_page_of(tasks, query.limit, lambda t: (t.created_at, t.id))


@routes.route(
    "GET",
    "/v1/delivery-tasks/{task_id}",
    summary="A delivery task and its timeline (the delivery code is shown to the buyer only)",
    roles=VIEWERS,
    owned=Owned("task_id", operators=True),
    response=TaskDetail,
)
async def get_task(ctx: Context) -> TaskDetail:
    caller = ctx.caller
    pool = ctx.runtime.pool
    row = await views.visible_task(
        pool, ctx.int_param("task_id"), caller.participant_id, caller.is_operator
    )
    return TaskDetail(
        task=views.task_from_row(row, caller.participant_id),
        timeline=await views.timeline(pool, row["id"]),
    )


@routes.route(
    "POST",
    "/v1/delivery-tasks/{task_id}/events",
    summary="The task's node reports: accepted, rejected, picked_up, in_transit, shortage,"
    " delivered (with the buyer's delivery code) or failed; an event that does not follow from"
    " the task's status is 409",
    roles=[Role.NODE],
    owned=Owned("task_id"),
    body=TaskEvent,
    response=DeliveryTask,
    errors=[409],
)
async def post_event(ctx: Context) -> DeliveryTask:
    task_id = ctx.int_param("task_id")
    call = NodeCall(
        participant_id=ctx.caller.participant_id,
        request_id=ctx.request_id,
        now=presence(ctx).now,
        rules=ctx.app[ROUTING].rules,
        connected=ctx.app[ROUTING].connected(),
    )
    notices = views.TaskNotices()
    async with ctx.transaction() as conn:
        result = await apply_event(conn, task_id, call, ctx.body, notices)
    notices.publish(ctx.app[MARKET])  # committed: now tell them
    for contract in result.contracts:
        ctx.app[MARKET].contract_changed(str(contract.status), contract)
    if result.wrong_code:
        raise WrongDeliveryCodeError(
            f"the delivery code is not the buyer's; {result.row['wrong_codes']} wrong so far",
            field_errors=[("$.delivery_code", "not the buyer's code")],
        )
    return views.task_from_row(result.row, ctx.caller.participant_id)
