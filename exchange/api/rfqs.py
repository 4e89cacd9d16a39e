"""Requests for quotation and quotes: a buyer asks, suppliers quote, revise and withdraw
(docs/negotiation.md, "RFQs")."""

from __future__ import annotations

from exchange.api.endpoint import Context, Owned, Routes
from exchange.appkeys import CLOCK, RFQ_CHANNEL
from exchange.idempotency import Idempotency
from exchange.messages.common import Page
from exchange.messages.participants import Role
from exchange.messages.rfqs import (
    Awarded,
    AwardMade,
    AwardRfq,
    Comparison,
    CreateRfq,
    Quote,
    ReviseQuote,
    Rfq,
    RfqQuery,
    SubmitQuote,
)
from exchange.negotiation import awards, comparison, quotes, rfqs
from exchange.negotiation.listings import lots, spec_by_code, spec_by_id, ticks
from exchange.negotiation.notices import RfqNotices
from exchange.pagination import decode_cursor, page_of

routes = Routes("rfqs")
TRADERS = [Role.BUYER, Role.SUPPLIER]


def _viewer(ctx: Context) -> rfqs.Viewer:
    return rfqs.Viewer(ctx.caller.participant_id, ctx.caller.has(Role.SUPPLIER))


@routes.route(
    "POST",
    "/v1/rfqs",
    summary="Ask for quotes: commodity, quantity, delivery region and window, closing time,"
    " optional maximum unit price and invited suppliers (otherwise open to all suppliers),"
    " minimum quantity per supplier; mode open",
    roles=[Role.BUYER],
    idempotency=Idempotency.OPTIONAL,
    body=CreateRfq,
    response=Rfq,
    status=201,
)
async def create_rfq(ctx: Context) -> Rfq:
    body: CreateRfq = ctx.body
    now = ctx.app[CLOCK].now()
    notices = RfqNotices()
    async with ctx.transaction() as conn:
        spec = await spec_by_code(conn, body.commodity)
        new = rfqs.NewRfq(
            spec=spec, buyer_id=ctx.caller.participant_id, mode=body.mode,
            quantity=lots(spec, "quantity", body.quantity),
            min_quote=lots(spec, "min_quantity", body.min_quantity),
            max_price=None if body.max_price is None else ticks(spec, body.max_price),
            region=body.region, window=(body.delivery_earliest, body.delivery_latest),
            closes_at=body.closes_at, invited=body.invited, specification=body.specification,
            award=body.award, soft_close_minutes=body.soft_close_minutes,
        )  # fmt: skip
        row = await rfqs.create(conn, new, now)
        await ctx.audit(conn, "rfq.create", f"rfq:{row['id']}")
        await notices.rfq_changed(conn, row, "created", now)
        answer = await ctx.remember(conn, await rfqs.view(conn, row, _viewer(ctx), now))
    notices.publish(ctx.app[RFQ_CHANNEL])  # committed: now tell them
    return answer


@routes.route(
    "GET",
    "/v1/rfqs",
    summary="RFQs, newest first: a buyer's own, and those open to a supplier (all suppliers,"
    " or it is invited); open ones only unless include_closed",
    roles=TRADERS,
    query=RfqQuery,
    response=Page[Rfq],
)
async def list_rfqs(ctx: Context) -> Page[Rfq]:
    query: RfqQuery = ctx.query
    now = ctx.app[CLOCK].now()
    viewer = _viewer(ctx)
    pool = ctx.runtime.pool
    rows = await pool.fetch(
        f"""SELECT {rfqs.COLUMNS} FROM rfqs r JOIN commodities c ON c.id = r.commodity_id
             WHERE {rfqs.VISIBLE} AND ($3::text IS NULL OR c.code = $3)
               AND r.id < coalesce($4, 9223372036854775807)
               AND ($6 OR (r.status = 'open' AND r.closes_at > $7))
             ORDER BY r.id DESC LIMIT $5""",
        viewer.participant_id, viewer.supplier, query.commodity,
        decode_cursor(query.cursor, int), query.limit + 1, query.include_closed, now,
    )  # fmt: skip
    found = [await rfqs.view(pool, row, viewer, now) for row in rows]
    return page_of(found, query.limit, lambda rfq: rfq.id)


