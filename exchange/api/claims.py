"""Claims: the buyer opens one, the supplier answers, operators resolve; parties and operators
read them (docs/delivery.md, "Acceptance, claims, shortage")."""

from __future__ import annotations

from exchange.api.endpoint import ANY_PARTICIPANT, Context, Owned, Routes
from exchange.appkeys import CLOCK, MARKET
from exchange.contracts import lifecycle
from exchange.delivery import claims
from exchange.delivery.errors import UnknownClaimError
from exchange.errors import invalid_field
from exchange.messages.common import Page
from exchange.messages.outcomes import (
    AnswerClaim,
    Claim,
    ClaimOutcome,
    ClaimQuery,
    OpenClaim,
    ResolveClaim,
)
from exchange.messages.participants import Role
from exchange.pagination import decode_cursor, page_of
from exchange.payments.notices import Notices, announce
from exchange.units import UnitsError, currency_exponent, parse_scaled

routes = Routes("claims")


def _minor(amount: str, currency: str) -> int:
    try:
        return parse_scaled(amount, currency_exponent(currency))
    except UnitsError as exc:
        raise invalid_field("INVALID_AMOUNT", "amount", str(exc)) from None


async def _currency_of(ctx: Context, contract_id: int) -> str:
    row = await lifecycle.fetch_contract(ctx.runtime.pool, contract_id)
    return str(row["currency"]) if row else "EUR"  # an unknown contract: 404 from the flow


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/claims",
    summary="Open a claim against a delivered contract within its claim window (kind, amount"
    " claimed, description, evidence hashes): the contract becomes disputed",
    roles=[Role.BUYER],
    owned=Owned("contract_id"),
    body=OpenClaim,
    response=ClaimOutcome,
    status=201,
    errors=[409],
)
async def open_claim(ctx: Context) -> ClaimOutcome:
    body: OpenClaim = ctx.body
    contract_id = ctx.int_param("contract_id")
    amount = _minor(body.amount, await _currency_of(ctx, contract_id))
    async with ctx.transaction() as conn:
        claim, contract = await claims.open_claim(
            conn, contract_id, ctx.caller.participant_id, body, amount, ctx.app[CLOCK].now(),
            ctx.request_id,
        )  # fmt: skip
    ctx.app[MARKET].contract_changed(str(contract.status), contract)
    return ClaimOutcome(claim=claim, contract=contract)


@routes.route(
    "POST",
    "/v1/claims/{claim_id}/answer",
    summary="The supplier's answer to a claim against it (once, before it is resolved)",
    roles=[Role.SUPPLIER],
    owned=Owned("claim_id"),
    body=AnswerClaim,
    response=Claim,
    errors=[409],
)
async def answer_claim(ctx: Context) -> Claim:
    body: AnswerClaim = ctx.body
    async with ctx.transaction() as conn:
        return await claims.answer_claim(
            conn, ctx.int_param("claim_id"), ctx.caller.participant_id, body.answer,
            ctx.app[CLOCK].now(), ctx.request_id,
        )  # fmt: skip


@routes.route(
    "POST",
    "/v1/claims/{claim_id}/resolve",
    summary="Resolve a claim: `release_full` (the supplier is paid), `refund_part` with"
    " `amount` (that back to the buyer, the rest to the supplier) or `refund_all`; the"
    " ledger moves exactly that",
    roles=[Role.OPERATOR],
    body=ResolveClaim,
    response=ClaimOutcome,
    errors=[409],
)
async def resolve_claim(ctx: Context) -> ClaimOutcome:
    body: ResolveClaim = ctx.body
    claim_id = ctx.int_param("claim_id")
    found = await claims.fetch_claim(ctx.runtime.pool, claim_id)
    if found is None:
        raise UnknownClaimError(f"claim {claim_id} does not exist")
    amount = _minor(body.amount, found["currency"]) if body.amount is not None else None
    notices = Notices()
    async with ctx.transaction() as conn:
        claim, contract = await claims.resolve_claim(
            conn, claim_id, ctx.caller.participant_id, body.resolution, amount, body.reason,
            ctx.app[CLOCK].now(), notices, ctx.request_id,
        )  # fmt: skip
    announce(ctx.app[MARKET], notices, contract)
    return ClaimOutcome(claim=claim, contract=contract)


@routes.route(
    "GET",
    "/v1/claims",
    summary="Claims on the caller's contracts (operators: every claim), newest first",
    query=ClaimQuery,
    response=Page[Claim],
    roles=ANY_PARTICIPANT,
)
async def list_claims(ctx: Context) -> Page[Claim]:
    query: ClaimQuery = ctx.query
    rows = await claims.list_claims(
        ctx.runtime.pool, ctx.caller.participant_id, ctx.caller.is_operator, query.status,
        decode_cursor(query.cursor, int), query.limit + 1,
    )  # fmt: skip
    return page_of(rows, query.limit, lambda claim: claim.id)


@routes.route(
    "GET",
    "/v1/claims/{claim_id}",
    summary="One claim (the contract's parties and operators only)",
    response=Claim,
    roles=ANY_PARTICIPANT,
    owned=Owned("claim_id", operators=True),
)
async def get_claim(ctx: Context) -> Claim:
    claim_id = ctx.int_param("claim_id")
    row = await claims.fetch_claim(ctx.runtime.pool, claim_id)
    if row is None or not claims.visible_to(row, ctx.caller.participant_id, ctx.caller.is_operator):
        raise UnknownClaimError(f"claim {claim_id} does not exist")
    return claims.claim_from_row(row)
