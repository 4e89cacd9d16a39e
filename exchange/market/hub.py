"""WebSocket fan-out: channels, bounded per-client outboxes, one writer task per client.

Publishing is synchronous and never waits on a client: a message is encoded once and its bytes
appended to each subscriber's outbox. A client whose outbox is full has fallen behind; it is
told (`SLOW_CONSUMER`) and disconnected, and never slows the publisher or other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Hashable

import msgspec
import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from exchange.messages.market import ErrorMessage, ServerMessage
from exchange.metrics import Metrics

log = structlog.get_logger("exchange.market.hub")

ChannelKey = tuple[str, Hashable]  # ("book", "STEEL"), ("user", 42), ("heartbeat", None)
_ENCODE = msgspec.json.Encoder().encode


def encode(message: ServerMessage) -> bytes:
    return _ENCODE(message)


class Client:
    """One connected socket: its outbox, its subscriptions and the task that writes to it."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        participant_id: int,
        limit: int,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.participant_id = participant_id
        self.limit = limit
        self.channels: set[ChannelKey] = set()
        self.outbox: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.closing: tuple[WSCloseCode, str] | None = None
        self.writer: asyncio.Task[None] | None = None

    def send(self, payload: bytes) -> None:
        """Queue a direct answer (ack, snapshot, error); not subject to the bound."""
        if self.closing is None:
            self.outbox.append(payload)
            self.wake.set()

    def offer(self, payload: bytes) -> bool:
        """Queue a fanned-out message; False if the outbox is full."""
        if self.closing is not None:
            return True
        if len(self.outbox) >= self.limit:
            return False
        self.outbox.append(payload)
        self.wake.set()
        return True

    def close(self, code: WSCloseCode, reason: str, last: bytes | None = None) -> None:
        """Drop what is queued, send `last` if given, then close the socket."""
        if self.closing is not None:
            return
        self.outbox.clear()
        if last is not None:
            self.outbox.append(last)
        self.closing = (code, reason)
        self.wake.set()

    async def write(self) -> None:
        """Drain the outbox into the socket until closed."""
        ws = self.ws
        try:
            while True:
                if not self.outbox:
                    if self.closing is not None:
                        await ws.close(code=self.closing[0], message=self.closing[1].encode())
                        return
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                await ws.send_frame(self.outbox.popleft(), WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:
            log.info("websocket write failed", error=repr(exc))


class Hub:
    """Channels and their subscribers; sequence numbers per channel."""

    def __init__(self, metrics: Metrics, queue_limit: int, close_grace: float) -> None:
        self.metrics = metrics
        self.queue_limit = queue_limit
        self.close_grace = close_grace
        self.clients: set[Client] = set()
        self.channels: dict[ChannelKey, dict[Client, None]] = {}
        self.sequences: dict[ChannelKey, int] = {}
        self._slow = encode(
            ErrorMessage(
                code="SLOW_CONSUMER",
                message="the client did not read fast enough; the connection is closed",
            )
        )

    def connect(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        participant_id: int,
    ) -> Client:
        client = Client(ws, transport, participant_id, self.queue_limit)
        client.writer = asyncio.create_task(client.write(), name="ws-writer")
        self.clients.add(client)
        self.metrics.ws_clients.inc()
        return client

    async def disconnect(self, client: Client) -> None:
        """Forget the client and stop its writer (the socket is already closing)."""
        self._forget(client)
        if client.writer is not None and not client.writer.done():
            client.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.writer

    def _forget(self, client: Client) -> None:
        for key in client.channels:
            subscribers = self.channels.get(key)
            if subscribers is not None:
                subscribers.pop(client, None)
                if not subscribers:
                    del self.channels[key]
        client.channels.clear()
        if client in self.clients:
            self.clients.discard(client)
            self.metrics.ws_clients.dec()

    def shut_out(self, participant_id: int, code: str, message: str) -> int:
        """Close every socket of a participant (e.g. suspended), telling it why."""
        last = encode(ErrorMessage(code=code, message=message))
        closing = [client for client in self.clients if client.participant_id == participant_id]
        for client in closing:
            self._forget(client)
            client.close(WSCloseCode.POLICY_VIOLATION, code, last)
            asyncio.get_running_loop().call_later(self.close_grace, _abort, client)
        return len(closing)

    def subscribe(self, client: Client, key: ChannelKey) -> None:
        self.channels.setdefault(key, {})[client] = None
        client.channels.add(key)

    def unsubscribe(self, client: Client, key: ChannelKey) -> None:
        client.channels.discard(key)
        subscribers = self.channels.get(key)
        if subscribers is not None:
            subscribers.pop(client, None)
            if not subscribers:
                del self.channels[key]

    def has_subscribers(self, key: ChannelKey) -> bool:
        return key in self.channels

    def sequence(self, key: ChannelKey) -> int:
        """The sequence of the last message published on the channel."""
        return self.sequences.get(key, 0)

    def next_sequence(self, key: ChannelKey) -> int:
        value = self.sequences.get(key, 0) + 1
        self.sequences[key] = value
        return value

    def publish(self, key: ChannelKey, payload: bytes) -> None:
        """Queue already-encoded bytes for every subscriber; evict the ones that fell behind."""
        subscribers = self.channels.get(key)
        if not subscribers:
            return
        slow = [client for client in subscribers if not client.offer(payload)]
        for client in slow:
            self.evict(client)

    def evict(self, client: Client) -> None:
        """Tell a client that fell behind, close it, and abort it if it never reads again."""
        log.warning("slow websocket consumer dropped", participant_id=client.participant_id)
        self.metrics.ws_slow_consumers.inc()
        self._forget(client)
        client.close(WSCloseCode.POLICY_VIOLATION, "SLOW_CONSUMER", self._slow)
        asyncio.get_running_loop().call_later(self.close_grace, _abort, client)

    async def close_all(self, grace: float) -> None:
        """Close every socket (server shutdown), waiting at most `grace` seconds for them."""
        clients = list(self.clients)
        for client in clients:
            client.close(WSCloseCode.GOING_AWAY, "server shutdown")
        writers = [c.writer for c in clients if c.writer is not None]
        if writers:
            _, pending = await asyncio.wait(writers, timeout=grace)
            for client in clients:
                if client.writer in pending:
                    _abort(client)


def _abort(client: Client) -> None:
    """Cut a connection that did not take its close in time."""
    if client.writer is not None and not client.writer.done():
        client.writer.cancel()
    transport = client.transport
    if transport is not None and not transport.is_closing():
        transport.abort()
