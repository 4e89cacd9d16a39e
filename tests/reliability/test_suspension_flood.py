"""Abuse: a participant placing orders as fast as it can while it is suspended keeps nothing
in the book, whatever was in flight when the suspension committed."""

from __future__ import annotations

import asyncio
import itertools
import time

from tests.conftest import settings_for, start_app
from tests.factories import OPERATOR_KEY, Api, new_participant, whole_unit_commodity

WORKERS = 8


async def _flood(
    api: Api, code: str, prices: itertools.count, stop: asyncio.Event, replies: list
) -> None:
    """Post resting offers back to back until told to stop; (status, body) of each."""
    while not stop.is_set():
        price = next(prices)
        order = {"client_order_id": f"fl-{price}", "commodity": code, "side": "sell",
                 "price": f"{1000 + price}.00", "quantity": "1"}  # fmt: skip
        reply = await api.post("/v1/orders", order)
        replies.append((reply.status, reply.body))


async def _until(condition, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the flood never got going"
        await asyncio.sleep(0.01)


async def test_orders_in_flight_at_suspension_do_not_stay_in_the_book(database_url, http):
    settings = settings_for(database_url, rate_limit_per_second=100_000, rate_limit_burst=100_000)
    runner, url = await start_app(settings)
    try:
        operator = Api(http, url, OPERATOR_KEY)
        await operator.post("/v1/regions", {"code": "EU-FL", "name": "Flood"})
        code = await whole_unit_commodity(operator)
        seller, supplier = await new_participant(operator, ["supplier"], home_region="EU-FL")
        stop, prices, replies = asyncio.Event(), itertools.count(1), []
        flood = [
            asyncio.create_task(_flood(supplier, code, prices, stop, replies))
            for _ in range(WORKERS)
        ]
        await _until(lambda: len(replies) >= 60)

        suspended = await operator.post(f"/v1/participants/{seller['id']}/suspend")
        after = [await supplier.post("/v1/orders", {}) for _ in range(3)]
        stop.set()
        await asyncio.gather(*flood)
        orders = await operator.get("/v1/orders", participant_id=str(seller["id"]), limit="500")
        book = await operator.get(f"/v1/markets/{code}/book")
    finally:
        await runner.cleanup()

    assert suspended.status == 200
    assert {r.status for r in after} == {403}
    assert {status for status, _ in replies} <= {201, 403}
    accepted = {body["id"] for status, body in replies if status == 201}
    assert accepted
    stored = {o["id"]: o for o in orders.body["data"]}
    assert set(stored) == accepted  # a refused order stored nothing
    assert {(o["status"], o["reason"]) for o in stored.values()} == {
        ("cancelled", "participant_suspended")
    }
    assert book.body["asks"] == []
