"""Signed notifications from the simulated bank to the center.

One background task sends them in order, each retried with backoff until the center answers
2xx or `give_up_after` seconds have passed (a real bank retries its webhooks for a long while).
With a fault plan, some are lost, sent twice, sent late or swapped with the next one. Nothing
here blocks the answer to the request that caused a notification.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import aiohttp
import msgspec

from settlement.bank.messages import Notification
from settlement.bank.signing import HEADER, sign
from settlement.bank.simulator.faults import NO_FAULTS, FaultPlan, FaultRecord

log = logging.getLogger("settlement.bank.simulator")

_ENCODER = msgspec.json.Encoder()


class Notifier:
    """Sends notifications to `url`, signed with `secret` at the time `now()` (unix seconds)."""

    def __init__(
        self,
        url: str,
        secret: bytes,
        plan: FaultPlan | None = None,
        *,
        record: Callable[[FaultRecord], None] = lambda _: None,
        now: Callable[[], float] = time.time,
        give_up_after: float = 3600.0,
        first_backoff: float = 0.1,
        max_backoff: float = 10.0,
        reorder_window: float = 1.0,
    ) -> None:
        self.url = url
        self._secret = secret
        self._plan = plan
        self._record = record
        self._now = now
        self._give_up_after = give_up_after
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._reorder_window = reorder_window
        self._queue: asyncio.Queue[Notification] = asyncio.Queue()
        self._held: list[Notification] = []
        self._held_timer: asyncio.TimerHandle | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.pending = 0  # copies queued, held, delayed or being sent
        self.delivered = 0
        self.abandoned = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0))
        self._spawn(self._worker())

    async def stop(self) -> None:
        if self._held_timer is not None:
            self._held_timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def submit(self, notifications: Iterable[Notification]) -> None:
        """Queue notifications for delivery, in order (less what the fault plan does)."""
        for notification in notifications:
            faults = NO_FAULTS if self._plan is None else self._plan.for_notification(notification)
            for fault in faults.records(notification):
                self._record(fault)
            if faults.lose:
                continue
            copies = [notification] * (2 if faults.duplicate else 1)
            self.pending += len(copies)
            if faults.delay > 0:
                self._spawn(self._later(copies, faults.delay))
            elif faults.reorder and not self._held:
                self._hold(copies)
            else:
                self._enqueue(copies)

    def _enqueue(self, copies: list[Notification]) -> None:
        for copy in copies:
            self._queue.put_nowait(copy)
        self._release()

    def _hold(self, copies: list[Notification]) -> None:
        """Keep a notification back until the next one has been queued (or a moment passed)."""
        self._held = copies
        loop = asyncio.get_running_loop()
        self._held_timer = loop.call_later(self._reorder_window, self._release)

    def _release(self) -> None:
        for copy in self._held:
            self._queue.put_nowait(copy)
        self._held = []
        if self._held_timer is not None:
            self._held_timer.cancel()
            self._held_timer = None

    async def _later(self, copies: list[Notification], delay: float) -> None:
        await asyncio.sleep(delay)
        self._enqueue(copies)

    async def _worker(self) -> None:
        while True:
            notification = await self._queue.get()
            await self._deliver(notification)

    async def _deliver(self, notification: Notification) -> None:
        try:
            await self._attempts(notification)
        finally:
            self.pending -= 1

    async def _attempts(self, notification: Notification) -> None:
        body = _ENCODER.encode(notification)
        deadline = time.monotonic() + self._give_up_after
        backoff = self._first_backoff
        while True:
            if await self._post(body):
                self.delivered += 1
                return
            if time.monotonic() + backoff > deadline:
                self.abandoned += 1
                log.warning("notification %s abandoned", notification.event_id)
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _post(self, body: bytes) -> bool:
        assert self._session is not None
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(self._secret, body, int(self._now())),
        }
        try:
            async with self._session.post(self.url, data=body, headers=headers) as response:
                await response.read()
                return 200 <= response.status < 300
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.info("notification delivery failed: %r", exc)
            return False
