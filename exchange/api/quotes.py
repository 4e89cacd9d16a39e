"""One quote, seen by both sides, and its negotiation: the buyer counters, the supplier accepts
or rejects (docs/negotiation.md, "Counters and negotiation history")."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from exchange.api.endpoint import Context, Owned, Routes
from exchange.appkeys import CLOCK, RFQ_CHANNEL
from exchange.db import Conn
from exchange.idempotency import Idempotency
from exchange.messages.negotiation import AnswerCounter, CounterQuote
from exchange.messages.participants import Role
from exchange.messages.rfqs import Quote
from exchange.negotiation import counters, quotes
from exchange.negotiation.listings import lots, ticks
from exchange.negotiation.notices import RfqNotices
from exchange.reference import CommoditySpec

routes = Routes("rfqs")


async def _answer(
    ctx: Context, conn: Conn, notices: RfqNotices, row: asyncpg.Record, spec: CommoditySpec,
    now: datetime,
) -> Quote:  # fmt: skip
    """The quote as it now stands, remembered under the idempotency key; `notices` will tell
    both sides on their `rfqs` channel (the caller publishes them once committed)."""
    await notices.quote_changed(conn, row, None, spec, now)
    return await ctx.remember(conn, await quotes.view(conn, row, spec, now))


@routes.route(
    "GET",
    "/v1/quotes/{quote_id}",
    summary="One quote with its revisions and negotiation history: to its supplier and to"
    " its RFQ's buyer",
    roles=[Role.BUYER, Role.SUPPLIER],
    owned=Owned("quote_id"),
    response=Quote,
)
async def get_quote(ctx: Context) -> Quote:
    pool = ctx.runtime.pool
    now = ctx.app[CLOCK].now()
    row = await counters.seen_by(pool, ctx.int_param("quote_id"), ctx.caller.participant_id, now)
    spec = await quotes.spec_of(pool, row["rfq_id"])
    return await quotes.view(pool, row, spec, now)


@routes.route(
    "POST",
    "/v1/quotes/{quote_id}/counter",
    summary="Counter a quote on one's RFQ (open mode): another price and/or quantity, with a"
    " message; the quote is countered until its supplier accepts, rejects or revises",
    roles=[Role.BUYER],
    owned=Owned("quote_id"),
    idempotency=Idempotency.OPTIONAL,
    body=CounterQuote,
    response=Quote,
    status=201,
    errors=[409],
)
async def counter_quote(ctx: Context) -> Quote:
    body: CounterQuote = ctx.body
    now = ctx.app[CLOCK].now()
    buyer = ctx.caller.participant_id
    notices = RfqNotices()
    async with ctx.transaction() as conn:
        quote = await counters.of_buyer(conn, ctx.int_param("quote_id"), buyer, now)
        spec = await quotes.spec_of(conn, quote["rfq_id"])
        proposal = counters.Proposal(
            price=None if body.price is None else ticks(spec, body.price),
            quantity=None if body.quantity is None else lots(spec, "quantity", body.quantity),
            message=body.message,
        )
        row = await counters.counter(conn, quote["id"], buyer, spec, proposal, now)
        await ctx.audit(conn, "quote.counter", f"quote:{row['id']}",
                        {"round": row["pending_counter"]})  # fmt: skip
        answer = await _answer(ctx, conn, notices, row, spec, now)
    notices.publish(ctx.app[RFQ_CHANNEL])  # committed: now tell them
    return answer


@routes.route(
    "POST",
    "/v1/quotes/{quote_id}/accept",
    summary="Accept the pending counter on one's quote: its terms become a new revision",
    roles=[Role.SUPPLIER],
    owned=Owned("quote_id"),
    idempotency=Idempotency.OPTIONAL,
    body=AnswerCounter,
    response=Quote,
    errors=[409],
)
async def accept_counter(ctx: Context) -> Quote:
    body: AnswerCounter = ctx.body
    now = ctx.app[CLOCK].now()
    supplier = ctx.caller.participant_id
    notices = RfqNotices()
    async with ctx.transaction() as conn:
        quote = await quotes.owned(conn, ctx.int_param("quote_id"), supplier)
        spec = await quotes.spec_of(conn, quote["rfq_id"])
        row = await counters.accept(conn, quote["id"], supplier, spec, body.message, now)
        await ctx.audit(conn, "quote.accept", f"quote:{row['id']}", {"revision": row["revision"]})
        answer = await _answer(ctx, conn, notices, row, spec, now)
    notices.publish(ctx.app[RFQ_CHANNEL])  # committed: now tell them
    return answer


@routes.route(
    "POST",
    "/v1/quotes/{quote_id}/reject",
    summary="Reject the pending counter on one's quote, with an optional message: the quote"
    " keeps its terms",
    roles=[Role.SUPPLIER],
    owned=Owned("quote_id"),
    idempotency=Idempotency.OPTIONAL,
    body=AnswerCounter,
    response=Quote,
    errors=[409],
)
async def reject_counter(ctx: Context) -> Quote:
    body: AnswerCounter = ctx.body
    now = ctx.app[CLOCK].now()
    supplier = ctx.caller.participant_id
    notices = RfqNotices()
    async with ctx.transaction() as conn:
        row = await counters.reject(conn, ctx.int_param("quote_id"), supplier, body.message, now)
        spec = await quotes.spec_of(conn, row["rfq_id"])
        await ctx.audit(conn, "quote.reject", f"quote:{row['id']}")
        answer = await _answer(ctx, conn, notices, row, spec, now)
    notices.publish(ctx.app[RFQ_CHANNEL])  # committed: now tell them
    return answer
