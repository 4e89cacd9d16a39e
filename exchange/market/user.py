"""The `user` channel's snapshot: the participant's open orders, exact as of its sequence.

The open orders are read from PostgreSQL, which takes time; the updates published for the
participant meanwhile are collected and applied on top of the rows, in order. Each update holds
whole orders, and a book publishes its batches in commit order after committing them, so an
update collected during the read is either already in the rows (and applying it again is
overwritten by the later updates of the same order, which are collected too) or newer than
them. The result is the state after every update published up to the moment the snapshot is
queued: the snapshot takes the channel's current sequence, and the next update is exactly
`sequence + 1`.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from exchange.messages.orders import Order, OrderStatus
from exchange.orders.store import ORDER_COLUMNS
from exchange.orders.views import order_from_row
from exchange.reference import CommoditySpec, load_specs

OPEN = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})

_OPEN_ORDERS = f"""SELECT {ORDER_COLUMNS} FROM orders
                    WHERE participant_id=$1 AND status IN ('open', 'partially_filled')"""


class OpenOrders:
    """Reads user snapshots; `published` must see every update of the `user` channel."""

    def __init__(self) -> None:
        self._reading: dict[int, list[list[list[Order]]]] = {}

    def published(self, participant_id: int, orders: list[Order]) -> None:
        """Orders of the participant changed in a published batch (subscribed to or not)."""
        for collected in self._reading.get(participant_id, ()):
            collected.append(orders)

    async def read(
        self, pool: asyncpg.Pool, participant_id: int, specs: Iterable[CommoditySpec]
    ) -> list[Order]:
        """The participant's open orders, by id, including every update published so far."""
        collected: list[list[Order]] = []
        readers = self._reading.setdefault(participant_id, [])
        readers.append(collected)
        try:
            by_id = {spec.id: spec for spec in specs}
            async with pool.acquire() as conn:
                rows = await conn.fetch(_OPEN_ORDERS, participant_id)
                if any(row["commodity_id"] not in by_id for row in rows):
                    by_id = {spec.id: spec for spec in await load_specs(conn)}
        finally:
            readers.remove(collected)
            if not readers:
                del self._reading[participant_id]
        orders = {row["id"]: order_from_row(by_id[row["commodity_id"]], row) for row in rows}
        for changed in collected:
            for order in changed:
                if order.status in OPEN:
                    orders[order.id] = order
                else:
                    orders.pop(order.id, None)
        return [orders[oid] for oid in sorted(orders)]