@routes.route(
    "GET",
    "/v1/rfqs/{rfq_id}",
    summary="One RFQ: to its buyer, and to the suppliers it is open to",
    roles=TRADERS,
    owned=Owned("rfq_id"),
    response=Rfq,
)
async def get_rfq(ctx: Context) -> Rfq:
    pool = ctx.runtime.pool
    row = await rfqs.visible(pool, ctx.int_param("rfq_id"), _viewer(ctx))
    return await rfqs.view(pool, row, _viewer(ctx), ctx.app[CLOCK].now())


@routes.route(
    "POST",
    "/v1/rfqs/{rfq_id}/cancel",
    summary="Cancel one's own open RFQ: it takes no more quotes",
    roles=[Role.BUYER],
    owned=Owned("rfq_id"),
    response=Rfq,
    errors=[409],
)
async def cancel_rfq(ctx: Context) -> Rfq:
    now = ctx.app[CLOCK].now()
    notices = RfqNotices()
    async with ctx.transaction() as conn:
        row = await rfqs.cancel(conn, ctx.int_param("rfq_id"), ctx.caller.participant_id, now)
        await ctx.audit(conn, "rfq.cancel", f"rfq:{row['id']}")
        await notices.rfq_changed(conn, row, "cancelled", now)
        answer = await rfqs.view(conn, row, _viewer(ctx), now)
    notices.publish(ctx.app[RFQ_CHANNEL])
    return answer


@routes.route(
    "POST",
    "/v1/rfqs/{rfq_id}/quotes",
    summary="Quote on an RFQ open to the supplier: unit price, quantity, origin region, valid"
    " until; one live quote per supplier (revise it to change it)",
    roles=[Role.SUPPLIER],
    owned=Owned("rfq_id"),
    idempotency=Idempotency.OPTIONAL,
    body=SubmitQuote,
    response=Quote,
    status=201,
    errors=[409],
)
async def submit_quote(ctx: Context) -> Quote:
    body: SubmitQuote = ctx.body
    now = ctx.app[CLOCK].now()
    notices = RfqNotices()
    supplier = ctx.caller.participant_id
    async with ctx.transaction() as conn:
        rfq = await rfqs.visible(conn, ctx.int_param("rfq_id"), _viewer(ctx))
        spec = await spec_by_id(conn, rfq["commodity_id"])
        offer = quotes.Offer(
            price=ticks(spec, body.price), quantity=lots(spec, "quantity", body.quantity),
            origin_region=body.origin_region, valid_until=body.valid_until,
        )  # fmt: skip
        row = await quotes.submit(conn, rfq["id"], supplier, spec, offer, now)
        await ctx.audit(conn, "quote.submit", f"quote:{row['id']}", {"rfq_id": rfq["id"]})
        await notices.quote_changed(conn, row, rfq, spec, now)
        answer = await ctx.remember(conn, await quotes.view(conn, row, spec, now))
    notices.publish(ctx.app[RFQ_CHANNEL])
    return answer


@routes.route(
    "GET",
    "/v1/rfqs/{rfq_id}/quotes",
    summary="The quotes on an RFQ: every quote for its buyer, only its own for a supplier;"
    " each with its revisions",
    roles=TRADERS,
    owned=Owned("rfq_id"),
    response=list[Quote],
)
async def list_quotes(ctx: Context) -> list[Quote]:
    pool = ctx.runtime.pool
    now = ctx.app[CLOCK].now()
    rfq = await rfqs.visible(pool, ctx.int_param("rfq_id"), _viewer(ctx))
    spec = await spec_by_id(pool, rfq["commodity_id"])
    return [
        await quotes.view(pool, row, spec, now)
        for row in await quotes.of_rfq(pool, rfq, _viewer(ctx), now)
    ]


@routes.route(
    "PATCH",
    "/v1/quotes/{quote_id}",
    summary="Revise one's own quote while its RFQ is open: price, quantity, origin region,"
    " valid until; every revision is kept",
    roles=[Role.SUPPLIER],
    owned=Owned("quote_id"),
    body=ReviseQuote,
    response=Quote,
    errors=[409],
)
async def revise_quote(ctx: Context) -> Quote:
    body: ReviseQuote = ctx.body
    now = ctx.app[CLOCK].now()
    notices = RfqNotices()
    supplier = ctx.caller.participant_id
    async with ctx.transaction() as conn:
        quote = await quotes.owned(conn, ctx.int_param("quote_id"), supplier)
        spec = await quotes.spec_of(conn, quote["rfq_id"])
        changes = {
            "price": None if body.price is None else ticks(spec, body.price),
            "quantity": None if body.quantity is None else lots(spec, "quantity", body.quantity),
            "origin_region": body.origin_region,
            "valid_until": body.valid_until,
        }
        row = await quotes.revise(conn, quote["id"], supplier, spec, changes, now)
        await ctx.audit(conn, "quote.revise", f"quote:{row['id']}", {"revision": row["revision"]})
        await notices.quote_changed(conn, row, None, spec, now)
        answer = await quotes.view(conn, row, spec, now)
    notices.publish(ctx.app[RFQ_CHANNEL])
    return answer


