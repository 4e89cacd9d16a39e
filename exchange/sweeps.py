"""Background sweeps (payment deadlines, delivery routing, delivery outcomes): each one's
`run_once()` looks at the database at the app clock's time; here they run every few seconds,
behind start-up, never holding up start-up or shutdown, and living through database outages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import asyncpg
import structlog
from aiohttp import web

from exchange.appkeys import DB_HEALTH, RUNTIME, SETTINGS
from exchange.config import Settings
from exchange.db.health import DatabaseHealth, database_unavailable

log = structlog.get_logger("exchange.sweeps")


class Sweep(Protocol):
    def attach(self, pool: asyncpg.Pool) -> None:
        """Sweep this database from now on."""
        ...

    async def run_once(self) -> Any:
        """One pass; returns what it did."""
        ...


async def repeat(sweep: Sweep, every: float, health: DatabaseHealth, name: str) -> None:
    """Run `sweep` every `every` seconds until cancelled; an outage or a failed run is logged
    and the next run tries again."""
    while True:
        if health.available:
            try:
                await sweep.run_once()
            except Exception as exc:
                if database_unavailable(exc):
                    health.lost()
                else:
                    log.exception("sweep failed", sweep=name)
        await asyncio.sleep(every)


def background(
    key: web.AppKey[Any], seconds: Callable[[Settings], float], name: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A start-up stage that runs the sweep held at `key` every `seconds(settings)` (0: not in
    this process; tests then call `run_once()` themselves)."""

    async def stage(app: web.Application) -> AsyncIterator[None]:
        sweep: Sweep = app[key]
        sweep.attach(app[RUNTIME].pool)
        every = seconds(app[SETTINGS])
        task = None
        if every > 0:
            task = asyncio.create_task(repeat(sweep, every, app[DB_HEALTH], name), name=name)
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    stage.__name__ = name
    return stage
