"""The WebSocket endpoint: market channels and the caller's own order updates.

Authentication is the same Bearer API key as every other endpoint (checked before the upgrade,
so an unknown key is a 401 and a suspended participant a 403). Protocol: docs/market-data.md.
"""

from __future__ import annotations

import asyncpg
import msgspec
from aiohttp import WSMsgType, web

from exchange.api.endpoint import ANY_PARTICIPANT, Context, Routes
from exchange.appkeys import CLOCK, LIMITER, MARKET, RFQ_CHANNEL
from exchange.auth import Principal
from exchange.db import Queryable
from exchange.db.health import database_unavailable
from exchange.delivery.channel import NodeChannel
from exchange.errors import ApiError, BadRequestError
from exchange.market.data import MarketData
from exchange.market.hub import Client, encode
from exchange.messages.market import (
    MARKET_CHANNELS,
    ChannelName,
    ClientMessage,
    ErrorMessage,
    Subscribe,
)
from exchange.negotiation.channel import RfqChannel
from exchange.ratelimit import RateLimiter

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


async def _own_channels(
    message: Subscribe, client: Client, node: tuple[NodeChannel, Principal], rfq: RfqChannel,
    pool: Queryable,
) -> Subscribe | None:  # fmt: skip
    """Subscribe `node` (docs/delivery.md) and `rfqs` (docs/negotiation.md), which read their
    own snapshots; what is left of the message, if anything."""
    names = {channel.name for channel in message.channels}
    if ChannelName.NODE in names:
        await node[0].subscribe(client, node[1].roles)
    if ChannelName.RFQS in names:
        await rfq.subscribe(client, node[1].roles, pool)
    rest = [c for c in message.channels if c.name not in (ChannelName.NODE, ChannelName.RFQS)]
    return Subscribe(channels=rest) if rest else None


async def _handle(
    market: MarketData,
    pool: Queryable,
    client: Client,
    data: str | bytes,
    node: tuple[NodeChannel, Principal],
    rfq: RfqChannel,
) -> None:
    decoded = _decode(data)
    if not isinstance(decoded, Subscribe):
        market.unsubscribe(client, decoded.channels)
        return
    message = await _own_channels(decoded, client, node, rfq, pool)
    if message is None:
        return
    for channel in message.channels:
        if channel.name in MARKET_CHANNELS:
            assert channel.commodity is not None
            spec = await market.spec(pool, channel.commodity)
            if spec is None:
                raise _Refused(
                    "UNKNOWN_COMMODITY", f"commodity {channel.commodity!r} does not exist"
                )
            await market.prepare(spec)
    wanted = {market.channel_key(client, channel) for channel in message.channels}
    if len(client.channels | wanted) > MAX_SUBSCRIPTIONS:
        raise _Refused(
            "TOO_MANY_SUBSCRIPTIONS", f"at most {MAX_SUBSCRIPTIONS} channels per connection"
        )
    try:
        await market.subscribe(client, message.channels)
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
    node = NodeChannel(market, pool, ctx.app[CLOCK]), caller
    try:
        await node[0].seen(client, caller.roles)  # a node's socket: it is alive
        async for frame in ws:
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or client.closing:
                continue  # a closing client's requests are read and dropped, never answered
            try:
                _spend(limits, caller.participant_id)
                await node[0].seen(client, caller.roles)
                await _handle(market, pool, client, frame.data, node, ctx.app[RFQ_CHANNEL])
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
