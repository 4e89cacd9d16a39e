"""The outcome sweep: what happens when the buyer stays silent, or a backorder ends
(docs/delivery.md).

`run_once` looks at delivered contracts at the clock's time and handles each in a transaction
of its own, the contract row taken `FOR UPDATE SKIP LOCKED` (one the buyer or another center's
sweep holds is left for the next run):

- delivered in full, past `claim_window_until`, no claim: accepted as the buyer would
  (released less any late-delivery penalty, `completed`);
- delivered short, past `claim_window_until`, no choice made: settled pro rata;
- a backorder whose attempt was delivered short again: settled pro rata on what was
  delivered in all, at once;
- a backorder not delivered by `backorder_due_at` and no node carrying it (no task
  `assigned`, `accepted`, `picked_up` or `in_transit`): settled pro rata on what was delivered
  (a task still `waiting` for a node is cancelled);
- a backorder under way is left alone (whatever its claim window says).

The shape is the deadline sweep's (`exchange/payments/deadlines.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import structlog

from exchange.clock import Clock
from exchange.db import Conn
from exchange.db.health import database_unavailable
from exchange.delivery.acceptance import (
    Delivered,
    backorder_pending,
    lock_delivered,
    settle_pro_rata,
)
from exchange.delivery.acceptance import accept as accept_delivery
from exchange.market.data import MarketData
from exchange.messages.contracts import Contract, ContractStatus
from exchange.payments.notices import Notices

log = structlog.get_logger("exchange.delivery.outcomes")
BATCH = 500  # contracts looked at per run; a backlog waits for the next run

# delivered, and past the claim window or with a backorder
_DUE = """
SELECT commodity_id, id FROM contracts
 WHERE status = 'delivered' AND (claim_window_until < $1 OR shortage_settlement = 'backorder')
 ORDER BY claim_window_until, id LIMIT $2"""
_CARRIED = """SELECT count(*) FROM delivery_tasks WHERE commodity_id = $1 AND contract_id = $2
                AND status IN ('assigned', 'accepted', 'picked_up', 'in_transit')"""
_DROP_WAITING = """UPDATE delivery_tasks SET status = 'cancelled', updated_at = $3
                    WHERE commodity_id = $1 AND contract_id = $2 AND status = 'waiting'"""


@dataclass(slots=True)
class OutcomeReport:
    """What one run did."""

    accepted: list[int] = field(default_factory=list)
    pro_rata: list[int] = field(default_factory=list)
    busy: int = 0  # held by another transaction: left for the next run
    failed: list[int] = field(default_factory=list)  # logged; tried again next run


class OutcomeSweep:
    """Silence past the claim window, at the clock's time; `run_once` for tests, `run` for
    the app."""

    def __init__(self, clock: Clock, market: MarketData) -> None:
        self._clock = clock
        self._market = market
        self._pool: asyncpg.Pool | None = None

    def attach(self, pool: asyncpg.Pool) -> None:
        """Sweep this database from now on."""
        self._pool = pool

    async def run_once(self) -> OutcomeReport:
        """One pass over the delivered contracts whose buyer has had its time."""
        assert self._pool is not None, "attach a pool first"
        now = self._clock.now()
        report = OutcomeReport()
        for row in await self._pool.fetch(_DUE, now, BATCH):
            try:
                await self._one(row["id"], now, report)
            except Exception as exc:
                if database_unavailable(exc):
                    raise
                # one contract's failure (a bug) must not hold up every contract after it
                log.exception("outcome of a contract failed", contract_id=row["id"])
                report.failed.append(row["id"])
        return report

    async def _one(self, contract_id: int, now: datetime, report: OutcomeReport) -> None:
        assert self._pool is not None
        notices = Notices()
        async with self._pool.acquire() as conn, conn.transaction():
            changed = await self._handle(conn, contract_id, now, notices, report)
        notices.publish(self._market)  # committed: now tell them
        if changed is not None:
            self._market.contract_changed(str(changed.status), changed)

    async def _handle(
        self, conn: Conn, contract_id: int, now: datetime, notices: Notices, report: OutcomeReport
    ) -> Contract | None:
        found = await lock_delivered(conn, contract_id, skip_locked=True)
        if found is None or found.status is not ContractStatus.DELIVERED:
            report.busy += 1
            return None
        if await backorder_pending(conn, found):
            return await self._backorder_overdue(conn, found, now, notices, report)
        if found.row["shortage_settlement"] == "backorder" and found.short:
            report.pro_rata.append(contract_id)
            why = "the backorder was delivered short too: settled pro rata on all delivered"
            return await settle_pro_rata(conn, found, now, notices, None, why)
        window = found.row["claim_window_until"]
        if window is None or window >= now:
            return None  # a backorder delivered in full: its own claim window runs
        if found.short:
            report.pro_rata.append(contract_id)
            why = "no choice made for the short delivery within the claim window: pro rata"
            return await settle_pro_rata(conn, found, now, notices, None, why)
        report.accepted.append(contract_id)
        why = f"no claim within the claim window (until {window.isoformat()}): accepted"
        return await accept_delivery(conn, contract_id, None, now, notices, reason=why)

    async def _backorder_overdue(
        self, conn: Conn, found: Delivered, now: datetime, notices: Notices, report: OutcomeReport
    ) -> Contract | None:
        row = found.row
        if not row["backorder_due_at"] < now:
            return None  # under way
        if await conn.fetchval(_CARRIED, row["commodity_id"], found.id):
            return None  # a node has it: let it arrive
        await conn.execute(_DROP_WAITING, row["commodity_id"], found.id, now)
        report.pro_rata.append(found.id)
        why = f"the backorder was not delivered by {row['backorder_due_at'].isoformat()}"
        return await settle_pro_rata(conn, found, now, notices, None, f"{why}: pro rata")
