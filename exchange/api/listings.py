"""Named listings: suppliers' offers and buyers' wanted notices, shown with their poster and
taken in whole or part at their price, each take a contract (docs/negotiation.md)."""

from __future__ import annotations

from typing import Any

from exchange.api.endpoint import ANY_PARTICIPANT, Context, Owned, Routes
from exchange.appkeys import CLOCK, MARKET
from exchange.errors import ForbiddenError
from exchange.idempotency import Idempotency
from exchange.messages.common import Page
from exchange.messages.listings import (
    AmendListing,
    CreateListing,
    Listing,
    ListingEvent,
    ListingQuery,
    Take,
    TakeListing,
)
from exchange.messages.orders import Side
from exchange.messages.participants import Role
from exchange.negotiation import feed
from exchange.negotiation import listings as flows
from exchange.pagination import decode_cursor, page_of

routes = Routes("listings")
TRADERS = [Role.BUYER, Role.SUPPLIER]
_OPEN = flows.OPEN_AT.format(now=6)


@routes.route(
    "POST",
    "/v1/listings",
    summary="Publish a named listing: a supplier's offer (side sell) or a buyer's wanted notice"
    " (side buy), shown to every participant with the poster's name and credit score",
    roles=TRADERS,
    body=CreateListing,
    response=Listing,
    status=201,
    errors=[403],
)
async def create_listing(ctx: Context) -> Listing:
    body: CreateListing = ctx.body
    role = Role.SUPPLIER if body.side is Side.SELL else Role.BUYER
    if not ctx.caller.has(role):
        raise ForbiddenError(f"a {body.side} listing needs the {role} role", code="ROLE_REQUIRED")
    now = ctx.app[CLOCK].now()
    async with ctx.transaction() as conn:
        spec = await flows.spec_by_code(conn, body.commodity)
        new = flows.NewListing(
            spec=spec, poster_id=ctx.caller.participant_id, side=body.side,
            price=flows.ticks(spec, body.price),
            quantity=flows.lots(spec, "quantity", body.quantity),
            min_take=flows.lots(spec, "min_quantity", body.min_quantity),
            region=body.region, window=(body.delivery_earliest, body.delivery_latest),
            valid_until=body.valid_until, specification=body.specification,
        )  # fmt: skip
        row = await flows.publish(conn, new, now)
        await ctx.audit(conn, "listing.publish", f"listing:{row['id']}")
        listing = await flows.view(conn, row, spec, now)
    feed.publish(ctx.app[MARKET], ListingEvent.PUBLISHED, listing)
    return listing


@routes.route(
    "GET",
    "/v1/listings",
    summary="Listings, newest first: open ones only unless include_closed; filtered by"
    " commodity, side and region",
    roles=ANY_PARTICIPANT,
    query=ListingQuery,
    response=Page[Listing],
)
async def list_listings(ctx: Context) -> Page[Listing]:
    query: ListingQuery = ctx.query
    now = ctx.app[CLOCK].now()
    pool = ctx.runtime.pool
    rows = await pool.fetch(
        f"""SELECT {flows.COLUMNS}, c.code AS commodity_code {flows.FROM}
              JOIN commodities c ON c.id = l.commodity_id
             WHERE ($1::text IS NULL OR c.code = $1) AND ($2::text IS NULL OR l.side = $2)
               AND ($3::text IS NULL OR l.region = $3)
               AND l.id < coalesce($4, 9223372036854775807)
               AND ($7 OR ({_OPEN}))
             ORDER BY l.id DESC LIMIT $5""",
        query.commodity, None if query.side is None else str(query.side), query.region,
        decode_cursor(query.cursor, int), query.limit + 1, now, query.include_closed,
    )  # fmt: skip
    specs: dict[int, Any] = {}
    found = []
    for row in rows:
        if row["commodity_id"] not in specs:
            specs[row["commodity_id"]] = await flows.spec_by_code(pool, row["commodity_code"])
        found.append(await flows.view(pool, row, specs[row["commodity_id"]], now))
    return page_of(found, query.limit, lambda listing: listing.id)


