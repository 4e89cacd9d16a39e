"""SIGTERM: in-flight requests finish within EXCHANGE_SHUTDOWN_TIMEOUT; past it the center
stops all the same, in bounded time."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from tests.factories import OPERATOR_KEY, Api, commodity_body, participant_body
from tests.process import Center, env_without_database

SHUTDOWN_TIMEOUT = 4


async def _until(condition, message: str) -> None:
    deadline = time.monotonic() + 20
    while not await condition():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.02)


async def _supplier(http: aiohttp.ClientSession, base: str) -> tuple[str, Api]:
    operator = Api(http, base, OPERATOR_KEY)
    await operator.post("/v1/regions", {"code": "EU-SD", "name": "Shutdown"})
    commodity = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", commodity)).status == 201
    created = await operator.post(
        "/v1/participants", participant_body(["supplier"], home_region="EU-SD")
    )
    return commodity["code"], Api(http, base, created.body["api_key"]["key"])


class HeldWriter:
    """Holds the book writers' next COMMIT (a lock on the journal) until released."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.held = conn.transaction()

    async def hold(self) -> None:
        await self.held.start()
        await self.conn.execute("LOCK TABLE book_journal IN EXCLUSIVE MODE")

    async def writer_waiting(self) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted"
                " AND relation = 'book_journal'::regclass"
            )
        )

    async def release(self) -> None:
        await self.held.rollback()


@pytest.fixture
async def held(database_url: str) -> AsyncIterator[HeldWriter]:
    conn = await asyncpg.connect(database_url)
    try:
        yield HeldWriter(conn)
    finally:
        await conn.close()


async def _order_in_flight(
    tmp_path, http, database_url, held: HeldWriter, name: str
) -> tuple[Center, asyncio.Task, float]:
    """A center whose one order waits for its commit when SIGTERM arrives."""
    env = env_without_database(
        DATABASE_URL=database_url,
        EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY,
        EXCHANGE_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
    )
    center = Center(tmp_path, env)
    await center.wait_healthy(http)
    code, supplier = await _supplier(http, center.base)
    await held.hold()
    body = {
        "client_order_id": name, "commodity": code, "side": "sell", "price": "100.00",
        "quantity": "1",
    }  # fmt: skip
    order = asyncio.create_task(supplier.post("/v1/orders", body))
    await _until(held.writer_waiting, "the order never reached its commit")
    center.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()

    async def draining() -> bool:
        return '"stopping"' in center.log.read_text()

    await _until(draining, "the center did not start stopping")
    return center, order, signalled


async def _stored(conn: asyncpg.Connection, name: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM orders WHERE client_order_id = $1", name)


async def test_an_in_flight_order_finishes_within_the_shutdown_timeout(
    tmp_path, http, database_url, held
):
    center, order, signalled = await _order_in_flight(
        tmp_path, http, database_url, held, "in-flight"
    )
    try:
        still_running = center.process.poll() is None
        await held.release()  # the commit goes through while the center drains
        reply = await asyncio.wait_for(order, SHUTDOWN_TIMEOUT)
        exit_code = await asyncio.to_thread(center.process.wait, 30)
        elapsed = time.monotonic() - signalled
    finally:
        center.stop()

    assert still_running
    assert reply.status == 201
    assert await _stored(held.conn, "in-flight") == 1
    assert exit_code == 0
    assert elapsed < SHUTDOWN_TIMEOUT


async def test_a_request_past_the_shutdown_timeout_does_not_hold_the_stop(
    tmp_path, http, database_url, held
):
    center, order, signalled = await _order_in_flight(
        tmp_path, http, database_url, held, "too-slow"
    )
    try:
        exit_code = await asyncio.to_thread(center.process.wait, 30)
        elapsed = time.monotonic() - signalled
        await held.release()
        try:
            status = (await asyncio.wait_for(order, 10)).status
        except aiohttp.ClientError:
            status = 0  # the connection closed unanswered
    finally:
        center.stop()

    assert exit_code == 0
    assert SHUTDOWN_TIMEOUT <= elapsed < SHUTDOWN_TIMEOUT + 5
    assert status != 201
    assert await _stored(held.conn, "too-slow") == 0  # cut before its commit: nothing applied
