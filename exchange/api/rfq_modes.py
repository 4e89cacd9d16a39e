"""Reverse auctions: a supplier's standing (docs/negotiation.md, "Sealed quotes and reverse
auctions")."""

from __future__ import annotations

from exchange.api.endpoint import Context, Owned, Routes
from exchange.appkeys import CLOCK
from exchange.messages.participants import Role
from exchange.messages.rfq_modes import Standing
from exchange.negotiation import rfqs, standings
from exchange.negotiation.listings import spec_by_id

routes = Routes("rfqs")


@routes.route(
    "GET",
    "/v1/rfqs/{rfq_id}/standing",
    summary="A supplier's standing in a reverse auction: its own bid's rank by landed cost,"
    " the best landed cost among live bids and how many there are; never who bids",
    roles=[Role.SUPPLIER],
    owned=Owned("rfq_id"),
    response=Standing,
    errors=[409],
)
async def get_standing(ctx: Context) -> Standing:
    pool = ctx.runtime.pool
    supplier = ctx.caller.participant_id
    rfq = await rfqs.visible(pool, ctx.int_param("rfq_id"), rfqs.Viewer(supplier, supplier=True))
    spec = await spec_by_id(pool, rfq["commodity_id"])
    return await standings.standing_of(pool, rfq, supplier, spec, ctx.app[CLOCK].now())
