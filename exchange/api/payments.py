"""Paying a contract from the buyer's available funds."""

from __future__ import annotations

from exchange.api.endpoint import Context, Owned, Routes
from exchange.appkeys import CLOCK, MARKET
from exchange.errors import NotFoundError
from exchange.messages.participants import Role
from exchange.messages.payments import ContractPayment
from exchange.payments.contract_payments import pay_contract
from exchange.payments.notices import Notices
from exchange.units import currency_exponent, format_scaled

routes = Routes("payments")


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/pay",
    summary="Pay a contract awaiting payment from the buyer's available funds: all that is due"
    " (with any late penalty, to the supplier) or nothing",
    roles=[Role.BUYER],
    owned=Owned("contract_id"),
    response=ContractPayment,
    errors=[409],
)
async def pay(ctx: Context) -> ContractPayment:
    contract_id = ctx.int_param("contract_id")
    notices = Notices()
    async with ctx.transaction() as conn:
        settled = await pay_contract(
            conn, contract_id, ctx.caller.participant_id, ctx.app[CLOCK].now(), notices
        )
        if settled is None:
            raise NotFoundError(f"contract {contract_id} does not exist", code="UNKNOWN_CONTRACT")
        await ctx.audit(conn, "contract.pay", f"contract:{contract_id}")
    notices.publish(ctx.app[MARKET])
    ctx.app[MARKET].contract_changed("funded", settled.contract)
    scale = currency_exponent(settled.contract.currency)
    return ContractPayment(
        contract=settled.contract,
        into_escrow=format_scaled(settled.into_escrow, scale),
        late_penalty=format_scaled(settled.penalty, scale),
        available=format_scaled(settled.available, scale),
    )
