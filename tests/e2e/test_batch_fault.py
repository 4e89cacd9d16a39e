"""A batch the database refuses for one command's sake fails that command only."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from exchange.appkeys import RUNTIME
from tests.factories import Api, commodity_body, new_participant

# A fault only PostgreSQL knows about, checked at COMMIT: a deferred constraint trigger.
_POISON = """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.client_order_id LIKE 'poison%' THEN
        RAISE EXCEPTION 'order % is poisoned', NEW.client_order_id;
    END IF;
    RETURN NEW;
END $$;
CREATE CONSTRAINT TRIGGER refuse_poison AFTER INSERT ON orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_poison();
"""
GOOD = 5


@pytest.fixture(scope="module")
async def poisoned(db: asyncpg.Connection) -> None:
    await db.execute(_POISON)


async def _market(operator: Api) -> tuple[str, Api]:
    await operator.post("/v1/regions", {"code": "EU-BF", "name": "Batch fault"})
    commodity = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1")
    assert (await operator.post("/v1/commodities", commodity)).status == 201
    _, supplier = await new_participant(operator, ["supplier"], home_region="EU-BF")
    return commodity["code"], supplier


async def _until(condition, message: str) -> None:
    deadline = time.monotonic() + 20
    while not await condition():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.02)


def _sell(code: str, client_order_id: str, price: int) -> dict[str, str]:
    return {
        "client_order_id": client_order_id, "commodity": code, "side": "sell",
        "price": f"{price}.00", "quantity": "1", "region": "EU-BF",
    }  # fmt: skip


async def test_one_faulty_command_fails_alone(operator: Api, center, database_url, db, poisoned):
    code, supplier = await _market(operator)
    first = await supplier.post("/v1/orders", _sell(code, "warm-up", 200))
    writer = center[1][RUNTIME].books.writer_by_id(first.body["id"] >> 40)

    # hold the writer in its next batch so that the orders after it queue as one batch
    blocker = await asyncpg.connect(database_url)
    held = blocker.transaction()
    await held.start()
    await blocker.execute("LOCK TABLE book_journal IN EXCLUSIVE MODE")
    leading = asyncio.create_task(supplier.post("/v1/orders", _sell(code, "leading", 199)))

    async def writer_waits() -> bool:
        return bool(
            await db.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted"
                " AND relation = 'book_journal'::regclass"
            )
        )

    await _until(writer_waits, "the writer never waited for the lock")
    bodies = [_sell(code, f"good-{n}", 101 + n) for n in range(GOOD)]
    bodies.insert(2, _sell(code, "poison-1", 150))
    replies = [asyncio.create_task(supplier.post("/v1/orders", body)) for body in bodies]

    async def all_queued() -> bool:
        return writer.queued == len(bodies)

    await _until(all_queued, "the orders never queued behind the held batch")
    await held.rollback()
    await blocker.close()
    answered = {
        body["client_order_id"]: await reply for body, reply in zip(bodies, replies, strict=True)
    }
    after = await supplier.post("/v1/orders", _sell(code, "after", 120))
    stored = {
        row["client_order_id"]
        for row in await db.fetch(
            "SELECT client_order_id FROM orders WHERE commodity_id = $1", writer.spec.id
        )
    }
    book = await supplier.get(f"/v1/markets/{code}/book")

    assert (await leading).status == 201
    assert (answered["poison-1"].status, answered["poison-1"].code) == (500, "INTERNAL_ERROR")
    assert {coid: r.status for coid, r in answered.items() if coid != "poison-1"} == {
        f"good-{n}": 201 for n in range(GOOD)
    }
    assert after.status == 201
    assert stored == {"warm-up", "leading", "after"} | {f"good-{n}" for n in range(GOOD)}
    assert [level[0] for level in book.body["asks"]] == [
        f"{price}.00" for price in [*range(101, 101 + GOOD), 120, 199, 200]
    ]


async def test_a_book_that_cannot_be_rebuilt_answers_503_until_it_can(
    operator: Api, anonymous: Api, db, poisoned
):
    code, supplier = await _market(operator)
    assert (await supplier.post("/v1/orders", _sell(code, "before", 100))).status == 201
    await db.execute("ALTER TABLE book_snapshots RENAME TO book_snapshots_away")
    try:
        # the poisoned batch fails; the rebuild after it cannot read the snapshots
        poisoned_reply = await supplier.post("/v1/orders", _sell(code, "poison-2", 101))
        paused = await supplier.post("/v1/orders", _sell(code, "while-paused", 102))
        ready = await anonymous.get("/readyz")
    finally:
        await db.execute("ALTER TABLE book_snapshots_away RENAME TO book_snapshots")
    retried = None

    async def accepted_again() -> bool:
        nonlocal retried
        retried = await supplier.post("/v1/orders", _sell(code, "while-paused", 102))
        return retried.status == 201

    await _until(accepted_again, "the book never took orders again")

    assert (poisoned_reply.status, poisoned_reply.code) == (503, "BOOK_UNAVAILABLE")
    assert (paused.status, paused.code) == (503, "BOOK_UNAVAILABLE")
    assert paused.headers["Retry-After"] == "1"
    assert ready.status == 503
    assert ready.body["checks"]["books"] == f"rebuilding: {code}"
