"""WebSocket fan-out: channels, bounded per-client outboxes, one writer task per client.

Publishing is synchronous and never waits on a client: a message is encoded once and its bytes
appended to each subscriber's outbox. A client whose outbox is full has fallen behind; it is
told (`SLOW_CONSUMER`) and disconnected, and never slows the publisher or other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

import msgspec
import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from exchange.messages.market import ErrorMessage, ServerMessage
from exchange.metrics import Metrics

log = structlog.get_logger("exchange.market.hub")

ChannelKey = tuple[str, Hashable]  # ("book", "STEEL"), ("user", 42), ("heartbeat", None)
T = TypeVar("T")
QUIET_READS = 5  # snapshot reads before giving up on a quiet moment (then the last one is sent)
_ENCODE = msgspec.json.Encoder().encode


def encode(message: ServerMessage) -> bytes:
    return _ENCODE(message)


class Client:
    """One connected socket: its outbox, its subscriptions and the task that writes to it.

    Everything queued for the client (fanned-out messages, acks, snapshots, errors) counts
    against one bound: it is full at `limit` messages or `byte_limit` bytes, counting the
    message being written. A message is taken while the outbox is not full, so a client holds
    at most `byte_limit` bytes plus the one message that crossed the bound (a big snapshot).
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        participant_id: int,
        key_id: int,
        limits: tuple[int, int],
        overflow: Callable[[Client], None],
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.participant_id = participant_id
        self.key_id = key_id
        self.limit, self.byte_limit = limits
        self.channels: set[ChannelKey] = set()
        self.outbox: deque[bytes] = deque()
        self.queued_bytes = 0  # in the outbox or being written
        self.wake = asyncio.Event()
        self.closing: tuple[WSCloseCode, str] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.abort_timer: asyncio.TimerHandle | None = None
        self._overflow = overflow

    def send(self, payload: bytes) -> None:
        """Queue a direct answer (ack, snapshot, error); a full outbox drops the client."""
        if not self.offer(payload):
            self._overflow(self)

    def offer(self, payload: bytes) -> bool:
        """Queue a message; False if the outbox is full (the caller drops the client)."""
        if self.closing is not None:
            return True
        if len(self.outbox) >= self.limit or self.queued_bytes >= self.byte_limit:
            return False
        self.outbox.append(payload)
        self.queued_bytes += len(payload)
        self.wake.set()
        return True

    def close(self, code: WSCloseCode, reason: str, last: bytes | None = None) -> None:
        """Drop what is queued, send `last` if given, then close the socket."""
        if self.closing is not None:
            return
        self.queued_bytes -= sum(len(payload) for payload in self.outbox)
        self.outbox.clear()
        if last is not None:
            self.outbox.append(last)
            self.queued_bytes += len(last)
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
                payload = self.outbox.popleft()
                try:
                    await ws.send_frame(payload, WSMsgType.TEXT)
                finally:
                    self.queued_bytes -= len(payload)
        except (ConnectionError, RuntimeError) as exc:
            log.info("websocket write failed", error=repr(exc))


class Hub:
    """Channels and their subscribers; sequence numbers per channel."""

    def __init__(
        self, metrics: Metrics, queue_limit: int, queue_bytes: int, close_grace: float
    ) -> None:
        self.metrics = metrics
        self.queue_limit = queue_limit
        self.queue_bytes = queue_bytes
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
        key_id: int,
    ) -> Client:
        limits = (self.queue_limit, self.queue_bytes)
        client = Client(ws, transport, participant_id, key_id, limits, self.evict)
        client.writer = asyncio.create_task(client.write(), name="ws-writer")
        self.clients.add(client)
        self.metrics.ws_clients.inc()
        return client

    async def disconnect(self, client: Client) -> None:
        """Forget the client, stop its writer and free its outbox (the socket is closing)."""
        self._forget(client)
        if client.abort_timer is not None:
            client.abort_timer.cancel()
            client.abort_timer = None
        if client.writer is not None and not client.writer.done():
            client.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.writer
        client.writer = None
        client.outbox.clear()
        client.queued_bytes = 0

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

    def _shut(self, client: Client, code: str, last: bytes) -> None:
        """Forget the client, queue `last` and a close; cut it if it does not read them."""
        self._forget(client)
        client.close(WSCloseCode.POLICY_VIOLATION, code, last)
        if client.abort_timer is None:
            loop = asyncio.get_running_loop()
            client.abort_timer = loop.call_later(self.close_grace, _abort, client)

    def shut_out(self, participant_id: int, code: str, message: str) -> int:
        """Close every socket of a participant (e.g. suspended), telling it why."""
        last = encode(ErrorMessage(code=code, message=message))
        closing = [client for client in self.clients if client.participant_id == participant_id]
        for client in closing:
            self._shut(client, code, last)
        return len(closing)

    def shut_out_key(self, key_id: int, code: str, message: str) -> int:
        """Close every socket opened with one API key (revoked or replaced), telling it why."""
        last = encode(ErrorMessage(code=code, message=message))
        closing = [client for client in self.clients if client.key_id == key_id]
        for client in closing:
            self._shut(client, code, last)
        return len(closing)

    def subscribe(self, client: Client, key: ChannelKey) -> None:
        if client.closing is not None:
            return  # dropped (e.g. by its own subscribe's snapshots): stays forgotten
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

    async def read_quietly(self, key: ChannelKey, read: Callable[[], Awaitable[T]]) -> T:
        """A snapshot read from the database, read again while something was published on `key`
        during the read (at most QUIET_READS times): it then holds every message up to the
        channel's sequence, as long as the caller does not await before queueing it."""
        for _ in range(QUIET_READS - 1):
            sequence = self.sequence(key)
            found = await read()
            if self.sequence(key) == sequence:
                return found
        return await read()

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
        if client.closing is not None:
            return
        log.warning("slow websocket consumer dropped", participant_id=client.participant_id)
        self.metrics.ws_slow_consumers.inc()
        self._shut(client, "SLOW_CONSUMER", self._slow)

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
    client.abort_timer = None
    if client.writer is not None and not client.writer.done():
        client.writer.cancel()
    transport = client.transport
    if transport is not None and not transport.is_closing():
        transport.abort()
