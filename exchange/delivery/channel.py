"""The `node` WebSocket channel: a node's delivery tasks (docs/delivery.md, "Node API").

A node subscribes with its own key: first a `tasks_snapshot` of its open tasks, then a `task`
message whenever one of them is offered, changes or is withdrawn (published after commit by
`TaskNotices`). Every message a node's socket sends, and the connection itself, counts as a
sign of life (`last_seen_at`).

The snapshot is read from PostgreSQL, which takes time: it is read again if anything was
published on the channel meanwhile, so it holds every update up to its `sequence`. Each `task`
message carries the whole task, so one that the snapshot already holds changes nothing.
"""

from __future__ import annotations

import asyncpg

from exchange.clock import Clock
from exchange.delivery import nodes, views
from exchange.delivery.errors import UnknownNodeError
from exchange.errors import ForbiddenError
from exchange.market.data import MarketData
from exchange.market.hub import ChannelKey, Client, encode
from exchange.messages.delivery import TasksSnapshot
from exchange.messages.market import Channel, ChannelName, Subscribed
from exchange.messages.participants import Role


class NodeChannel:
    """Subscriptions to `node` and the signs of life of nodes' sockets."""

    def __init__(self, market: MarketData, pool: asyncpg.Pool, clock: Clock) -> None:
        self._market = market
        self._pool = pool
        self._clock = clock

    async def subscribe(self, client: Client, roles: frozenset[Role]) -> None:
        """Subscribe the node's socket: acknowledgement, then the snapshot."""
        if Role.NODE not in roles:
            raise ForbiddenError("the node channel needs the node role", code="ROLE_REQUIRED")
        node = await nodes.node_of_participant(self._pool, client.participant_id)
        if node is None:
            raise UnknownNodeError("this participant is not a registered node")
        await nodes.touch(self._pool, [client.participant_id], self._clock.now())
        hub = self._market.hub
        key: ChannelKey = (ChannelName.NODE, client.participant_id)
        tasks = await hub.read_quietly(key, lambda: views.node_open_tasks(self._pool, node["id"]))
        # no await from here on: the snapshot is exact at this moment
        client.send(encode(Subscribed(channels=[Channel(name=ChannelName.NODE)])))
        hub.subscribe(client, key)
        client.send(encode(TasksSnapshot(sequence=hub.sequence(key), tasks=tasks)))

    async def seen(self, client: Client, roles: frozenset[Role]) -> None:
        """A node's socket spoke: it is alive."""
        if Role.NODE in roles:
            await nodes.touch(self._pool, [client.participant_id], self._clock.now())
