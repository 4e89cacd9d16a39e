"""Settlement: cancelling a contract (operators) and a buyer's payment record (anyone)."""

from __future__ import annotations

from exchange import participants as store
from exchange.api.endpoint import ANY_PARTICIPANT, Context, Routes
from exchange.appkeys import CLOCK, MARKET
from exchange.messages.contracts import Contract, Review
from exchange.messages.participants import Role
from exchange.messages.settlement import ContractCount, PaymentRecord
from exchange.payments import settle
from exchange.payments.notices import Notices

routes = Routes("settlement")

_RECORD = """SELECT id,
       CASE WHEN status = 'defaulted' THEN 'defaulted'
            WHEN funded_at <= payment_due_at THEN 'on_time'
            ELSE 'late' END AS kind
  FROM contracts
 WHERE buyer_id = $1 AND (status = 'defaulted' OR funded_at IS NOT NULL)
 ORDER BY signed_at, id"""


@routes.route(
    "POST",
    "/v1/contracts/{contract_id}/cancel",
    summary="Cancel a contract awaiting payment (a partial payment goes back to the buyer) or"
    " funded (the escrow goes back in full), with a reason; both parties are told",
    roles=[Role.OPERATOR],
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
    notices.publish(ctx.app[MARKET])
    ctx.app[MARKET].contract_changed(str(contract.status), contract)
    return contract


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
    kinds: dict[str, list[int]] = {"on_time": [], "late": [], "defaulted": []}
    for row in await ctx.runtime.pool.fetch(_RECORD, pid):
        kinds[row["kind"]].append(row["id"])
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
