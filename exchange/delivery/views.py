"""Delivery tasks as the API and the WebSocket show them, who may see them, and the notices
of a transaction, published after it commits (never before: durable first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import msgspec

from exchange.db import Conn, Queryable
from exchange.delivery.errors import UnknownTaskError
from exchange.market.data import MarketData
from exchange.market.hub import encode
from exchange.messages.delivery import (
    DeliveryNotice,
    DeliveryTask,
    TaskMessage,
    TaskStatus,
    TimelineEntry,
)
from exchange.messages.market import ChannelName
from exchange.units import QUANTITY_SCALE, format_scaled

OPEN = ("waiting", "assigned", "accepted", "picked_up", "in_transit")
TASK_SELECT = """
SELECT t.*, n.code AS node_code, n.participant_id AS node_participant, c.buyer_id, c.seller_id,
       m.code AS commodity
  FROM delivery_tasks t
  JOIN contracts c ON c.commodity_id = t.commodity_id AND c.id = t.contract_id
  JOIN commodities m ON m.id = t.commodity_id
  LEFT JOIN nodes n ON n.id = t.node_id"""
# $1 the caller, $2 whether it is an operator
VISIBLE = """($2 OR c.buyer_id = $1 OR c.seller_id = $1 OR EXISTS (
    SELECT 1 FROM task_offers o JOIN nodes v ON v.id = o.node_id
     WHERE o.task_id = t.id AND v.participant_id = $1))"""


def _quantity(micro: int | None) -> str | None:
    return None if micro is None else format_scaled(micro, QUANTITY_SCALE)


def task_from_row(row: asyncpg.Record, viewer: int | None) -> DeliveryTask:
    """The task as `viewer` sees it: the delivery code is the buyer's alone."""
    return DeliveryTask(
        id=row["id"],
        contract_id=row["contract_id"],
        commodity=row["commodity"],
        attempt=row["attempt"],
        status=TaskStatus(row["status"]),
        node=row["node_code"],
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
        origin_region=row["origin_region"],
        destination_region=row["destination_region"],
        quantity=format_scaled(row["quantity_micro"], QUANTITY_SCALE),
        window_start=row["window_start"],
        window_end=row["window_end"],
        offer_expires_at=row["offer_expires_at"],
        delivery_code=row["delivery_code"] if viewer == row["buyer_id"] else None,
        wrong_codes=row["wrong_codes"],
        available_quantity=_quantity(row["available_micro"]),
        delivered_quantity=_quantity(row["delivered_micro"]),
        receiver_name=row["receiver_name"],
        proof_sha256=row["proof_sha256"],
        delivered_at=row["delivered_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def task_row(conn: Queryable, task_id: int, *, lock: bool = False) -> asyncpg.Record:
    """The task (locked for the transaction with `lock`); 404 if there is none."""
    if not 0 < task_id < 1 << 63:
        raise UnknownTaskError(f"delivery task {task_id} does not exist")
    suffix = " FOR UPDATE OF t" if lock else ""
    row = await conn.fetchrow(f"{TASK_SELECT} WHERE t.id = $1{suffix}", task_id)
    if row is None:
        raise UnknownTaskError(f"delivery task {task_id} does not exist")
    return row  # type: ignore[no-any-return]


async def visible_task(
    conn: Queryable, task_id: int, viewer: int, operator: bool
) -> asyncpg.Record:
    """The task if the viewer may see it; 404 as if it did not exist otherwise."""
    if not 0 < task_id < 1 << 63:
        raise UnknownTaskError(f"delivery task {task_id} does not exist")
    row = await conn.fetchrow(f"{TASK_SELECT} WHERE t.id = $3 AND {VISIBLE}",
                              viewer, operator, task_id)  # fmt: skip
    if row is None:
        raise UnknownTaskError(f"delivery task {task_id} does not exist")
    return row  # type: ignore[no-any-return]


async def list_tasks(
    conn: Queryable,
    viewer: int,
    operator: bool,
    status: str | None,
    before: tuple[datetime, int] | None,
    limit: int,
) -> list[DeliveryTask]:
    """The tasks the viewer may see, newest first."""
    rows = await conn.fetch(
        f"""{TASK_SELECT}
             WHERE {VISIBLE} AND ($3::text IS NULL OR t.status = $3)
               AND ($4::timestamptz IS NULL OR (t.created_at, t.id) < ($4, $5))
             ORDER BY t.created_at DESC, t.id DESC LIMIT $6""",
        viewer,
        operator,
        status,
        before[0] if before else None,
        before[1] if before else 0,
        limit,
    )
    return [task_from_row(row, viewer) for row in rows]


async def node_open_tasks(conn: Queryable, node_id: int) -> list[DeliveryTask]:
    """The open tasks offered to or carried by a node (its `node` channel's snapshot)."""
    rows = await conn.fetch(
        f"""{TASK_SELECT} WHERE t.node_id = $1
              AND t.status IN ('assigned', 'accepted', 'picked_up', 'in_transit')
            ORDER BY t.id""",
        node_id,
    )
    return [task_from_row(row, None) for row in rows]


async def timeline(conn: Queryable, task_id: int) -> list[TimelineEntry]:
    rows = await conn.fetch(
        """SELECT e.kind, n.code, e.detail, e.at FROM task_events e
             LEFT JOIN nodes n ON n.id = e.node_id
            WHERE e.task_id = $1 ORDER BY e.id""",
        task_id,
    )
    return [
        TimelineEntry(
            kind=r["kind"],
            node=r["code"],
            detail=msgspec.json.decode(r["detail"], type=dict[str, str]),
            at=r["at"],
        )
        for r in rows
    ]


async def record(
    conn: Conn,
    task_id: int,
    kind: str,
    node_id: int | None,
    now: datetime,
    detail: dict[str, str] | None = None,
) -> None:
    """Add an entry to the task's timeline."""
    await conn.execute(
        "INSERT INTO task_events (task_id, kind, node_id, detail, at)"
        " VALUES ($1, $2, $3, $4::jsonb, $5)",
        task_id,
        kind,
        node_id,
        msgspec.json.encode(detail or {}).decode(),
        now,
    )


@dataclass(slots=True)
class TaskNotices:
    """What one transaction changed, for the parties' `user` and the nodes' `node` channels."""

    pending: list[tuple[str, asyncpg.Record, tuple[int, ...]]] = field(default_factory=list)

    def add(self, event: str, row: asyncpg.Record, nodes: Iterable[int | None] = ()) -> None:
        """`row` changed (`event`); tell its parties, and the nodes (by participant) given."""
        self.pending.append((event, row, tuple(pid for pid in nodes if pid is not None)))

    def publish(self, market: MarketData) -> None:
        hub = market.hub
        for event, row, nodes in self.pending:
            for pid in {row["buyer_id"], row["seller_id"]}:
                key = (ChannelName.USER, pid)
                if hub.has_subscribers(key):
                    task = task_from_row(row, pid)
                    notice = DeliveryNotice(sequence=hub.next_sequence(key), event=event, task=task)
                    hub.publish(key, encode(notice))
            for pid in set(nodes):
                # the node channel's sequence moves with or without subscribers: a snapshot
                # being read sees that it must read again (exchange/delivery/channel.py)
                key = (ChannelName.NODE, pid)
                sequence = hub.next_sequence(key)
                if hub.has_subscribers(key):
                    task = task_from_row(row, None)
                    message = TaskMessage(sequence=sequence, event=event, task=task)
                    hub.publish(key, encode(message))
        self.pending.clear()
