"""The routing sweep: makes delivery tasks and moves them on (docs/delivery.md, "Tasks and
routing").

`run_once` at the clock's time:

- refreshes `last_seen_at` of the nodes whose `node` WebSocket is connected to this process;
- closes the open tasks of cancelled contracts (`cancelled`, withdrawn from their node);
- makes attempt 1 for each `funded` contract without a task, and the backorder attempt for a
  contract whose buyer chose one after a short delivery;
- offers each `waiting` task, and each `assigned` one whose offer expired, to the next node;
- withdraws the unstarted tasks (`assigned`, `accepted`) of silent nodes, alerting operators.

Each task is handled in a transaction of its own, the contract row locked first and then the
task row, both `SKIP LOCKED` (a row a node's event or another center's sweep holds is left for
the next run), so several centers may sweep one database.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import structlog

from exchange.clock import Clock
from exchange.contracts.terms import parse
from exchange.db import Conn
from exchange.db.health import database_unavailable
from exchange.delivery import alerts, nodes
from exchange.delivery.offers import RoutingRules, end_offer, offer_next
from exchange.delivery.views import TaskNotices, record, task_row
from exchange.market.data import MarketData
from exchange.messages.delivery import AlertKind
from exchange.messages.market import ChannelName
from exchange.units import QUANTITY_SCALE, parse_scaled

log = structlog.get_logger("exchange.delivery.routing")
BATCH = 500  # of each kind per run; a backlog beyond that waits for the next run

_NEW = """
SELECT c.commodity_id, c.id FROM contracts c
 WHERE c.status = 'funded' AND NOT EXISTS (
       SELECT 1 FROM delivery_tasks t WHERE t.commodity_id = c.commodity_id
          AND t.contract_id = c.id)
 ORDER BY c.funded_at, c.id LIMIT $1"""
# a backorder: the buyer chose it after attempt 1 was delivered short, and it is not made yet
_BACKORDERS = """
SELECT c.commodity_id, c.id FROM contracts c
  JOIN delivery_tasks t ON t.commodity_id = c.commodity_id AND t.contract_id = c.id
       AND t.attempt = 1 AND t.status = 'delivered' AND t.delivered_micro < t.quantity_micro
 WHERE c.shortage_settlement = 'backorder' AND c.backorder_due_at IS NOT NULL
   AND c.status = 'delivered'
   AND NOT EXISTS (SELECT 1 FROM delivery_tasks b WHERE b.commodity_id = c.commodity_id
                      AND b.contract_id = c.id AND b.attempt = 2)
 LIMIT $1"""
_CANCELLED = """
SELECT t.commodity_id, t.contract_id, t.id FROM delivery_tasks t
  JOIN contracts c ON c.commodity_id = t.commodity_id AND c.id = t.contract_id
 WHERE t.status IN ('waiting', 'assigned', 'accepted', 'picked_up', 'in_transit')
   AND c.status = 'cancelled'
 LIMIT $1"""
_TO_OFFER = """
SELECT commodity_id, contract_id, id FROM delivery_tasks
 WHERE status = 'waiting' OR (status = 'assigned' AND offer_expires_at <= $1)
 ORDER BY id LIMIT $2"""
# nodes silent for the silence allowed, holding tasks they have not started
_SILENT = """
SELECT t.commodity_id, t.contract_id, t.id, n.code FROM delivery_tasks t
  JOIN nodes n ON n.id = t.node_id
 WHERE t.status IN ('assigned', 'accepted')
   AND (n.last_seen_at IS NULL OR n.last_seen_at <= $1)
   AND NOT n.participant_id = ANY($2::bigint[])
 ORDER BY t.id LIMIT $3"""


@dataclass(slots=True)
class RoutingReport:
    """What one run did (task ids)."""

    created: list[int] = field(default_factory=list)
    offered: list[int] = field(default_factory=list)  # moved on: offered again or waiting
    withdrawn: list[int] = field(default_factory=list)  # from silent nodes
    cancelled: list[int] = field(default_factory=list)
    busy: int = 0  # rows another transaction held: left for the next run
    failed: list[int] = field(default_factory=list)  # logged; tried again next run


Step = Callable[[Conn, datetime, TaskNotices], Awaitable[list[int]]]


class RoutingSweep:
    """Makes tasks and routes them at the clock's time; `run_once` for tests, `run` for the app."""

    def __init__(self, clock: Clock, rules: RoutingRules, market: MarketData) -> None:
        self._clock = clock
        self.rules = rules
        self._market = market
        self._pool: asyncpg.Pool | None = None

    def attach(self, pool: asyncpg.Pool) -> None:
        """Sweep this database from now on."""
        self._pool = pool

    def connected(self) -> frozenset[int]:
        """The nodes (by participant) whose `node` WebSocket is connected to this process."""
        keys = list(self._market.hub.channels)
        return frozenset(int(str(pid)) for name, pid in keys if name == ChannelName.NODE)

    async def run_once(self) -> RoutingReport:
        """One pass at the clock's time."""
        assert self._pool is not None, "attach a pool first"
        now, report = self._clock.now(), RoutingReport()
        connected = self.connected()
        if connected:
            await nodes.touch(self._pool, connected, now)
        cancelled = await self._pool.fetch(_CANCELLED, BATCH)
        await self._each(cancelled, now, report, report.cancelled, self._cancel)
        for query in (_NEW, _BACKORDERS):
            for row in await self._pool.fetch(query, BATCH):
                await self._guard(row["id"], report, self._create(row, now, report))
        due = await self._pool.fetch(_TO_OFFER, now, BATCH)
        await self._each(due, now, report, report.offered, self._move_on)
        silent = await self._pool.fetch(_SILENT, now - self.rules.silence, list(connected), BATCH)
        await self._each(silent, now, report, report.withdrawn, self._withdraw)
        return report

    async def _guard(self, key: int, report: RoutingReport, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception as exc:
            if database_unavailable(exc):
                raise
            # one task's failure (a bug) must not hold up every task after it
            log.exception("routing a delivery task failed", key=key)
            report.failed.append(key)

    async def _each(
        self,
        rows: list[asyncpg.Record],
        now: datetime,
        report: RoutingReport,
        done: list[int],
        handle: Callable[[Conn, asyncpg.Record, datetime, TaskNotices], Awaitable[bool]],
    ) -> None:
        for row in rows:
            await self._guard(row["id"], report, self._one(row, now, report, done, handle))

    async def _one(
        self,
        row: asyncpg.Record,
        now: datetime,
        report: RoutingReport,
        done: list[int],
        handle: Callable[[Conn, asyncpg.Record, datetime, TaskNotices], Awaitable[bool]],
    ) -> None:
        assert self._pool is not None
        notices = TaskNotices()
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await _lock(conn, row["commodity_id"], row["contract_id"], row["id"])
            if locked is None:
                report.busy += 1
                return
            if not await handle(conn, locked, now, notices):
                return
        notices.publish(self._market)
        done.append(row["id"])

    async def _cancel(
        self, conn: Conn, row: asyncpg.Record, now: datetime, notices: TaskNotices
    ) -> bool:
        if row["status"] not in ("waiting", "assigned", "accepted", "picked_up", "in_transit"):
            return False
        if row["node_id"] is not None:
            await end_offer(conn, row["id"], row["node_id"], "withdrawn", "contract cancelled")
        await conn.execute(
            "UPDATE delivery_tasks SET status = 'cancelled', node_id = NULL,"
            " offer_expires_at = NULL, updated_at = $2 WHERE id = $1",
            row["id"],
            now,
        )
        await record(conn, row["id"], "cancelled", row["node_id"], now,
                     {"reason": "the contract was cancelled"})  # fmt: skip
        notices.add("cancelled", await task_row(conn, row["id"]), [row["node_participant"]])
        return True

    async def _move_on(
        self, conn: Conn, row: asyncpg.Record, now: datetime, notices: TaskNotices
    ) -> bool:
        if row["status"] == "assigned":
            if row["offer_expires_at"] > now:
                return False  # accepted or re-offered meanwhile
            await end_offer(conn, row["id"], row["node_id"], "expired")
            await record(conn, row["id"], "expired", row["node_id"], now)
            notices.add("expired", row, [row["node_participant"]])
        elif row["status"] != "waiting":
            return False
        changed = await offer_next(conn, row, now, self.rules, self.connected(), notices)
        return bool(changed["status"] != row["status"] or changed["node_id"] != row["node_id"])

    async def _withdraw(
        self, conn: Conn, row: asyncpg.Record, now: datetime, notices: TaskNotices
    ) -> bool:
        if row["status"] not in ("assigned", "accepted") or row["node_id"] is None:
            return False
        seen = await conn.fetchval("SELECT last_seen_at FROM nodes WHERE id = $1", row["node_id"])
        if seen is not None and seen > now - self.rules.silence:
            return False  # it spoke meanwhile
        await alerts.raise_alert(
            conn, AlertKind.NODE_SILENT, f"node:{row['node_code']}",
            f"node {row['node_code']} is silent (last seen {seen}); its unstarted tasks move on",
            now, {"node": row["node_code"], "last_seen_at": str(seen)},
        )  # fmt: skip
        await end_offer(conn, row["id"], row["node_id"], "withdrawn", "node silent")
        await record(conn, row["id"], "withdrawn", row["node_id"], now, {"reason": "node silent"})
        notices.add("withdrawn", row, [row["node_participant"]])
        await offer_next(conn, row, now, self.rules, self.connected(), notices)
        return True

    async def _create(self, row: asyncpg.Record, now: datetime, report: RoutingReport) -> None:
        assert self._pool is not None
        notices = TaskNotices()
        async with self._pool.acquire() as conn, conn.transaction():
            task_id = await _make_task(conn, row["commodity_id"], row["id"], now)
            if task_id is None:
                report.busy += 1
                return
            made = await task_row(conn, task_id, lock=True)
            notices.add("created", made)
            await offer_next(conn, made, now, self.rules, self.connected(), notices, created=True)
        notices.publish(self._market)
        report.created.append(task_id)


async def _lock(
    conn: Conn, commodity_id: int, contract_id: int, task_id: int
) -> asyncpg.Record | None:
    """The contract row, then the task row, each skipped if another transaction holds it."""
    held = await conn.fetchval(
        "SELECT 1 FROM contracts WHERE commodity_id = $1 AND id = $2 FOR UPDATE SKIP LOCKED",
        commodity_id,
        contract_id,
    )
    if held is None:
        return None
    got = await conn.fetchval(
        "SELECT 1 FROM delivery_tasks WHERE id = $1 FOR UPDATE SKIP LOCKED", task_id
    )
    return None if got is None else await task_row(conn, task_id)


async def _make_task(conn: Conn, commodity_id: int, contract_id: int, now: datetime) -> int | None:
    """The next attempt's task for the (locked) contract, or None if it is not due (any more)."""
    contract = await conn.fetchrow(
        """SELECT c.status, c.terms, c.funded_at, c.delivery_due_at, c.shortage_settlement,
                  c.backorder_due_at, c.delivered_quantity_micro,
                  (SELECT max(attempt) FROM delivery_tasks t WHERE t.commodity_id = c.commodity_id
                      AND t.contract_id = c.id) AS attempts
             FROM contracts c WHERE c.commodity_id = $1 AND c.id = $2 FOR UPDATE SKIP LOCKED""",
        commodity_id,
        contract_id,
    )
    if contract is None:
        return None
    terms = parse(contract["terms"])
    quantity = parse_scaled(terms.quantity, QUANTITY_SCALE)
    if contract["status"] == "funded" and contract["attempts"] is None:
        attempt, due = 1, contract["delivery_due_at"]
        if due is None:
            due = (contract["funded_at"] or now) + timedelta(days=terms.delivery.lead_days)
            await conn.execute(
                "UPDATE contracts SET delivery_due_at = $3 WHERE commodity_id = $1 AND id = $2",
                commodity_id, contract_id, due,
            )  # fmt: skip
    elif contract["shortage_settlement"] == "backorder" and contract["attempts"] == 1:
        attempt, due = 2, contract["backorder_due_at"]
        quantity -= contract["delivered_quantity_micro"] or 0
        if due is None or quantity <= 0:
            return None
    else:
        return None
    task_id = await conn.fetchval(
        """INSERT INTO delivery_tasks (commodity_id, contract_id, attempt, status,
                origin_region, destination_region, quantity_micro, window_start, window_end,
                delivery_code, created_at, updated_at)
           VALUES ($1, $2, $3, 'waiting', $4, $5, $6, $7, $8, $9, $7, $7) RETURNING id""",
        commodity_id, contract_id, attempt, terms.delivery.origin_region or "",
        terms.delivery.region or "", quantity, now, due, f"{secrets.randbelow(10**6):06d}",
    )  # fmt: skip
    await record(conn, task_id, "created", None, now,
                 {"attempt": str(attempt), "window_end": due.isoformat()})  # fmt: skip
    return int(task_id)
