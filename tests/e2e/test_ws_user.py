"""The `user` channel: a snapshot of the caller's open orders first, then its updates."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api, commodity_body, new_participant, place

OPEN = ("open", "partially_filled")


async def _market(operator: Api, region: str) -> tuple[str, str, Api, Api]:
    """Two commodities (tick 1.00, lot 1) and a supplier and a buyer in `region`."""
    assert (await operator.post("/v1/regions", {"code": region, "name": region})).status == 201
    codes = []
    for _ in range(2):
        body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
        assert (await operator.post("/v1/commodities", body)).status == 201
        codes.append(body["code"])
    _, supplier = await new_participant(operator, ["supplier"], home_region=region)
    _, buyer = await new_participant(operator, ["buyer"], home_region=region)
    return codes[0], codes[1], supplier, buyer


async def _order(api: Api, code: str, side: str, price: int, quantity: int) -> dict[str, Any]:
    return await place(api, code, side, price, quantity)  # type: ignore[no-any-return]


async def _open_orders(api: Api) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/orders", **params)).body
        found.update({o["id"]: o for o in page["data"] if o["status"] in OPEN})
        if not page["has_next"]:
            return found
        cursor = page["next_cursor"]


async def test_user_snapshot_holds_exactly_the_open_orders_then_updates_follow(operator):
    steel, grain, supplier, buyer = await _market(operator, "EU-U1")
    filled = await _order(supplier, steel, "sell", 100, 5)
    partly = await _order(supplier, steel, "sell", 101, 4)
    cancelled = await _order(supplier, steel, "sell", 110, 1)
    assert (await supplier.delete(f"/v1/orders/{cancelled['id']}")).status == 200
    resting = await _order(supplier, grain, "sell", 200, 3)
    taken = await _order(buyer, steel, "buy", 101, 7)  # all of `filled`, 2 of `partly`
    expected = [(await supplier.get(f"/v1/orders/{o['id']}")).body for o in (partly, resting)]
    sock: Socket = await connect(supplier)

    answer = await sock.subscribe({"name": "user"})
    snapshot = await sock.next("user_snapshot")
    await _order(buyer, grain, "buy", 200, 1)
    update = await sock.next("user")
    contract = await sock.next("contract")
    now_resting = (await supplier.get(f"/v1/orders/{resting['id']}")).body
    fills = (await supplier.get("/v1/fills", commodity=grain)).body["data"]

    assert taken["status"] == "filled"
    assert (await supplier.get(f"/v1/orders/{filled['id']}")).body["status"] == "filled"
    assert answer == {"type": "subscribed", "channels": [{"name": "user"}]}
    assert snapshot == {"type": "user_snapshot", "sequence": 0, "orders": expected}
    assert [o["status"] for o in snapshot["orders"]] == ["partially_filled", "open"]
    assert snapshot["orders"][0]["open_quantity"] == "2.000000"
    assert update["sequence"] == 1
    assert update["commodity"] == grain
    assert update["orders"] == [now_resting]
    assert now_resting["status"] == "partially_filled"
    assert update["fills"] == fills
    assert contract["sequence"] == 2
    await sock.ws.close()


class _Replica:
    """The open orders as a client holds them from one snapshot on, checking sequences."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.orders = {o["id"]: o for o in snapshot["orders"]}
        self.sequence = snapshot["sequence"]

    def apply(self, message: dict[str, Any]) -> None:
        assert message["sequence"] == self.sequence + 1, (message, self.sequence)
        self.sequence = message["sequence"]
        for order in message.get("orders", ()):
            if order["status"] in OPEN:
                self.orders[order["id"]] = order
            else:
                self.orders.pop(order["id"], None)


async def _trade_busily(supplier: Api, buyer: Api, code: str, stop: asyncio.Event) -> None:
    """Rest new sell orders, cancel some and take some, until told to stop."""
    rnd = random.Random(11)
    placed: list[int] = []

    async def one(worker: int) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            if n % 7 == 3 and placed:
                await supplier.delete(f"/v1/orders/{placed.pop(rnd.randrange(len(placed)))}")
            elif n % 11 == 5:
                await _order(buyer, code, "buy", 100, rnd.randint(1, 3))
            else:
                placed.append((await _order(supplier, code, "sell", 100 + worker, 1))["id"])

    await asyncio.gather(*(one(worker) for worker in range(4)))


async def test_snapshots_taken_while_orders_flow_lose_and_repeat_no_update(operator):
    code, _, supplier, buyer = await _market(operator, "EU-U2")
    sock = await connect(supplier)
    stop = asyncio.Event()
    load = asyncio.create_task(_trade_busily(supplier, buyer, code, stop))
    replicas: list[_Replica] = []

    for _ in range(60):  # subscribe again and again while batches commit
        await sock.send({"type": "subscribe", "channels": [{"name": "user"}]})
        while True:
            message = await sock.recv()
            if message["type"] == "user_snapshot":
                replicas.append(_Replica(message))
                break
            if message["type"] != "subscribed":
                for replica in replicas:
                    replica.apply(message)
        await asyncio.sleep(0.01)
    stop.set()
    await load
    marker = await _order(supplier, code, "sell", 500, 1)  # the last update of all
    while marker["id"] not in replicas[-1].orders:
        message = await sock.recv()
        assert message["type"] in ("user", "contract"), message
        for replica in replicas:
            replica.apply(message)
    truth = await _open_orders(supplier)

    assert len(truth) > 30
    for number, replica in enumerate(replicas):
        assert replica.orders == truth, f"snapshot {number} and its updates went astray"
    await sock.ws.close()
