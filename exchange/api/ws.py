"""The WebSocket endpoint: market channels and the caller's own order updates.

Authentication is the same Bearer API key as every other endpoint (checked before the upgrade,
so an unknown key is a 401 and a suspended participant a 403). Protocol: docs/market-data.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import msgspec
from aiohttp import WSMsgType, web

from exchange.api.endpoint import ANY_PARTICIPANT, Context, Routes
from exchange.appkeys import CLOCK, LIMITER, MARKET, RFQ_CHANNEL
from exchange.auth import Principal
from exchange.clock import Clock
from exchange.db import Queryable
from exchange.db.health import database_unavailable
from exchange.delivery.channel import NodeChannel
from exchange.errors import ApiError, BadRequestError
from exchange.market.data import MarketData
from exchange.market.hub import Client, encode
from exchange.messages.market import (
    MARKET_CHANNELS,
    Channel,
    ChannelName,
    ClientMessage,
    ErrorMessage,
    Subscribe,
)
from exchange.negotiation import feed
from exchange.negotiation.channel import RfqChannel
from exchange.ratelimit import RateLimiter
from exchange.reference import CommoditySpec

routes = Routes("market information")
MAX_SUBSCRIPTIONS = 200
MAX_MESSAGE_BYTES = 64 * 1024
_DECODER: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(ClientMessage)
_DATABASE_AWAY = "the database is unavailable; subscribe again shortly"


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _decode(data: str | bytes) -> ClientMessage:
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise _Refused("VALIDATION_FAILED", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise _Refused("MALFORMED_REQUEST", f"the message is not valid JSON: {exc}") from None
    except UnicodeDecodeError:  # a binary frame whose strings are not UTF-8
        raise _Refused("INVALID_UTF8", "the message is not valid UTF-8") from None


def _spend(limits: RateLimiter, participant_id: int) -> None:
    """A message costs what a request costs: the participant's one rate limit covers both."""
    wait = limits.take(participant_id)
    if wait:
        raise _Refused(
            "RATE_LIMITED", f"slow down; this message was ignored, retry in {wait:.2f} s"
        )


async def _specs(
    market: MarketData, pool: Queryable, channels: list[Channel]
) -> dict[str, CommoditySpec]:
    """The commodities the channels name, each known (and its market data ready), or refused."""
    specs: dict[str, CommoditySpec] = {}
    for channel in channels:
        if channel.commodity is None or channel.commodity in specs:
            continue
        spec = await market.spec(pool, channel.commodity)
        if spec is None:
            raise _Refused("UNKNOWN_COMMODITY", f"commodity {channel.commodity!r} does not exist")
        if channel.name in MARKET_CHANNELS:
            await market.prepare(spec)
        specs[channel.commodity] = spec
    return specs


@dataclass(frozen=True, slots=True)
class _Own:
    """What a socket's own channels need: the node and rfqs channels, its caller, the clock."""

    node: NodeChannel
    rfq: RfqChannel
    caller: Principal
    clock: Clock


async def _own_channels(
    message: Subscribe, client: Client, own: _Own, pool: Queryable
) -> list[Channel]:
    """Subscribe `node` (docs/delivery.md) and `rfqs` (docs/negotiation.md), which read their
    own snapshots; the channels left."""
    names = {channel.name for channel in message.channels}
    if ChannelName.NODE in names:
        await own.node.subscribe(client, own.caller.roles)
    if ChannelName.RFQS in names:
        await own.rfq.subscribe(client, own.caller.roles, pool)
    return [c for c in message.channels if c.name not in (ChannelName.NODE, ChannelName.RFQS)]


async def _handle(
    market: MarketData,
    pool: asyncpg.Pool,
    client: Client,
    data: str | bytes,
    own: _Own,
) -> None:
    decoded = _decode(data)
    if not isinstance(decoded, Subscribe):
        market.unsubscribe(client, decoded.channels)
        return
    channels = await _own_channels(decoded, client, own, pool)
    if not channels:
        return
    specs = await _specs(market, pool, channels)
    wanted = {market.channel_key(client, channel) for channel in channels}
    if len(client.channels | wanted) > MAX_SUBSCRIPTIONS:
        raise _Refused(
            "TOO_MANY_SUBSCRIPTIONS", f"at most {MAX_SUBSCRIPTIONS} channels per connection"
        )
    for channel in channels:
        if channel.name is ChannelName.LISTINGS:  # docs/negotiation.md
            await feed.subscribe(market, pool, own.clock, client, specs[channel.commodity or ""])
    rest = [c for c in channels if c.name is not ChannelName.LISTINGS]
    if not rest:
        return
    try:
        await market.subscribe(client, rest)
    except (OSError, asyncpg.PostgresError):
        raise _Refused(
            "UNAVAILABLE", "your open orders could not be read; subscribe again"
        ) from None


@routes.route(
    "GET",
    "/v1/ws",
    summary="WebSocket: book, trades, ticker, candles, heartbeat, your own order updates,"
    " RFQs open to you and your quotes (rfqs) and, for a node, its delivery tasks (protocol in"
    " docs/market-data.md, docs/negotiation.md and docs/delivery.md)",
    status=101,
    roles=ANY_PARTICIPANT,
    errors=[400],  # WEBSOCKET_REQUIRED: a plain GET without the upgrade headers
)
async def websocket(ctx: Context) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=MAX_MESSAGE_BYTES)
    if not ws.can_prepare(ctx.request).ok:
        raise BadRequestError("this endpoint speaks WebSocket only", code="WEBSOCKET_REQUIRED")
    await ws.prepare(ctx.request)
    market, pool = ctx.app[MARKET], ctx.runtime.pool
    caller, limits = ctx.caller, ctx.app[LIMITER].participants
    client = market.connect(ws, ctx.request.transport, caller.participant_id, caller.key_id)
    clock = ctx.app[CLOCK]
    own = _Own(NodeChannel(market, pool, clock), ctx.app[RFQ_CHANNEL], caller, clock)
    try:
        await own.node.seen(client, caller.roles)  # a node's socket: it is alive
        async for frame in ws:
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or client.closing:
                continue  # a closing client's requests are read and dropped, never answered
            try:
                _spend(limits, caller.participant_id)
                await own.node.seen(client, caller.roles)
                await _handle(market, pool, client, frame.data, own)
            except _Refused as refused:
                client.send(encode(ErrorMessage(code=refused.code, message=refused.message)))
            except ApiError as refused:
                text = refused.detail or refused.title
                client.send(encode(ErrorMessage(code=refused.code, message=text)))
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                # the socket stays: market data goes on from memory, the client may retry
                client.send(encode(ErrorMessage(code="UNAVAILABLE", message=_DATABASE_AWAY)))
    finally:
        await market.disconnect(client)
    return ws
