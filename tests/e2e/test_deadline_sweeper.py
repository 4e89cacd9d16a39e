"""The deadline sweep as a running center runs it: in the background on the app's clock,
through a database outage, and stopped cleanly with the center."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from exchange.appkeys import DB_HEALTH
from exchange.clock import ManualClock
from exchange.db.embedded import EmbeddedPostgres, pid_alive
from tests.conftest import settings_for, start_app
from tests.e2e.test_payment_deadlines import _contracts, _grace, _parties, _status
from tests.factories import OPERATOR_KEY, Api

DEADLINE = 30.0


async def _until(condition: Callable[[], Awaitable[bool]], message: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await condition():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.05)


async def test_the_background_sweep_defaults_by_itself_and_stops_cleanly(database_url, http):
    clock = ManualClock()
    runner, url = await start_app(settings_for(database_url, payment_sweep_seconds=0.05), clock)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        assert (await operator.post("/v1/regions", {"code": "EU-BG", "name": "BG"})).status == 201
        _, supplier, _, buyer = await _parties(operator, "EU-BG")
        [contract] = await _contracts(operator, supplier, buyer)
        assert await _status(buyer, contract) == "awaiting_payment"
        clock.set(_grace(contract) + timedelta(seconds=1))

        async def defaulted() -> bool:
            return await _status(buyer, contract) == "defaulted"

        await _until(defaulted, "the background sweep never defaulted the contract")
    finally:
        async with asyncio.timeout(10):  # the sweep does not hold up shutdown
            await runner.cleanup()


async def test_the_sweep_lives_through_a_database_outage(tmp_path: Path, http):
    server = EmbeddedPostgres(tmp_path / "pg")
    dsn = await asyncio.to_thread(server.start)
    clock = ManualClock()
    try:
        runner, url = await start_app(settings_for(dsn, payment_sweep_seconds=0.05), clock)
        try:
            app = runner.app
            operator = Api(http, url, OPERATOR_KEY)
            assert (
                await operator.post("/v1/regions", {"code": "EU-DO", "name": "D"})
            ).status == 201
            _, supplier, _, buyer = await _parties(operator, "EU-DO")
            [contract] = await _contracts(operator, supplier, buyer)
            pid = server.server_pid()
            assert pid is not None

            os.kill(pid, signal.SIGINT)  # fast shutdown: sessions cut, as in a failover

            async def gone() -> bool:
                return not pid_alive(pid) and not app[DB_HEALTH].available

            await _until(gone, "nothing noticed the database going away")
            await asyncio.to_thread(server.start)

            async def back() -> bool:
                return app[DB_HEALTH].available

            await _until(back, "the center never saw the database again")
            clock.set(_grace(contract) + timedelta(seconds=1))

            async def defaulted() -> bool:
                return await _status(buyer, contract) == "defaulted"

            await _until(defaulted, "the sweep did not survive the outage")
        finally:
            async with asyncio.timeout(10):
                await runner.cleanup()
    finally:
        await asyncio.to_thread(server.stop)
