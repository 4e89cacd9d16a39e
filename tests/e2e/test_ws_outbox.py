"""The per-client outbox bound covers everything queued, and a dropped client is freed."""

from __future__ import annotations

import asyncio
import gc
import weakref

import aiohttp

from tests.e2e.market_support import new_commodity, spec_of
from tests.e2e.test_ws_market import Socket, _small_receive_buffer, connect
from tests.factories import Api, new_participant

SMALL_BOUND = 64 * 1024


async def test_snapshots_count_against_the_bound_and_a_dropped_client_is_freed(
    operator, db, market
):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    market.book_loaded(spec, 1, [(1000 + i, 1) for i in range(2000)], [])  # ~40 kB snapshots
    participant, reader = await new_participant(operator, ["buyer"])
    dropped = market.hub.metrics.ws_slow_consumers._value.get()
    default_bytes, market.hub.queue_bytes = market.hub.queue_bytes, SMALL_BOUND
    connector = aiohttp.TCPConnector(socket_factory=_small_receive_buffer)
    async with aiohttp.ClientSession(connector=connector) as own:
        try:
            slow = await connect(Api(own, reader.base_url, reader.key), max_msg_size=0)
        finally:
            market.hub.queue_bytes = default_bytes
        (client,) = [c for c in market.hub.clients if c.participant_id == participant["id"]]
        gone = weakref.ref(client)
        del client
        message = {"type": "subscribe", "channels": [{"name": "book", "commodity": code}] * 50}

        for _ in range(20):  # never reading: the snapshots alone overflow the 64 KiB bound
            await slow.send(message)
        told = await slow.next("error", skipping=("subscribed", "book_snapshot"))
        closing = await slow.ws.receive(timeout=5)

    assert told["code"] == "SLOW_CONSUMER"
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert market.hub.metrics.ws_slow_consumers._value.get() == dropped + 1
    async with asyncio.timeout(2):  # well before the 5 s abort timer: it is cancelled too
        while gone() is not None:
            gc.collect()
            await asyncio.sleep(0.01)
    assert not [c for c in market.hub.clients if c.participant_id == participant["id"]]


async def test_a_client_that_reads_gets_all_its_snapshots(operator, db, market):
    code = await new_commodity(operator)
    spec = await spec_of(db, code)
    market.book_loaded(spec, 1, [(1000 + i, 1) for i in range(2000)], [])
    _, reader = await new_participant(operator, ["buyer"])
    sock: Socket = await connect(reader)

    await sock.subscribe(*[{"name": "book", "commodity": code}] * 50)  # ~2 MB at once
    snapshots = [await sock.next("book_snapshot") for _ in range(50)]

    assert {len(s["bids"]) for s in snapshots} == {2000}
    await sock.ws.close()