@routes.route(
    "GET",
    "/v1/listings/{listing_id}",
    summary="One listing, with its poster and the poster's credit score",
    roles=ANY_PARTICIPANT,
    response=Listing,
)
async def get_listing(ctx: Context) -> Listing:
    pool = ctx.runtime.pool
    row = await flows.locked(pool, ctx.int_param("listing_id"))
    spec = await flows.spec_by_id(pool, row["commodity_id"])
    return await flows.view(pool, row, spec, ctx.app[CLOCK].now())


@routes.route(
    "PATCH",
    "/v1/listings/{listing_id}",
    summary="Amend one's own listing: price, quantity (not below what was taken), valid_until,"
    " specification; takes already made keep their terms",
    roles=TRADERS,
    owned=Owned("listing_id"),
    body=AmendListing,
    response=Listing,
    errors=[409],
)
async def amend_listing(ctx: Context) -> Listing:
    body: AmendListing = ctx.body
    now = ctx.app[CLOCK].now()
    async with ctx.transaction() as conn:
        row = await flows.owned(conn, ctx.int_param("listing_id"), ctx.caller.participant_id, now)
        spec = await flows.spec_by_id(conn, row["commodity_id"])
        changes = {
            "price_ticks": None if body.price is None else flows.ticks(spec, body.price),
            "quantity_lots": None
            if body.quantity is None
            else flows.lots(spec, "quantity", body.quantity),
            "valid_until": body.valid_until,
            "specification": body.specification,
        }
        row = await flows.amend(conn, row, changes, now)
        await ctx.audit(conn, "listing.amend", f"listing:{row['id']}")
        listing = await flows.view(conn, row, spec, now)
    feed.publish(ctx.app[MARKET], ListingEvent.AMENDED, listing)
    return listing


@routes.route(
    "POST",
    "/v1/listings/{listing_id}/withdraw",
    summary="Withdraw one's own listing: it can no longer be taken; takes already made stand",
    roles=TRADERS,
    owned=Owned("listing_id"),
    response=Listing,
    errors=[409],
)
async def withdraw_listing(ctx: Context) -> Listing:
    now = ctx.app[CLOCK].now()
    async with ctx.transaction() as conn:
        row = await flows.owned(conn, ctx.int_param("listing_id"), ctx.caller.participant_id, now)
        row = await flows.withdraw(conn, row, now)
        await ctx.audit(conn, "listing.withdraw", f"listing:{row['id']}")
        spec = await flows.spec_by_id(conn, row["commodity_id"])
        listing = await flows.view(conn, row, spec, now)
    feed.publish(ctx.app[MARKET], ListingEvent.WITHDRAWN, listing)
    return listing


@routes.route(
    "POST",
    "/v1/listings/{listing_id}/take",
    summary="Take all or part of another party's listing at its price: a buyer takes a sell"
    " listing, a supplier a buy listing; at least the listing's minimum (or all that is left,"
    " if less); each take is a signed contract",
    roles=TRADERS,
    idempotency=Idempotency.REQUIRED,
    body=TakeListing,
    response=Take,
    status=201,
    errors=[403, 409],
)
async def take_listing(ctx: Context) -> Take:
    body: TakeListing = ctx.body
    now = ctx.app[CLOCK].now()
    taker = flows.Taker(ctx.caller.participant_id, frozenset(str(r) for r in ctx.caller.roles))
    async with ctx.transaction() as conn:
        take_id, row, quantity, contract = await flows.take(
            conn, ctx.int_param("listing_id"), taker, body.quantity, now, ctx.runtime.signer
        )
        spec = await flows.spec_by_id(conn, row["commodity_id"])
        await ctx.audit(
            conn, "listing.take", f"listing:{row['id']}",
            {"take_id": take_id, "contract_id": contract.id},
        )  # fmt: skip
        taken = Take(
            id=take_id,
            listing=await flows.view(conn, row, spec, now),
            quantity=spec.quantity_text(quantity),
            contract=contract,
        )
        await ctx.remember(conn, taken)
    feed.publish(ctx.app[MARKET], ListingEvent.TAKEN, taken.listing)
    ctx.app[MARKET].contract_changed("created", contract)  # the parties' user channels, as a trade
    return taken
