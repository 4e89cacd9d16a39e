"""Books are rebuilt at start from the latest snapshot plus the journal after it."""

from __future__ import annotations

import asyncpg

from tests.conftest import settings_for, start_app
from tests.factories import OPERATOR_KEY, Api, commodity_body, order_body, participant_body


async def _setup(api: Api) -> tuple[str, Api, Api]:
    await api.post("/v1/regions", {"code": "EU-RC", "name": "Recovery"})
    commodity = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await api.post("/v1/commodities", commodity)).status == 201
    clients = []
    for role in ("supplier", "buyer"):
        created = await api.post("/v1/participants", participant_body([role], home_region="EU-RC"))
        clients.append(api.with_key(created.body["api_key"]["key"]))
    return commodity["code"], clients[0], clients[1]


def _order(code: str, side: str, price: int, quantity: int) -> dict:
    return order_body(code, side, price, quantity)


async def test_restart_rebuilds_the_book_from_snapshot_and_journal(database_url, http):
    settings = settings_for(database_url, snapshot_every=10)
    runner, url = await start_app(settings)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        code, supplier, buyer = await _setup(operator)
        for i in range(12):
            await supplier.post("/v1/orders", _order(code, "sell", 110 + i % 4, 2))
            await buyer.post("/v1/orders", _order(code, "buy", 100 + i % 3, 3))
        await buyer.post("/v1/orders", _order(code, "buy", 111, 5))  # trades
        resting = await supplier.post("/v1/orders", _order(code, "sell", 120, 1))
        await supplier.patch(f"/v1/orders/{resting.body['id']}", {"price": "119.00"})
        await supplier.delete(f"/v1/orders/{resting.body['id']}")
        before = (await operator.get(f"/v1/markets/{code}/book")).body
    finally:
        await runner.cleanup()  # a clean stop leaves a snapshot of the final state

    conn = await asyncpg.connect(database_url)
    try:
        journal_end = await conn.fetchval("SELECT max(sequence) FROM book_journal")
        snapshots = await conn.fetch("SELECT sequence FROM book_snapshots ORDER BY sequence")
        # forget the final snapshot, as if the process had died after the periodic one; and
        # drop the journal up to that one, so only "snapshot + journal after it" can rebuild
        await conn.execute("DELETE FROM book_snapshots WHERE sequence = $1", journal_end)
        periodic = await conn.fetchval("SELECT max(sequence) FROM book_snapshots")
        await conn.execute("DELETE FROM book_journal WHERE sequence <= $1", periodic)
    finally:
        await conn.close()

    runner, url = await start_app(settings)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        after = (await operator.get(f"/v1/markets/{code}/book")).body
        supplier_again = Api(http, url, supplier.key)
        buyer_again = Api(http, url, buyer.key)
        trade = await buyer_again.post("/v1/orders", _order(code, "buy", 200, 1))
        placed = await supplier_again.post("/v1/orders", _order(code, "sell", 300, 1))
    finally:
        await runner.cleanup()

    assert [s["sequence"] for s in snapshots][-1] == journal_end
    assert 0 < periodic < journal_end
    assert after["bids"] == before["bids"]
    assert after["asks"] == before["asks"]
    assert after["sequence"] == before["sequence"] == journal_end
    assert trade.status == 201
    assert trade.body["status"] == "filled"  # trade ids continue after the restart
    assert placed.status == 201  # so do order ids
