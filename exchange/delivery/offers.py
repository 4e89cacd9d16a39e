"""Offering a task to the next eligible node, or letting it wait (docs/delivery.md, "Tasks and
routing"). Runs in the caller's transaction with the task row locked."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from exchange.db import Conn
from exchange.delivery import alerts
from exchange.delivery.nodes import day_start
from exchange.delivery.views import TaskNotices, record, task_row
from exchange.messages.delivery import AlertKind

# the best node for a task: active (and its participant too), online, with the lane, under
# its daily capacity, not offered this task before; least loaded, then cheapest, then by code
_ELIGIBLE = """
SELECT n.id, n.code, n.participant_id
  FROM nodes n
  JOIN participants p ON p.id = n.participant_id AND p.status = 'active'
  JOIN lanes l ON l.node_id = n.id AND l.commodity_id = $1 AND l.origin_region = $2
                  AND l.destination_region = $3
 WHERE n.status = 'active'
   AND (n.last_seen_at > $5 OR n.participant_id = ANY($6::bigint[]))
   AND NOT EXISTS (SELECT 1 FROM task_offers o WHERE o.task_id = $4 AND o.node_id = n.id)
   AND (SELECT count(*) FROM task_offers o
         WHERE o.node_id = n.id AND o.offered_at >= $7
           AND (o.outcome IS NULL OR o.outcome = 'accepted')) < n.daily_capacity
 ORDER BY (SELECT count(*) FROM delivery_tasks t WHERE t.node_id = n.id
             AND t.status IN ('assigned', 'accepted', 'picked_up', 'in_transit')),
          l.rate_minor, n.code
 LIMIT 1"""


@dataclass(frozen=True, slots=True)
class RoutingRules:
    """How long an offer stands, and how long a node may be silent and still count online."""

    offer: timedelta
    silence: timedelta


async def end_offer(
    conn: Conn, task_id: int, node_id: int, outcome: str, reason: str | None = None
) -> None:
    """Record how the node's offer of the task ended (accepted, rejected, expired, withdrawn)."""
    await conn.execute(
        "UPDATE task_offers SET outcome = $3, reason = $4 WHERE task_id = $1 AND node_id = $2",
        task_id,
        node_id,
        outcome,
        reason,
    )


async def offer_next(
    conn: Conn,
    row: asyncpg.Record,
    now: datetime,
    rules: RoutingRules,
    connected: Collection[int],
    notices: TaskNotices,
    *,
    created: bool = False,
) -> asyncpg.Record:
    """Offer the (locked) task to the next eligible node, or make it wait and alert the
    operators (when it starts to wait, or was just `created`); the task as it is now."""
    node = await conn.fetchrow(
        _ELIGIBLE,
        row["commodity_id"],
        row["origin_region"],
        row["destination_region"],
        row["id"],
        now - rules.silence,
        list(connected),
        day_start(now),
    )
    if node is None:
        return await _wait(conn, row, now, notices, created)
    expires = now + rules.offer
    await conn.execute(
        "INSERT INTO task_offers (task_id, node_id, offered_at) VALUES ($1, $2, $3)",
        row["id"],
        node["id"],
        now,
    )
    await conn.execute(
        """UPDATE delivery_tasks SET status = 'assigned', node_id = $2, offer_expires_at = $3,
                  updated_at = $4 WHERE id = $1""",
        row["id"],
        node["id"],
        expires,
        now,
    )
    await record(conn, row["id"], "offered", node["id"], now, {"expires_at": expires.isoformat()})
    changed = await task_row(conn, row["id"])
    notices.add("offered", changed, [node["participant_id"]])
    return changed


async def _wait(
    conn: Conn, row: asyncpg.Record, now: datetime, notices: TaskNotices, created: bool
) -> asyncpg.Record:
    if row["status"] == "waiting" and not created:
        return row  # still nobody: nothing changes, the open alert stands
    await conn.execute(
        """UPDATE delivery_tasks SET status = 'waiting', node_id = NULL, offer_expires_at = NULL,
                  updated_at = $2 WHERE id = $1""",
        row["id"],
        now,
    )
    await record(conn, row["id"], "waiting", None, now, {"reason": "no eligible node"})
    await alerts.raise_alert(
        conn,
        AlertKind.NO_NODE,
        f"task:{row['id']}",
        f"no node can take delivery task {row['id']} ({row['origin_region']} ->"
        f" {row['destination_region']}, {row['commodity']}); it waits",
        now,
        {"task_id": str(row["id"]), "contract_id": str(row["contract_id"])},
    )
    changed = await task_row(conn, row["id"])
    notices.add("waiting", changed)
    return changed
