"""The `listings` WebSocket channel: a commodity's named listings as they change
(docs/negotiation.md, "The listings channel").

Anyone may subscribe, as anyone may read GET /v1/listings: first a `listings_snapshot` of the
commodity's open listings, then a `listing` message whenever one is published, amended, taken
or withdrawn, sent after the change commits. The snapshot is read from PostgreSQL, which takes
time: it is read again if anything was published on the channel meanwhile, so it holds every
change up to its `sequence`. Each message carries the whole listing, so one the snapshot already
holds changes nothing. Expiry sends nothing: every listing carries its `valid_until`."""

from __future__ import annotations

import asyncpg

from exchange.clock import Clock
from exchange.market.data import MarketData
from exchange.market.hub import ChannelKey, Client, encode
from exchange.messages.listings import Listing, ListingEvent, ListingMessage, ListingsSnapshot
from exchange.messages.market import Channel, ChannelName, Subscribed
from exchange.negotiation import listings
from exchange.reference import CommoditySpec

SNAPSHOT = 500  # listings in a snapshot at most, newest first


def key_of(commodity: str) -> ChannelKey:
    return (ChannelName.LISTINGS, commodity)


async def _open(pool: asyncpg.Pool, spec: CommoditySpec, clock: Clock) -> list[Listing]:
    now = clock.now()
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT {listings.COLUMNS} {listings.FROM}
                 WHERE l.commodity_id = $1 AND {listings.OPEN_AT.format(now=2)}
                 ORDER BY l.id DESC LIMIT $3""",
            spec.id, now, SNAPSHOT + 1,
        )  # fmt: skip
        return [await listings.view(conn, row, spec, now) for row in rows]


async def subscribe(
    market: MarketData, pool: asyncpg.Pool, clock: Clock, client: Client, spec: CommoditySpec
) -> None:
    """Subscribe a socket to a commodity's listings: acknowledgement, then the snapshot."""
    hub, key = market.hub, key_of(spec.code)
    found = await hub.read_quietly(key, lambda: _open(pool, spec, clock))
    # no await from here on: the snapshot is exact at this moment
    client.send(encode(Subscribed(channels=[Channel(name=ChannelName.LISTINGS,
                                                    commodity=spec.code)])))  # fmt: skip
    hub.subscribe(client, key)
    snapshot = ListingsSnapshot(
        sequence=hub.sequence(key),
        commodity=spec.code,
        listings=found[:SNAPSHOT],
        complete=len(found) <= SNAPSHOT,
    )
    client.send(encode(snapshot))


def publish(market: MarketData, event: ListingEvent, listing: Listing) -> None:
    """A listing changed and the change is committed: tell the commodity's channel."""
    hub, key = market.hub, key_of(listing.commodity)
    # the sequence moves with or without subscribers: a snapshot being read sees it must read
    # again
    sequence = hub.next_sequence(key)
    if hub.has_subscribers(key):
        hub.publish(key, encode(ListingMessage(sequence=sequence, event=event, listing=listing)))
