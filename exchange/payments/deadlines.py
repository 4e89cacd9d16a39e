"""The deadline sweep: reminders before a payment is due, and default past the grace end.

`run_once` looks at the contracts in `awaiting_payment` at the clock's time and handles each in
a transaction of its own: the contract row is taken `FOR UPDATE SKIP LOCKED` (one a payment
or another center's sweep holds is left for the next run), then

- before the due time, for the nearest of `payment_reminder_hours` that has passed, a
  `reminder` money notice to the buyer (outstanding amount, due time, payment reference),
  once: `payment_reminders` records it (and any earlier hour that passed unsent, so a buyer
  who is an hour from its deadline does not also get the 24-hour reminder);
- strictly past `payment_grace_until`: `defaulted` through `lifecycle.transition`, whatever
  the escrow holds (a partial payment) back to the buyer's available funds, a `defaulted`
  money notice to both parties and the contract notice.

Several centers may sweep one database: the row lock lets one of them at a contract at a time,
and the reminder's primary key lets each reminder be recorded, and so sent, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import structlog

from exchange.clock import Clock
from exchange.contracts import lifecycle
from exchange.contracts.views import CONTRACT_COLUMNS
from exchange.db import Conn
from exchange.db.health import database_unavailable
from exchange.market.data import MarketData
from exchange.messages.contracts import Contract, ContractStatus
from exchange.payments import escrow as escrows
from exchange.payments.notices import Notices

log = structlog.get_logger("exchange.payments.deadlines")
BATCH = 500  # contracts looked at per run; a backlog beyond that waits for the next run

# awaiting payment and either past the grace end, or before the due time with the nearest
# reminder hour that has passed not yet recorded ($1 now, $2 reminder hours, $3 the largest)
_DUE = """
SELECT c.commodity_id, c.id FROM contracts c
 WHERE c.status = 'awaiting_payment'
   AND c.payment_due_at <= $1::timestamptz + make_interval(hours => $3::int)
   AND (c.payment_grace_until < $1
        OR (c.payment_due_at > $1 AND NOT EXISTS (
            SELECT 1 FROM payment_reminders r
             WHERE r.commodity_id = c.commodity_id AND r.contract_id = c.id
               AND r.hours_before = (SELECT min(h) FROM unnest($2::int[]) h
                                      WHERE c.payment_due_at - make_interval(hours => h) <= $1))))
 ORDER BY c.payment_due_at, c.id LIMIT $4"""
_LOCK = f"""SELECT {CONTRACT_COLUMNS} FROM contracts
             WHERE commodity_id = $1 AND id = $2 AND status = 'awaiting_payment'
             FOR UPDATE SKIP LOCKED"""
_REMIND = """INSERT INTO payment_reminders (commodity_id, contract_id, hours_before, sent_at)
             SELECT $1, $2, h, $4 FROM unnest($3::int[]) h
             ON CONFLICT DO NOTHING RETURNING hours_before"""


@dataclass(slots=True)
class SweepReport:
    """What one run did."""

    reminders: list[tuple[int, int]] = field(default_factory=list)  # (contract id, hours)
    defaulted: list[int] = field(default_factory=list)
    busy: int = 0  # contracts another transaction held: left for the next run
    failed: list[int] = field(default_factory=list)  # logged; tried again next run


class DeadlineSweep:
    """Reminders and defaults at the clock's time; `run_once` for tests and `run` for the app."""

    def __init__(self, clock: Clock, reminder_hours: Sequence[int], market: MarketData) -> None:
        self._clock = clock
        self._hours = sorted(set(reminder_hours), reverse=True)
        self._market = market
        self._pool: asyncpg.Pool | None = None

    def attach(self, pool: asyncpg.Pool) -> None:
        """Sweep this database from now on."""
        self._pool = pool

    async def run_once(self) -> SweepReport:
        """One pass over the contracts whose deadlines have come at the clock's time."""
        assert self._pool is not None, "attach a pool first"
        now = self._clock.now()
        report = SweepReport()
        largest = self._hours[0] if self._hours else 0
        due = await self._pool.fetch(_DUE, now, self._hours, largest, BATCH)
        for row in due:
            try:
                await self._one(row["commodity_id"], row["id"], now, report)
            except Exception as exc:
                if database_unavailable(exc):
                    raise
                # one contract's failure (a bug) must not hold up every contract after it
                log.exception("deadline of a contract failed", contract_id=row["id"])
                report.failed.append(row["id"])
        return report

    async def _one(
        self, commodity_id: int, contract_id: int, now: datetime, report: SweepReport
    ) -> None:
        assert self._pool is not None
        notices = Notices()
        async with self._pool.acquire() as conn, conn.transaction():
            changed = await self._handle(conn, commodity_id, contract_id, now, notices, report)
        notices.publish(self._market)  # committed: now tell them
        if changed is not None:
            self._market.contract_changed(str(changed.status), changed)

    async def _handle(
        self,
        conn: Conn,
        commodity_id: int,
        contract_id: int,
        now: datetime,
        notices: Notices,
        report: SweepReport,
    ) -> Contract | None:
        row = await conn.fetchrow(_LOCK, commodity_id, contract_id)
        if row is None:
            report.busy += 1  # held by a payment or another sweep, or no longer awaiting
            return None
        if now > row["payment_grace_until"]:
            report.defaulted.append(contract_id)
            return await _default(conn, contract_id, now, notices)
        if now < row["payment_due_at"]:
            passed = [h for h in self._hours if row["payment_due_at"] - timedelta(hours=h) <= now]
            if passed and min(passed) in await _record(conn, row, passed, now):
                report.reminders.append((contract_id, min(passed)))
                _remind(notices, row, min(passed))
        return None


async def _record(conn: Conn, row: asyncpg.Record, passed: list[int], now: datetime) -> set[int]:
    recorded = await conn.fetch(_REMIND, row["commodity_id"], row["id"], passed, now)
    return {r["hours_before"] for r in recorded}


def _remind(notices: Notices, row: asyncpg.Record, hours: int) -> None:
    notices.add(
        row["buyer_id"], "reminder", row["currency"],
        amount_minor=row["amount_minor"] - row["paid_minor"], contract_id=row["id"],
        reference=row["payment_reference"], due_at=row["payment_due_at"],
        detail=f"payment due within {hours} h",
    )  # fmt: skip


async def _default(conn: Conn, contract_id: int, now: datetime, notices: Notices) -> Contract:
    escrow = await escrows.lock(conn, contract_id, {ContractStatus.AWAITING_PAYMENT}, "default")
    row = escrow.row
    why = f"unpaid past the grace end {row['payment_grace_until'].isoformat()}"
    returned, available = 0, None
    if escrow.held:
        returned = escrow.held
        buyer = await escrows.to_buyer(conn, escrow, returned)
        available = await escrows.available_after(conn, buyer)
    notices.add(
        row["buyer_id"], "defaulted", escrow.currency, amount_minor=returned,
        available_minor=available, contract_id=contract_id, reference=row["payment_reference"],
        detail=f"{why}; {escrow.money(returned)} paid returned to available funds",
    )  # fmt: skip
    notices.add(
        row["seller_id"], "defaulted", escrow.currency, contract_id=contract_id,
        reference=row["payment_reference"], detail=why,
    )  # fmt: skip
    return await lifecycle.transition(conn, contract_id, ContractStatus.DEFAULTED, None, why, now)
