"""The buyer's word on a delivery (accept, settle a shortage), ratings, and credit profiles
(docs/delivery.md, "Acceptance, claims, shortage")."""

from __future__ import annotations

from exchange import participants as store
from exchange.api.endpoint import ANY_PARTICIPANT, Context, Owned, Routes
from exchange.appkeys import CLOCK, MARKET
from exchange.delivery import acceptance, ratings
from exchange.delivery.credit import credit_profile
from exchange.messages.contracts import Contract
from exchange.messages.outcomes import (
    CreditProfile,
    RateCounterparty,
    Rating,
    SettleShortage,
    ShortageChoice,
)
from exchange.messages.participants import Role
from exchange.payments.notices import Notices, announce

routes = Routes("outcomes")


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/accept",
    summary="Accept the goods of a contract delivered in full: the escrow goes to the supplier"
    " less the fee (and less the late-delivery penalty, to the buyer, if delivered late);"
    " the contract completes",
    roles=[Role.BUYER],
    owned=Owned("contract_id"),
    response=Contract,
    errors=[409],
)
async def accept_contract(ctx: Context) -> Contract:
    notices = Notices()
    buyer = ctx.caller.participant_id
    async with ctx.transaction() as conn:
        contract = await acceptance.accept(
            conn, ctx.int_param("contract_id"), buyer, ctx.app[CLOCK].now(), notices,
            request_id=ctx.request_id,
        )  # fmt: skip
        await ctx.audit(conn, "contract.accepted", f"contract:{contract.id}")
    return announce(ctx.app[MARKET], notices, contract)


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/shortage",
    summary="Settle a short delivery: `pro_rata` (the supplier is paid for what was delivered,"
    " the buyer refunded the rest) or `backorder` (the rest stays in escrow and is delivered"
    " by `by`)",
    roles=[Role.BUYER],
    owned=Owned("contract_id"),
    body=SettleShortage,
    response=Contract,
    errors=[409],
)
async def settle_shortage(ctx: Context) -> Contract:
    body: SettleShortage = ctx.body
    notices = Notices()
    async with ctx.transaction() as conn:
        contract = await acceptance.settle_shortage(
            conn, ctx.int_param("contract_id"), ctx.caller.participant_id,
            body.by if body.settle is ShortageChoice.BACKORDER else None,
            ctx.app[CLOCK].now(), notices, ctx.request_id,
        )  # fmt: skip
        detail = {"settle": str(body.settle), "by": body.by.isoformat() if body.by else None}
        await ctx.audit(conn, "contract.shortage", f"contract:{contract.id}", detail)
    return announce(ctx.app[MARKET], notices, contract)


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/ratings",
    summary="Rate the other party of an ended contract (completed, refunded or partially"
    " refunded): 1 to 5 and a comment, once per party",
    roles=[Role.BUYER, Role.SUPPLIER],
    owned=Owned("contract_id"),
    body=RateCounterparty,
    response=Rating,
    status=201,
    errors=[409],
)
async def rate_contract(ctx: Context) -> Rating:
    body: RateCounterparty = ctx.body
    async with ctx.transaction() as conn:
        return await ratings.rate(
            conn, ctx.int_param("contract_id"), ctx.caller.participant_id, body,
            ctx.app[CLOCK].now(), ctx.request_id,
        )  # fmt: skip


@routes.route(
    "GET",
    "/v1/participants/{participant_id}/credit",
    summary="A participant's credit profile: the score (0 to 100), each component with its"
    " value, weight and the contracts behind it, and the formula (any participant may look:"
    " partners are chosen by it)",
    response=CreditProfile,
    roles=ANY_PARTICIPANT,
)
async def get_credit(ctx: Context) -> CreditProfile:
    pid = ctx.int_param("participant_id")
    await store.get_participant(ctx.runtime.pool, pid)
    async with ctx.runtime.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        return await credit_profile(conn, pid)