@routes.route(
    "POST",
    "/v1/quotes/{quote_id}/withdraw",
    summary="Withdraw one's own quote while its RFQ is open",
    roles=[Role.SUPPLIER],
    owned=Owned("quote_id"),
    response=Quote,
    errors=[409],
)
async def withdraw_quote(ctx: Context) -> Quote:
    now = ctx.app[CLOCK].now()
    notices = RfqNotices()
    supplier = ctx.caller.participant_id
    async with ctx.transaction() as conn:
        row = await quotes.withdraw(conn, ctx.int_param("quote_id"), supplier, now)
        spec = await quotes.spec_of(conn, row["rfq_id"])
        await ctx.audit(conn, "quote.withdraw", f"quote:{row['id']}")
        await notices.quote_changed(conn, row, None, spec, now)
        answer = await quotes.view(conn, row, spec, now)
    notices.publish(ctx.app[RFQ_CHANNEL])
    return answer


@routes.route(
    "GET",
    "/v1/rfqs/{rfq_id}/comparison",
    summary="The buyer's comparison of its RFQ's live quotes, ranked by landed cost (price +"
    " freight per unit on the cheapest published lane to the delivery region), each with its"
    " supplier's credit profile and an explanation of every figure",
    roles=[Role.BUYER],
    owned=Owned("rfq_id"),
    response=Comparison,
)
async def compare_quotes(ctx: Context) -> Comparison:
    pool = ctx.runtime.pool
    rfq = await rfqs.visible(
        pool, ctx.int_param("rfq_id"), rfqs.Viewer(ctx.caller.participant_id, supplier=False)
    )
    spec = await spec_by_id(pool, rfq["commodity_id"])
    return await comparison.compare(pool, rfq, spec, ctx.app[CLOCK].now())


@routes.route(
    "POST",
    "/v1/rfqs/{rfq_id}/award",
    summary="Award one's RFQ: one or several quotes, a quantity each (split across suppliers);"
    " each award is a signed contract; the other live quotes are declined",
    roles=[Role.BUYER],
    owned=Owned("rfq_id"),
    idempotency=Idempotency.OPTIONAL,
    body=AwardRfq,
    response=Awarded,
    status=201,
    errors=[409],
)
async def award_rfq(ctx: Context) -> Awarded:
    body: AwardRfq = ctx.body
    now = ctx.app[CLOCK].now()
    notices = RfqNotices()
    buyer = rfqs.Viewer(ctx.caller.participant_id, supplier=False)
    async with ctx.transaction() as conn:
        rfq = await rfqs.visible(conn, ctx.int_param("rfq_id"), buyer)
        spec = await spec_by_id(conn, rfq["commodity_id"])
        lines = [(line.quote_id, lots(spec, "quantity", line.quantity)) for line in body.awards]
        row, made = await awards.award(
            conn, rfq["id"], buyer.participant_id, lines, spec, now, ctx.runtime.signer
        )
        await ctx.audit(conn, "rfq.award", f"rfq:{row['id']}",
                        {"awards": [a for a, _, _, _ in made]})  # fmt: skip
        contracts = [contract for *_, contract in made]
        await notices.rfq_awarded(conn, row, spec, now, contracts)
        answer = Awarded(
            rfq=await rfqs.view(conn, row, buyer, now),
            awards=[
                AwardMade(id=award_id, quote_id=quote["id"], supplier_id=quote["supplier_id"],
                          quantity=spec.quantity_text(n), contract=contract)
                for award_id, quote, n, contract in made
            ],
        )  # fmt: skip
        await ctx.remember(conn, answer)
    notices.publish(ctx.app[RFQ_CHANNEL])
    return answer
