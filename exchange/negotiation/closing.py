"""The RFQ closing sweep (docs/negotiation.md, "Closing, auto-award and the rfqs channel").

`run_once` looks, at the clock's time, at the open RFQs that are due: an `auto` RFQ whose
closing time has come, and any RFQ whose award grace (`awards.AWARD_GRACE`) has passed. Each is
settled in a transaction of its own, its row taken `FOR UPDATE SKIP LOCKED` (one that a buyer's
award or another center's sweep holds is left for the next run):

- an `auto` RFQ within its grace is awarded by `autoaward.allocate` over its live quotes of
  active suppliers, through `awards.award` (the manual award's code, on the buyer's behalf);
- otherwise, or without an acceptable quote, it becomes `expired` and its live quotes `lapsed`;
- an `auto` RFQ of a halted commodity waits (`held`) within its grace: no contract while halted.

Before that, every open `manual` RFQ whose closing time has come and that nobody was told of is
announced `closed` on the `rfqs` channel, once (`closed_told_at`): quotes are no longer taken,
the buyer may award, and a sealed RFQ's quotes are now its buyer's to read.

A failure on one RFQ is logged and does not stop the others; a settled RFQ is no longer open,
so running the sweep again changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import structlog

from exchange.audit import audit
from exchange.clock import Clock
from exchange.contracts.signing import Signer
from exchange.db import Conn
from exchange.db.health import database_unavailable
from exchange.messages.reference import TradingStatus
from exchange.negotiation import awards, rfqs
from exchange.negotiation.autoaward import Candidate, allocate
from exchange.negotiation.channel import RfqChannel
from exchange.negotiation.comparison import live_quotes
from exchange.negotiation.listings import spec_by_id
from exchange.negotiation.notices import RfqNotices
from exchange.negotiation.quotes import quote_status
from exchange.reference import CommoditySpec

log = structlog.get_logger("exchange.negotiation.closing")
BATCH = 200  # RFQs settled per run; a backlog beyond that waits for the next run

_DUE = """SELECT id FROM rfqs
 WHERE status = 'open' AND ((award = 'auto' AND closes_at <= $1) OR closes_at + $2 < $1)
 ORDER BY closes_at, id LIMIT $3"""
_LOCK = f"SELECT {rfqs.COLUMNS} FROM rfqs r WHERE r.id = $1 AND r.status = 'open'" \
    " FOR UPDATE SKIP LOCKED"  # fmt: skip
_ROW = f"SELECT {rfqs.COLUMNS} FROM rfqs r WHERE r.id = $1"
_TELL_CLOSED = """UPDATE rfqs SET closed_told_at = $1 WHERE id IN (
    SELECT id FROM rfqs
     WHERE status = 'open' AND award = 'manual' AND closes_at <= $1 AND closed_told_at IS NULL
     ORDER BY closes_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
 RETURNING id"""
# every quote still in play; decided and withdrawn ones keep their status
_LAPSE = """UPDATE quotes SET status = 'lapsed', pending_counter = NULL, updated_at = $2
 WHERE rfq_id = $1 AND status NOT IN ('withdrawn', 'awarded', 'declined', 'lapsed')
 RETURNING *"""


@dataclass(slots=True)
class ClosingReport:
    """What one run did."""

    closed: list[int] = field(default_factory=list)  # manual RFQs announced closed
    awarded: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    busy: int = 0  # RFQs another transaction held: left for the next run
    held: list[int] = field(default_factory=list)  # auto RFQs of a halted commodity: they wait
    failed: list[int] = field(default_factory=list)  # logged; tried again next run


async def candidates(
    conn: Conn, rfq: asyncpg.Record, spec: CommoditySpec, now: datetime
) -> list[Candidate]:
    """The RFQ's live quotes of active suppliers, with their landed cost (the comparison's)."""
    live, costs, arrival = await live_quotes(conn, rfq, spec, now)
    return [
        Candidate(quote_id, costs[quote_id], arrival[quote_id], row["quantity_lots"])
        for quote_id, row in live.items()
        if row["supplier_status"] == "active" and quote_status(row, now) in awards.LIVE
    ]


def _held(rfq: asyncpg.Record, spec: CommoditySpec, now: datetime) -> bool:
    """An auto RFQ of a halted commodity waits, within its grace, for trading to resume (no
    contract of any source while halted); past its grace it expires as any other."""
    halted = spec.trading_status is TradingStatus.HALTED
    return halted and rfq["award"] == "auto" and now <= rfq["closes_at"] + awards.AWARD_GRACE


class RfqClosing:
    """Auto-award and expiry at the clock's time; `run_once` for tests, the app repeats it."""

    def __init__(self, clock: Clock, channel: RfqChannel, signer: Callable[[], Signer]) -> None:
        self._clock = clock
        self._channel = channel
        self._signer = signer  # the center's, once start-up has loaded it
        self._pool: asyncpg.Pool | None = None

    def attach(self, pool: asyncpg.Pool) -> None:
        """Sweep this database from now on."""
        self._pool = pool

    async def run_once(self) -> ClosingReport:
        """One pass over the RFQs due at the clock's time."""
        assert self._pool is not None, "attach a pool first"
        now = self._clock.now()
        report = ClosingReport(closed=await self._tell_closed(now))
        for row in await self._pool.fetch(_DUE, now, awards.AWARD_GRACE, BATCH):
            try:
                await self._one(row["id"], now, report)
            except Exception as exc:
                if database_unavailable(exc):
                    raise
                # one RFQ's failure (a bug) must not hold up every RFQ after it
                log.exception("closing an RFQ failed", rfq_id=row["id"])
                report.failed.append(row["id"])
        return report

    async def _tell_closed(self, now: datetime) -> list[int]:
        """Announce the manual RFQs that closed since the last run, each once."""
        assert self._pool is not None
        notices = RfqNotices()
        async with self._pool.acquire() as conn, conn.transaction():
            told = sorted(row["id"] for row in await conn.fetch(_TELL_CLOSED, now, BATCH))
            for rfq_id in told:
                row = await conn.fetchrow(_ROW, rfq_id)
                assert row is not None  # RFQs are never deleted
                await notices.rfq_changed(conn, row, "closed", now)
        notices.publish(self._channel)  # committed: now tell them
        return told

    async def _one(self, rfq_id: int, now: datetime, report: ClosingReport) -> None:
        assert self._pool is not None
        notices = RfqNotices()
        async with self._pool.acquire() as conn, conn.transaction():
            rfq = await conn.fetchrow(_LOCK, rfq_id)
            if rfq is None:
                report.busy += 1
                return
            spec = await spec_by_id(conn, rfq["commodity_id"])
            if _held(rfq, spec, now):
                report.held.append(rfq_id)
                return
            awarded = await self._settle(conn, rfq, spec, now, notices)
        notices.publish(self._channel)  # committed: now tell them
        (report.awarded if awarded else report.expired).append(rfq_id)

    async def _settle(
        self, conn: Conn, rfq: asyncpg.Record, spec: CommoditySpec, now: datetime,
        notices: RfqNotices,
    ) -> bool:  # fmt: skip
        """Award (True) or expire (False) the locked RFQ."""
        within_grace = now <= rfq["closes_at"] + awards.AWARD_GRACE
        if rfq["award"] == "auto" and within_grace:
            found = await candidates(conn, rfq, spec, now)
            lines = allocate(rfq["quantity_lots"], rfq["min_quote_lots"], found)
            if lines:
                after, made = await awards.award(
                    conn, rfq["id"], rfq["buyer_id"], lines, spec, now, self._signer()
                )
                await audit(conn, None, "rfq.auto_award", f"rfq:{rfq['id']}",
                            {"awards": [a for a, _, _, _ in made]})  # fmt: skip
                await notices.rfq_awarded(conn, after, spec, now, [c for *_, c in made])
                return True
        lapsed = await conn.fetch(_LAPSE, rfq["id"], now)
        await conn.execute(
            "UPDATE rfqs SET status = 'expired', updated_at = $2 WHERE id = $1", rfq["id"], now
        )
        await audit(conn, None, "rfq.expire", f"rfq:{rfq['id']}",
                    {"lapsed": [row["id"] for row in lapsed]})  # fmt: skip
        expired = await conn.fetchrow(_ROW, rfq["id"])
        assert expired is not None  # locked above: RFQs are never deleted
        await notices.rfq_changed(conn, expired, "expired", now)
        for row in lapsed:
            await notices.quote_changed(conn, row, rfq, spec, now)
        return False
