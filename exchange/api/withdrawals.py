"""Withdrawals: available funds to the participant's registered bank account."""

from __future__ import annotations

import asyncpg

from exchange.api.endpoint import Context, Owned, Routes
from exchange.appkeys import CLOCK, MARKET, PAYOUTS
from exchange.errors import UnavailableError
from exchange.idempotency import Idempotency
from exchange.messages.common import Page
from exchange.messages.participants import Role
from exchange.messages.withdrawals import (
    CreateWithdrawal,
    Withdrawal,
    WithdrawalQuery,
    WithdrawalStatus,
)
from exchange.pagination import decode_cursor, page_of
from exchange.payments import withdrawals as flows
from exchange.payments.amounts import amount_minor
from exchange.payments.notices import Notices

routes = Routes("withdrawals")
HOLDERS = [Role.BUYER, Role.SUPPLIER]


def withdrawal_of(row: asyncpg.Record) -> Withdrawal:
    return Withdrawal(
        id=row["id"],
        participant_id=row["participant_id"],
        currency=row["currency"],
        amount=flows.formatted_amount(row),
        bank_account=row["bank_account"],
        end_to_end_id=row["end_to_end_id"],
        status=WithdrawalStatus(row["status"]),
        bank_reference=row["bank_reference"],
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@routes.route(
    "POST",
    "/v1/withdrawals",
    summary="Withdraw available funds to the participant's registered bank account: the amount"
    " is reserved at once (status pending) and paid out by the designated bank; the outcome"
    " (settled, rejected, returned) arrives on the user channel and in GET",
    roles=HOLDERS,
    idempotency=Idempotency.REQUIRED,
    body=CreateWithdrawal,
    response=Withdrawal,
    status=202,
    errors=[409],
)
async def create_withdrawal(ctx: Context) -> Withdrawal:
    body: CreateWithdrawal = ctx.body
    minor = amount_minor(body.amount, body.currency)
    payouts = ctx.app[PAYOUTS]
    notices = Notices()
    pid = ctx.caller.participant_id
    async with ctx.transaction() as conn:
        row = await flows.create_withdrawal(
            conn, pid, body.currency, minor, ctx.app[CLOCK].now(), notices
        )
        if payouts.bank is None:  # after the caller's own mistakes, which it can mend
            raise UnavailableError(
                "the designated bank is not connected; no withdrawal was made",
                code="BANK_UNAVAILABLE",
            )
        await ctx.audit(
            conn, "withdrawal.create", f"withdrawal:{row['id']}",
            {"currency": body.currency, "amount": body.amount},
        )  # fmt: skip
        withdrawal = await ctx.remember(conn, withdrawal_of(row))
    notices.publish(ctx.app[MARKET])
    payouts.submit(withdrawal.id)
    return withdrawal


@routes.route(
    "GET",
    "/v1/withdrawals",
    summary="The caller's withdrawals (operators: everyone's), newest first",
    roles=[Role.OPERATOR, *HOLDERS],
    query=WithdrawalQuery,
    response=Page[Withdrawal],
)
async def list_withdrawals(ctx: Context) -> Page[Withdrawal]:
    query: WithdrawalQuery = ctx.query
    everyone = ctx.caller.is_operator
    rows = await ctx.runtime.pool.fetch(
        f"""SELECT {flows.COLUMNS} FROM withdrawals
             WHERE participant_id = coalesce($1, participant_id)
               AND ($2::text IS NULL OR status = $2)
               AND id < coalesce($3, 9223372036854775807)
             ORDER BY id DESC LIMIT $4""",
        query.participant_id if everyone else ctx.caller.participant_id,
        query.status,
        decode_cursor(query.cursor, int),
        query.limit + 1,
    )
    return page_of([withdrawal_of(row) for row in rows], query.limit, lambda w: w.id)


@routes.route(
    "GET",
    "/v1/withdrawals/{withdrawal_id}",
    summary="One withdrawal (its participant and operators only)",
    roles=[Role.OPERATOR, *HOLDERS],
    owned=Owned("withdrawal_id", operators=True),
    response=Withdrawal,
)
async def get_withdrawal(ctx: Context) -> Withdrawal:
    caller = ctx.caller
    row = await flows.owned(
        ctx.runtime.pool,
        ctx.int_param("withdrawal_id"),
        None if caller.is_operator else caller.participant_id,
    )
    return withdrawal_of(row)
