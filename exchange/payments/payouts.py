"""Sending withdrawals to the designated bank: one transfer per withdrawal (end-to-end id
`WD<id>`) from the center's account to the participant's registered one, and a retry of every
withdrawal still pending, so an unknown outcome (timeout, 5xx, a restart) is resolved later with
the same end-to-end id (the bank executes it at most once)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import structlog

from exchange.clock import Clock
from exchange.market.data import MarketData
from exchange.payments import withdrawals
from exchange.payments.notices import Notices
from exchange.payments.references import creditor_reference
from exchange.payments.withdrawals import BankOutcome, Outcome
from settlement.bank.messages import TransferRequest, TransferResult, TransferStatus
from settlement.bank.port import Bank, BankError, BankRefusedError

log = structlog.get_logger("exchange.payouts")
RETRY_EVERY = 1.0  # seconds between rounds of retrying the withdrawals still pending

_STATUS = {
    TransferStatus.EXECUTED: Outcome.EXECUTED,
    TransferStatus.REJECTED: Outcome.REJECTED,
    TransferStatus.RETURNED: Outcome.RETURNED,
}


class Payouts:
    """The app's way to the bank for withdrawals (`bank` None: withdrawals are refused, 503)."""

    def __init__(
        self,
        bank: Bank | None,
        market: MarketData,
        clock: Clock,
        account_prefix: str,
        *,
        owns_bank: bool = False,
        retry_every: float = RETRY_EVERY,
    ) -> None:
        self.bank = bank
        self._market = market
        self._clock = clock
        self._prefix = account_prefix
        self._owns_bank = owns_bank
        self._retry_every = retry_every
        self._pool: asyncpg.Pool | None = None
        self._busy: set[int] = set()  # withdrawals on their way to the bank now
        self._tasks: set[asyncio.Task[None]] = set()
        self._retrying: asyncio.Task[None] | None = None

    def start(self, pool: asyncpg.Pool) -> None:
        """Begin retrying the withdrawals that are pending (those from before a restart too)."""
        self._pool = pool
        if self.bank is not None:
            self._retrying = asyncio.create_task(self._retry(), name="payout-retry")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._retrying] if self._retrying else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._retrying = None
        if self.bank is not None and self._owns_bank:
            await self.bank.close()

    def submit(self, withdrawal_id: int) -> None:
        """Send the withdrawal to the bank now, in the background (unless it is on its way)."""
        if self.bank is None or self._pool is None:
            return
        task = asyncio.create_task(self._send_now(withdrawal_id), name=f"payout-{withdrawal_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_now(self, withdrawal_id: int) -> None:
        try:
            await self.send(withdrawal_id)
        except Exception:  # the database away, say: the retry sends it later
            log.exception("sending a withdrawal failed; will retry", withdrawal_id=withdrawal_id)

    async def send(self, withdrawal_id: int) -> None:
        """Order the transfer of one pending withdrawal and apply the bank's answer; with an
        unknown outcome it stays pending for the next retry."""
        if withdrawal_id in self._busy:
            return
        self._busy.add(withdrawal_id)
        try:
            await self._send(withdrawal_id)
        finally:
            self._busy.discard(withdrawal_id)

    async def _send(self, withdrawal_id: int) -> None:
        assert self.bank is not None
        assert self._pool is not None
        row = await withdrawals.fetch(self._pool, withdrawal_id)
        if row is None or row["status"] != "pending":
            return
        try:
            result = await self.bank.transfer(self._request(row))
        except BankRefusedError as exc:
            await self.apply(withdrawal_id, BankOutcome(Outcome.REJECTED, None, exc.code))
            return
        except BankError as exc:  # unknown outcome: the retry asks again, same end-to-end id
            log.warning("bank outcome unknown", withdrawal_id=withdrawal_id, error=str(exc))
            return
        await self.apply(withdrawal_id, _outcome(result))

    async def apply(self, withdrawal_id: int, outcome: BankOutcome) -> dict[str, Any]:
        """Resolve the withdrawal in a transaction of its own and tell its owner."""
        assert self._pool is not None
        notices = Notices()
        async with self._pool.acquire() as conn, conn.transaction():
            result = await withdrawals.resolve(
                conn, withdrawal_id, outcome, notices, self._clock.now()
            )
        notices.publish(self._market)
        return result

    def _request(self, row: asyncpg.Record) -> TransferRequest:
        return TransferRequest(
            end_to_end_id=row["end_to_end_id"],
            debtor_account=self._prefix + row["currency"],
            creditor_account=row["bank_account"],
            amount=withdrawals.formatted_amount(row),
            currency=row["currency"],
            reference=creditor_reference(row["end_to_end_id"]),
        )

    async def _retry(self) -> None:
        while True:
            await asyncio.sleep(self._retry_every)
            try:
                await self.retry_pending()
            except Exception:  # the loop must outlive any one failure (the database away ...)
                log.exception("retrying payouts failed; trying again later")

    async def retry_pending(self) -> None:
        """One round: send every pending withdrawal that is not on its way already."""
        assert self._pool is not None
        for withdrawal_id in await withdrawals.pending_ids(self._pool):
            await self.send(withdrawal_id)


def _outcome(result: TransferResult) -> BankOutcome:
    return BankOutcome(_STATUS[result.status], result.bank_reference, result.reason)
