"""WebSocket clients that never read and subscribe again and again: dropped, memory bounded.

The center runs as a real `exchange serve` process; its resident memory (VmRSS) is read from
/proc before, during and after the abuse. The bound is stated in docs/market-data.md: each
connection's outbox holds at most 8 MiB plus the one message that crossed the bound, so
ABUSERS clients can grow the server by at most ABUSERS x 8 MiB plus 16 MiB (socket buffers,
allocator slack), and by at most 16 MiB once they are gone; never by what they ask for (here
1,500 subscribe messages x 50 channels each, which took it from 61 MB to 1 GB before).
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.factories import CONTRACT_KEY, OPERATOR_KEY, commodity_body, participant_body
from tests.process import Center, env_without_database

ABUSERS = 3
SUBSCRIBES = 1500
LEVELS = 400
TRADES = 60
MIB = 1024 * 1024
OUTBOX_BOUND = 8 * MIB  # MarketData's default queue_bytes
GROWTH_BOUND = ABUSERS * OUTBOX_BOUND + 16 * MIB  # peak growth while the abuse runs
AFTER_BOUND = 16 * MIB  # growth left once the abusers are gone


def rss(pid: int) -> int:
    """Resident set size of a process in bytes (VmRSS in /proc/<pid>/status)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


def _small_receive_buffer(addr_info: Any) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


class Caller:
    def __init__(self, http: aiohttp.ClientSession, base: str, key: str) -> None:
        self.http, self.base, self.key = http, base, key

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.key}"}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as reply:
            if reply.content_type.endswith("json"):
                return reply.status, await reply.json(content_type=None)
            return reply.status, await reply.text()


async def _market_with_depth(http: aiohttp.ClientSession, base: str) -> tuple[str, str]:
    """A commodity with LEVELS ask levels and TRADES trades; returns (code, a reader's key)."""
    operator = Caller(http, base, OPERATOR_KEY)
    await operator.call("POST", "/v1/regions", {"code": "EU-AB", "name": "Abuse"})
    commodity = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.call("POST", "/v1/commodities", commodity))[0] == 201
    code = commodity["code"]
    keys = []
    for role in ("supplier", "buyer"):
        body = participant_body([role], home_region="EU-AB")
        status, created = await operator.call("POST", "/v1/participants", body)
        assert status == 201
        keys.append(created["api_key"]["key"])
    supplier, buyer = Caller(http, base, keys[0]), Caller(http, base, keys[1])

    async def place(who: Caller, side: str, price: int, number: int) -> None:
        body = {"client_order_id": f"{side}-{number}", "commodity": code, "side": side,
                "price": f"{price}.00", "quantity": "1"}  # fmt: skip
        status, answer = await who.call("POST", "/v1/orders", body)
        assert status == 201, answer

    for n in range(LEVELS + TRADES):
        await place(supplier, "sell", 1000 + n, n)
    for n in range(TRADES):  # each takes the best ask: a trade, and the level is gone
        await place(buyer, "buy", 1000 + n, n)
    return code, keys[1]


async def _abuse(base: str, key: str, code: str) -> None:
    """Subscribe SUBSCRIBES times to book and trades (50 channels a message), never reading."""
    channels = [{"name": "book", "commodity": code}, {"name": "trades", "commodity": code}] * 25
    message = {"type": "subscribe", "channels": channels}
    connector = aiohttp.TCPConnector(socket_factory=_small_receive_buffer)
    async with aiohttp.ClientSession(connector=connector) as own:
        ws = await own.ws_connect(
            base + "/v1/ws", headers={"Authorization": f"Bearer {key}"}, max_msg_size=0
        )
        try:
            for _ in range(SUBSCRIBES):
                await ws.send_json(message)
        except (ConnectionError, aiohttp.ClientError):
            pass  # dropped while still sending: what we expect of the server
        await ws.close()


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


async def _metrics(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(base + "/metrics") as reply:
        return await reply.text()


@pytest.fixture
async def center(tmp_path, database_url):
    env = env_without_database(
        DATABASE_URL=database_url,
        EXCHANGE_BOOTSTRAP_OPERATOR_KEY=OPERATOR_KEY,
        EXCHANGE_CONTRACT_SIGNING_KEY=CONTRACT_KEY,
        EXCHANGE_DATA_DIR=str(tmp_path / "data"),
    )
    process = Center(tmp_path, env)
    try:
        yield process
    finally:
        assert process.stop() == 0, process.log.read_text()


async def _sample(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss(pid))
        await asyncio.sleep(0.02)


async def test_clients_that_never_read_are_dropped_and_memory_stays_bounded(center, http):
    await center.wait_healthy(http)
    code, key = await _market_with_depth(http, center.base)
    async with http.ws_connect(
        center.base + "/v1/ws", headers={"Authorization": f"Bearer {key}"}
    ) as warm:  # load the caches a first subscriber fills, so they do not count as growth
        channels = [{"name": "book", "commodity": code}, {"name": "trades", "commodity": code}]
        await warm.send_json({"type": "subscribe", "channels": channels})
        for _ in range(3):
            await warm.receive_json(timeout=10)
    pid = center.process.pid
    before = rss(pid)
    peak, stop = [before], asyncio.Event()
    sampler = asyncio.create_task(_sample(pid, peak, stop))

    await asyncio.gather(*(_abuse(center.base, key, code) for _ in range(ABUSERS)))
    deadline = time.monotonic() + 30
    while _metric(await _metrics(http, center.base), "ws_subscribers") > 0:
        assert time.monotonic() < deadline, "the abusers' sockets were never forgotten"
        await asyncio.sleep(0.05)
    stop.set()
    await sampler
    after = rss(pid)
    metrics = await _metrics(http, center.base)

    print(f"rss before {before / MIB:.1f} MiB, peak {peak[0] / MIB:.1f}, after {after / MIB:.1f}")
    assert _metric(metrics, "ws_slow_consumers_dropped_total") == ABUSERS
    assert peak[0] - before < GROWTH_BOUND
    assert after - before < AFTER_BOUND
