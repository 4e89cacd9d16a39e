"""Settlement: operators cancel, release and refund contracts; anyone reads a buyer's payment
record. The money moves through `exchange.payments.settle` (docs/payments.md)."""

from __future__ import annotations

from decimal import Decimal

from exchange import participants as store
from exchange.api.endpoint import ANY_PARTICIPANT, Context, Routes
from exchange.appkeys import CLOCK, MARKET
from exchange.contracts import lifecycle
from exchange.contracts.views import contract_from_row
from exchange.errors import NotFoundError, invalid_field
from exchange.messages.contracts import Contract, Review
from exchange.messages.participants import Role
from exchange.messages.settlement import ContractCount, PaymentRecord, Refund, Release
from exchange.payments import settle
from exchange.payments.notices import Notices, announce
from exchange.payments.views import payment_record as record_of
from exchange.units import UnitsError, currency_exponent, parse_scaled

routes = Routes("settlement")
OPERATOR = [Role.OPERATOR]


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/cancel",
    summary="Cancel a contract awaiting payment (a partial payment goes back to the buyer) or"
    " funded (the escrow goes back in full), with a reason; both parties are told",
    roles=OPERATOR,
    body=Review,
    response=Contract,
    errors=[409],
)
async def cancel_contract(ctx: Context) -> Contract:
    body: Review = ctx.body
    notices = Notices()
    async with ctx.transaction() as conn:
        contract = await settle.cancel(
            conn, ctx.int_param("contract_id"), body.reason, ctx.app[CLOCK].now(), notices,
            ctx.caller.participant_id, ctx.request_id,
        )  # fmt: skip
    return announce(ctx.app[MARKET], notices, contract)


async def _contract(ctx: Context) -> Contract:
    contract_id = ctx.int_param("contract_id")
    row = await lifecycle.fetch_contract(ctx.runtime.pool, contract_id)
    if row is None:
        raise NotFoundError(f"contract {contract_id} does not exist", code="UNKNOWN_CONTRACT")
    return contract_from_row(row)


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/release",
    summary="Release a delivered or disputed contract's escrow to the supplier less the fee; with"
    " `delivered_quantity`, the delivered share only, the rest back to the buyer",
    roles=OPERATOR,
    body=Release,
    response=Contract,
    errors=[409],
)
async def release_contract(ctx: Context) -> Contract:
    body: Release = ctx.body
    contract = await _contract(ctx)
    notices, now, actor = Notices(), ctx.app[CLOCK].now(), ctx.caller.participant_id
    async with ctx.transaction() as conn:
        if body.delivered_quantity is None:
            done = await settle.release(
                conn, contract.id, now, notices, actor, reason=body.reason,
                request_id=ctx.request_id,
            )  # fmt: skip
        else:
            share = settle.share_of_quantity(contract, Decimal(body.delivered_quantity))
            done = await settle.release_partial(
                conn, contract.id, share, now, notices, actor, reason=body.reason,
                request_id=ctx.request_id,
            )  # fmt: skip
    return announce(ctx.app[MARKET], notices, done)


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/refund",
    summary="Refund escrow to the buyer: all of it (a disputed contract becomes refunded), or"
    " `amount` of it (the rest stays in escrow)",
    roles=OPERATOR,
    body=Refund,
    response=Contract,
    errors=[409],
)
async def refund_contract(ctx: Context) -> Contract:
    body: Refund = ctx.body
    contract = await _contract(ctx)
    amount = None
    if body.amount is not None:
        try:
            amount = parse_scaled(body.amount, currency_exponent(contract.currency))
        except UnitsError as exc:
            raise invalid_field("INVALID_AMOUNT", "amount", str(exc)) from None
    notices = Notices()
    async with ctx.transaction() as conn:
        done = await settle.refund(
            conn, contract.id, amount, ctx.app[CLOCK].now(), notices,
            ctx.caller.participant_id, body.reason, request_id=ctx.request_id,
        )  # fmt: skip
    return announce(ctx.app[MARKET], notices, done)


@routes.route(
    "GET",
    "/v1/participants/{participant_id}/payment-record",
    summary="How a participant has paid as a buyer: contracts paid on time, paid late and"
    " defaulted, with their ids (any participant may look: partners are chosen by it)",
    response=PaymentRecord,
    roles=ANY_PARTICIPANT,
)
async def payment_record(ctx: Context) -> PaymentRecord:
    pid = ctx.int_param("participant_id")
    await store.get_participant(ctx.runtime.pool, pid)
    kinds = await record_of(ctx.runtime.pool, pid)
    return PaymentRecord(
        participant_id=pid,
        **{
            name: ContractCount(count=len(ids), contract_ids=ids)
            for name, ids in (
                ("paid_on_time", kinds["on_time"]),
                ("paid_late", kinds["late"]),
                ("defaulted", kinds["defaulted"]),
            )
        },
    )
