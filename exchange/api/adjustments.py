"""Operators' adjustments of the ledger, four eyes: one proposes, another decides."""

from __future__ import annotations

from typing import Any

import asyncpg

from exchange.api.endpoint import Context, Routes
from exchange.appkeys import CLOCK, MARKET
from exchange.idempotency import Idempotency
from exchange.messages.adjustments import (
    Adjustment,
    AdjustmentQuery,
    AdjustmentStatus,
    Decision,
    ProposeAdjustment,
)
from exchange.messages.common import Page
from exchange.messages.participants import Role
from exchange.pagination import decode_cursor, page_of
from exchange.payments import adjustments as flows
from exchange.payments.amounts import amount_minor
from exchange.payments.notices import Notices
from exchange.units import currency_exponent, format_scaled

routes = Routes("adjustments")
OPERATOR = [Role.OPERATOR]


def adjustment_of(row: asyncpg.Record) -> Adjustment:
    return Adjustment(
        id=row["id"],
        debit_account_id=row["debit_account_id"],
        credit_account_id=row["credit_account_id"],
        currency=row["currency"],
        amount=format_scaled(row["amount_minor"], currency_exponent(row["currency"])),
        reason=row["reason"],
        status=AdjustmentStatus(row["status"]),
        proposed_by=row["proposed_by"],
        decided_by=row["decided_by"],
        transfer_id=row["transfer_id"],
        proposed_at=row["proposed_at"],
        decided_at=row["decided_at"],
    )


@routes.route(
    "POST",
    "/v1/adjustments",
    summary="Propose a transfer between two ledger accounts (compensation, correction,"
    " resolving suspense); it applies only when a different operator approves it",
    roles=OPERATOR,
    idempotency=Idempotency.OPTIONAL,
    body=ProposeAdjustment,
    response=Adjustment,
    status=201,
)
async def propose_adjustment(ctx: Context) -> Adjustment:
    body: ProposeAdjustment = ctx.body
    minor = amount_minor(body.amount, body.currency)
    async with ctx.transaction() as conn:
        debit = await flows.account_of(
            conn, "debit", body.currency, body.debit.account_id, body.debit.participant_id
        )
        credit = await flows.account_of(
            conn, "credit", body.currency, body.credit.account_id, body.credit.participant_id
        )
        row = await flows.propose(
            conn, ctx.caller.participant_id, debit, credit, body.currency, minor, body.reason,
            ctx.app[CLOCK].now(),
        )  # fmt: skip
        await ctx.audit(
            conn, "adjustment.propose", f"adjustment:{row['id']}",
            {"debit_account_id": debit, "credit_account_id": credit, "currency": body.currency,
             "amount": body.amount, "reason": body.reason},
        )  # fmt: skip
        return await ctx.remember(conn, adjustment_of(row))


async def _decide(ctx: Context, action: str) -> Adjustment:
    adjustment_id = ctx.int_param("adjustment_id")
    decision: Decision = ctx.body
    operator = ctx.caller.participant_id
    notices = Notices()
    now = ctx.app[CLOCK].now()
    async with ctx.transaction() as conn:
        if action == "approve":
            row = await flows.approve(conn, adjustment_id, operator, now, notices)
        else:
            row = await flows.decline(conn, adjustment_id, operator, now)
        detail: dict[str, Any] = {"reason": decision.reason, "transfer_id": row["transfer_id"]}
        await ctx.audit(conn, f"adjustment.{action}", f"adjustment:{adjustment_id}", detail)
    notices.publish(ctx.app[MARKET])
    return adjustment_of(row)


@routes.route(
    "POST",
    "/v1/adjustments/{adjustment_id}/approve",
    summary="Approve and apply another operator's proposed adjustment (its proposer: 403"
    " FOUR_EYES_REQUIRED; decided before: 409)",
    roles=OPERATOR,
    body=Decision,
    response=Adjustment,
    errors=[409],
)
async def approve_adjustment(ctx: Context) -> Adjustment:
    return await _decide(ctx, "approve")


@routes.route(
    "POST",
    "/v1/adjustments/{adjustment_id}/decline",
    summary="Decline another operator's proposed adjustment (nothing moves)",
    roles=OPERATOR,
    body=Decision,
    response=Adjustment,
    errors=[409],
)
async def decline_adjustment(ctx: Context) -> Adjustment:
    return await _decide(ctx, "decline")


@routes.route(
    "GET",
    "/v1/adjustments",
    summary="Adjustments, newest first",
    roles=OPERATOR,
    query=AdjustmentQuery,
    response=Page[Adjustment],
)
async def list_adjustments(ctx: Context) -> Page[Adjustment]:
    query: AdjustmentQuery = ctx.query
    rows = await ctx.runtime.pool.fetch(
        f"""SELECT {flows.COLUMNS} FROM adjustments
             WHERE ($1::text IS NULL OR status = $1)
               AND id < coalesce($2, 9223372036854775807)
             ORDER BY id DESC LIMIT $3""",
        query.status,
        decode_cursor(query.cursor, int),
        query.limit + 1,
    )
    return page_of([adjustment_of(row) for row in rows], query.limit, lambda a: a.id)


@routes.route(
    "GET",
    "/v1/adjustments/{adjustment_id}",
    summary="One adjustment",
    roles=OPERATOR,
    response=Adjustment,
)
async def get_adjustment(ctx: Context) -> Adjustment:
    return adjustment_of(await flows.fetch(ctx.runtime.pool, ctx.int_param("adjustment_id")))
