"""PostgreSQL stopped and started again under a running `exchange serve`: 503 while it is away,
recovery by itself, nothing acknowledged lost or doubled, and a shutdown that finishes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from exchange.db.embedded import EmbeddedPostgres, pid_alive
from tests.factories import OPERATOR_KEY, Api, commodity_body, participant_body
from tests.process import Center, env_without_database

SHUTDOWN_TIMEOUT = 3
CLIENTS = 6
DEADLINE = 30.0


class Server:
    """A PostgreSQL of the test's own, stopped and started again by its pid."""

    def __init__(self, folder: Path) -> None:
        self._server = EmbeddedPostgres(folder)
        self.dsn = ""

    async def start(self) -> None:
        self.dsn = await asyncio.to_thread(self._server.start)

    async def kill(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): sessions are cut, as in a failover."""
        pid = self._server.server_pid()
        assert pid is not None
        os.kill(pid, signal.SIGINT)
        await until(lambda: not pid_alive(pid), "PostgreSQL did not stop")

    async def stop(self) -> None:
        await asyncio.to_thread(self._server.stop)


async def until(condition, message: str, limit: float = DEADLINE) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.05)


async def _ready(http: aiohttp.ClientSession, base: str) -> int:
    try:
        async with http.get(base + "/readyz") as reply:
            return reply.status
    except aiohttp.ClientConnectionError:
        return 0


async def until_ready(http: aiohttp.ClientSession, base: str, expected: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while await _ready(http, base) != expected:
        assert time.monotonic() < deadline, f"/readyz never answered {expected}"
        await asyncio.sleep(0.1)


@dataclass
class Load:
    """Clients placing orders; each answered 503 is retried with its client_order_id."""

    api: dict[str, Api]
    code: str
    statuses: Counter[int] = field(default_factory=Counter)
    acked: dict[str, int] = field(default_factory=dict)  # client_order_id -> order id
    retried: set[str] = field(default_factory=set)  # answered 503 at least once
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    numbers: itertools.count[int] = field(default_factory=itertools.count)
    failure: BaseException | None = None  # what stopped a client early

    def body(self, n: int) -> tuple[str, dict[str, str]]:
        side = "buy" if n % 2 else "sell"
        price = 100 + (n * 7) % 9 - 4
        return "buyer" if side == "buy" else "supplier", {
            "client_order_id": f"outage-{n}", "commodity": self.code, "side": side,
            "price": f"{price}.00", "quantity": str(1 + n % 3),
        }  # fmt: skip

    async def client(self) -> None:
        try:
            await self._place_until_stopped()
        except Exception as exc:
            self.failure = exc
            raise

    async def _place_until_stopped(self) -> None:
        while not self.stop.is_set():
            role, body = self.body(next(self.numbers))
            while True:  # until acknowledged: a 503 is retried with the same body
                reply = await self.api[role].post("/v1/orders", body)
                self.statuses[reply.status] += 1
                if reply.status in (200, 201):
                    self.acked[body["client_order_id"]] = reply.body["id"]
                    break
                assert reply.status == 503, reply.body
                assert reply.headers["Retry-After"] == "1"
                self.retried.add(body["client_order_id"])
                await asyncio.sleep(0.02)  # pacing the retries, not waiting for anything

    def check(self) -> None:
        assert self.failure is None, f"a client failed: {self.failure!r}"

    async def until_acked(self, count: int) -> None:
        def enough() -> bool:
            self.check()
            return len(self.acked) >= count

        await until(enough, f"fewer than {count} orders acknowledged")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    server = Server(tmp_path / "db")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _start_center(tmp_path: Path, server: Server, http: aiohttp.ClientSession) -> Center:
    env = env_without_database(
        DATABASE_URL=server.dsn,
        EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY,
        EXCHANGE_SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
    )
    center = Center(tmp_path, env)
    await center.wait_healthy(http)
    return center


async def _traders(http: aiohttp.ClientSession, base: str) -> tuple[str, dict[str, Api]]:
    operator = Api(http, base, OPERATOR_KEY)
    await operator.post("/v1/regions", {"code": "EU-DB", "name": "Outage"})
    commodity = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", commodity)).status == 201
    api = {"operator": operator}
    for role in ("buyer", "supplier"):
        created = await operator.post(
            "/v1/participants", participant_body([role], home_region="EU-DB")
        )
        assert created.status == 201
        api[role] = Api(http, base, created.body["api_key"]["key"])
    return commodity["code"], api


async def _ws_upgrade_status(http: aiohttp.ClientSession, base: str) -> tuple[int, str | None]:
    try:
        ws = await http.ws_connect(
            base + "/v1/ws", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
        )
    except aiohttp.WSServerHandshakeError as refused:
        return refused.status, (refused.headers or {}).get("Retry-After")
    await ws.close()
    return 101, None


async def _while_down(api: dict[str, Api], code: str, order_id: int) -> dict[str, tuple]:
    """What every kind of route answers while the database is away."""
    http, base = api["operator"].http, api["operator"].base_url
    body = {
        "client_order_id": "while-down", "commodity": code, "side": "sell",
        "price": "100.00", "quantity": "1",
    }  # fmt: skip
    replies = {
        "place order": await api["supplier"].post("/v1/orders", body),
        "read order": await api["buyer"].get(f"/v1/orders/{order_id}"),
        "list participants": await api["operator"].get("/v1/participants"),
        "book": await api["buyer"].get(f"/v1/markets/{code}/book"),
        "me": await api["buyer"].get("/v1/me"),
    }
    seen = {
        name: (r.status, r.code, r.headers.get("Retry-After"), r.headers["Content-Type"])
        for name, r in replies.items()
    }
    status, retry_after = await _ws_upgrade_status(http, base)
    seen["websocket upgrade"] = (status, "UNAVAILABLE", retry_after, "application/problem+json")
    return seen


async def _stored(dsn: str, code: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT o.client_order_id, count(*) AS n FROM orders o"
            " JOIN commodities c ON c.id = o.commodity_id WHERE c.code = $1"
            " GROUP BY o.client_order_id",
            code,
        )
    finally:
        await conn.close()
    return {row["client_order_id"]: row["n"] for row in rows}


@pytest.mark.timeout(180)
async def test_database_restart_under_load(tmp_path, http, server):
    center = await _start_center(tmp_path, server, http)
    try:
        code, api = await _traders(http, center.base)
        load = Load(api, code)
        clients = [asyncio.create_task(load.client()) for _ in range(CLIENTS)]
        await load.until_acked(100)
        ws = await http.ws_connect(
            center.base + "/v1/ws", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
        )

        await server.kill()
        await until(lambda: load.statuses[503] > 0, "no 503 while the database is away")
        # from the first 503 on, every route knows (before /readyz asks the database)
        some_order = next(iter(load.acked.values()))
        down = await _while_down(api, code, some_order)
        await until_ready(http, center.base, 503)
        async with http.get(center.base + "/healthz") as reply:
            alive = reply.status
        acked_before_return = len(load.acked)
        # a subscription that needs the database: an error message, the socket stays open
        await ws.send_json(
            {"type": "subscribe", "channels": [{"name": "book", "commodity": "X-1"}]}
        )
        ws_down = await ws.receive_json(timeout=10)

        await server.start()
        await until_ready(http, center.base, 200)
        await ws.send_json({"type": "subscribe", "channels": [{"name": "book", "commodity": code}]})
        ws_after = await ws.receive_json(timeout=10)
        await ws.close()
        await load.until_acked(acked_before_return + 100)
        load.stop.set()
        await asyncio.wait_for(asyncio.gather(*clients), DEADLINE)
    finally:
        exit_code = center.stop()

    stored = await _stored(server.dsn, code)
    for name, (status, problem, retry_after, content_type) in down.items():
        assert (name, status, problem, retry_after) == (name, 503, "UNAVAILABLE", "1")
        assert content_type.startswith("application/problem+json"), name
    assert alive == 200
    assert (ws_down["type"], ws_down["code"]) == ("error", "UNAVAILABLE")
    assert ws_after["type"] == "subscribed"
    assert set(load.statuses) <= {200, 201, 503}, load.statuses  # never a 500
    assert load.statuses[503] > 0
    assert load.retried, "no order was answered 503 and retried"
    assert all(stored.get(coid) == 1 for coid in load.acked), "an acknowledged order is missing"
    assert max(stored.values()) == 1, "an order was stored twice"
    assert load.retried <= set(load.acked)
    assert "while-down" not in stored
    assert exit_code == 0


async def _until_books_wait(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    deadline = time.monotonic() + DEADLINE
    while True:
        async with http.get(base + "/readyz") as reply:
            checks = (await reply.json())["checks"]
        if checks["books"] != "ok":
            return checks
        assert time.monotonic() < deadline, "the book writer never noticed the outage"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(120)
async def test_sigterm_while_the_database_is_away_finishes(tmp_path, http, server):
    center = await _start_center(tmp_path, server, http)
    try:
        code, api = await _traders(http, center.base)
        load = Load(api, code)
        clients = [asyncio.create_task(load.client()) for _ in range(2)]
        await load.until_acked(20)
        await server.kill()
        # the writers notice and wait for the database (the rebuild the issue saw hang)
        await until(lambda: load.statuses[503] > 0, "no 503 while the database is away")
        checks = await _until_books_wait(http, center.base)
        started = time.monotonic()
        center.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(center.process.wait, 30)
        elapsed = time.monotonic() - started
        load.stop.set()
        for client in clients:
            client.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    finally:
        center.stop()

    assert checks["database"].startswith("failing")
    assert checks["books"] == f"rebuilding: {code}"
    assert exit_code == 0
    assert elapsed < SHUTDOWN_TIMEOUT + 5, f"SIGTERM took {elapsed:.1f} s"


@pytest.mark.timeout(120)
async def test_database_lost_during_start_up_is_waited_for(tmp_path, http, server):
    env = env_without_database(
        DATABASE_URL=server.dsn, EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY
    )
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "exchange", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    # hold the start-up at the books' first look at the commodities, then take the server away
    blocker = await asyncpg.connect(server.dsn)
    await blocker.execute("BEGIN; LOCK TABLE commodities IN ACCESS EXCLUSIVE MODE")
    center = Center(tmp_path, env)
    try:

        async def start_up_waits() -> bool:
            return bool(
                await blocker.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    " AND relation = 'commodities'::regclass"
                )
            )

        deadline = time.monotonic() + DEADLINE
        while not await start_up_waits():
            assert time.monotonic() < deadline, "start-up never reached the commodities"
            await asyncio.sleep(0.05)
        await server.kill()
        assert center.process.poll() is None, center.log.read_text()
        await server.start()
        await until_ready(http, center.base, 200)
        operator = Api(http, center.base, OPERATOR_KEY)
        listed = await operator.post("/v1/regions", {"code": "EU-SU", "name": "Start-up"})
    finally:
        exit_code = center.stop()
        with contextlib.suppress(Exception):
            await blocker.close()

    assert listed.status == 201
    assert "database lost during start-up" in center.log.read_text()
    assert exit_code == 0
