"""Payment deadlines: reminders before the due time, once each, even with two sweeps racing;
default past the grace end (not before) with a partial payment returned; the buyer's payment
record. (The background sweep of a running center: `test_deadline_sweeper.py`.)

The center runs on a clock the tests set; the sweep runs when a test calls `run_once` (the
background task is off here, except in the test of the task itself).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from exchange.appkeys import DEADLINES
from exchange.payments.deadlines import DeadlineSweep, SweepReport
from tests.conftest import settings_for, start_app
from tests.e2e.escrow_arrangement import (
    arrange_payment,
    available,
    escrow_held,
    trial_balance_holds,
)
from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api, commodity_body, new_participant, unique

HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


class SetClock:
    """A clock the test sets to any time (contracts are due relative to when they were
    signed, so each test sets the time around its own contracts)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def clock() -> SetClock:
    return SetClock()


@pytest.fixture(scope="module")
async def center(database_url: str, clock: SetClock) -> AsyncIterator[tuple[str, web.Application]]:
    """The center on the test's clock, its background sweep off: tests run the sweep."""
    runner, url = await start_app(settings_for(database_url, payment_sweep_seconds=0), clock)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def sweep(center: tuple[str, web.Application]) -> DeadlineSweep:
    return center[1][DEADLINES]


@pytest.fixture(autouse=True)
async def _ledger_balances(db: Any) -> AsyncIterator[None]:
    yield
    await trial_balance_holds(db)


@pytest.fixture(scope="module")
async def desk(operator: Api) -> dict[str, Any]:
    assert (await operator.post("/v1/regions", {"code": "EU-DL", "name": "Due"})).status == 201
    return {"region": "EU-DL"}


async def _parties(operator: Api, region: str) -> tuple[dict, Api, dict, Api]:
    seller, supplier = await new_participant(operator, ["supplier"], home_region=region)
    buyer, buyer_api = await new_participant(operator, ["buyer"], home_region=region)
    return seller, supplier, buyer, buyer_api


async def _contracts(operator: Api, supplier: Api, buyer: Api, count: int = 1) -> list[dict]:
    """`count` trades of 3 t at 412.00 (amount 1236.00) on a fresh commodity: their
    contracts, awaiting payment."""
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1", fee_rate_bps=25)
    assert (await operator.post("/v1/commodities", body)).status == 201
    for _ in range(count):
        sell = {"client_order_id": unique("d-"), "commodity": body["code"], "side": "sell",
                "price": "412.00", "quantity": "3"}  # fmt: skip
        assert (await supplier.post("/v1/orders", sell)).status == 201
        buy = sell | {"client_order_id": unique("d-"), "side": "buy"}
        assert (await buyer.post("/v1/orders", buy)).body["status"] == "filled"
    found = (await buyer.get("/v1/contracts", commodity=body["code"])).body["data"]
    assert len(found) == count
    assert {c["status"] for c in found} == {"awaiting_payment"}
    return sorted(found, key=lambda c: c["id"])  # type: ignore[no-any-return]


def _due(contract: dict) -> datetime:
    return datetime.fromisoformat(contract["payment_due_at"])


def _grace(contract: dict) -> datetime:
    return datetime.fromisoformat(contract["payment_grace_until"])


def _mine(report: SweepReport, contract: dict) -> list[int]:
    return [hours for cid, hours in report.reminders if cid == contract["id"]]


async def _user_socket(api: Api) -> Socket:
    sock = await connect(api)
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")
    return sock


async def _status(api: Api, contract: dict) -> str:
    return str((await api.get(f"/v1/contracts/{contract['id']}")).body["contract"]["status"])


async def test_reminders_come_at_each_hour_before_the_due_time_once_each(
    operator, desk, db, clock, sweep
):
    _, supplier, _, buyer = await _parties(operator, desk["region"])
    [contract] = await _contracts(operator, supplier, buyer)
    await arrange_payment(db, contract["id"], 23600, clock.at, fund=False)  # 236.00 paid
    due = _due(contract)
    sock = await _user_socket(buyer)
    seen = []

    for at in (due - 24 * HOUR - SECOND, due - 24 * HOUR, due - 24 * HOUR, due - HOUR - SECOND,
               due - HOUR, due - HOUR + SECOND, due, due + HOUR):  # fmt: skip
        clock.at = at
        seen.append(_mine(await sweep.run_once(), contract))

    assert seen == [[], [24], [], [], [1], [], [], []]
    for hours in (24, 1):
        notice = await sock.next("money")
        assert notice["event"] == "reminder"
        assert notice["amount"] == "1000.00"  # outstanding: 1236.00 less 236.00 paid
        assert datetime.fromisoformat(notice["due_at"]) == due
        assert notice["reference"] == contract["payment_reference"]
        assert notice["contract_id"] == contract["id"]
        assert notice["detail"] == f"payment due within {hours} h"
    rows = await db.fetch(
        "SELECT hours_before FROM payment_reminders WHERE contract_id = $1", contract["id"]
    )
    assert sorted(r["hours_before"] for r in rows) == [1, 24]
    assert await _status(buyer, contract) == "awaiting_payment"


async def test_two_sweeps_racing_send_each_reminder_once(
    operator, desk, database_url, clock, sweep, market
):
    _, supplier, _, buyer = await _parties(operator, desk["region"])
    contracts = await _contracts(operator, supplier, buyer, count=6)
    ids = {c["id"] for c in contracts}
    latest = max(_due(c) for c in contracts)
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=4)
    other = DeadlineSweep(clock, (24, 1), market)  # a second center's sweep
    other.attach(pool)
    sent: Counter[tuple[int, int]] = Counter()
    try:
        for at in (latest - 24 * HOUR, latest - HOUR):
            clock.at = at
            for _ in range(3):
                reports = await asyncio.gather(
                    sweep.run_once(), other.run_once(), sweep.run_once(), other.run_once()
                )
                sent.update(r for report in reports for r in report.reminders if r[0] in ids)
    finally:
        await pool.close()

    assert sent == Counter({(cid, hours): 1 for cid in ids for hours in (24, 1)})


async def test_a_sweep_that_comes_late_sends_only_the_nearest_reminder(
    operator, desk, db, clock, sweep
):
    _, supplier, _, buyer = await _parties(operator, desk["region"])
    [contract] = await _contracts(operator, supplier, buyer)
    clock.at = _due(contract) - HOUR / 2

    first, again = await sweep.run_once(), await sweep.run_once()

    assert (_mine(first, contract), _mine(again, contract)) == ([1], [])
    rows = await db.fetch(
        "SELECT hours_before FROM payment_reminders WHERE contract_id = $1", contract["id"]
    )
    assert sorted(r["hours_before"] for r in rows) == [1, 24]  # the 24-hour one is past


async def test_default_comes_past_the_grace_end_not_before_and_returns_a_partial_payment(
    operator, desk, db, clock, sweep
):
    seller, supplier, buyer, buyer_api = await _parties(operator, desk["region"])
    [contract] = await _contracts(operator, supplier, buyer_api)
    await arrange_payment(db, contract["id"], 50000, clock.at, fund=False)  # 500.00 of 1236.00
    buyer_before = await available(db, buyer["id"])
    buyer_sock, seller_sock = await _user_socket(buyer_api), await _user_socket(supplier)
    grace = _grace(contract)

    clock.at = _due(contract) + HOUR
    after_due = await sweep.run_once()
    clock.at = grace
    at_grace = await sweep.run_once()
    clock.at = grace + SECOND
    past_grace = await sweep.run_once()
    again = await sweep.run_once()

    assert contract["id"] not in after_due.defaulted + at_grace.defaulted + again.defaulted
    assert contract["id"] in past_grace.defaulted
    assert await _status(buyer_api, contract) == "defaulted"
    assert await escrow_held(db, contract["id"]) == 0
    assert await available(db, buyer["id"]) == buyer_before + 50000
    notice = await buyer_sock.next("money", skipping=("heartbeat", "contract"))
    assert (notice["event"], notice["amount"], notice["contract_id"]) == (
        "defaulted", "500.00", contract["id"]
    )  # fmt: skip
    assert Decimal(notice["available"]) * 100 == buyer_before + 50000
    told = await seller_sock.next("money", skipping=("heartbeat", "contract"))
    assert (told["event"], told["contract_id"]) == ("defaulted", contract["id"])
    for sock in (buyer_sock, seller_sock):
        changed = await sock.next("contract", skipping=("heartbeat", "money"))
        assert (changed["event"], changed["contract"]["id"]) == ("defaulted", contract["id"])
    history = (await buyer_api.get(f"/v1/contracts/{contract['id']}")).body["history"]
    assert history[-1]["to_status"] == "defaulted"
    assert "grace" in history[-1]["reason"]
    assert seller["id"] != buyer["id"]


async def test_the_payment_record_shows_on_time_late_and_defaulted(
    operator, desk, db, clock, sweep
):
    _, supplier, buyer, buyer_api = await _parties(operator, desk["region"])
    _, stranger = await new_participant(operator, ["supplier"], home_region=desk["region"])
    on_time, late, unpaid = await _contracts(operator, supplier, buyer_api, count=3)
    await arrange_payment(db, on_time["id"], 123600, _due(on_time) - HOUR, fund=True)
    await arrange_payment(db, late["id"], 123600, _due(late) + 2 * HOUR, fund=True)
    clock.at = _grace(unpaid) + SECOND
    await sweep.run_once()

    record = await stranger.get(f"/v1/participants/{buyer['id']}/payment-record")
    unknown = await stranger.get("/v1/participants/987654321/payment-record")

    assert record.status == 200, record.body
    assert record.body == {
        "participant_id": buyer["id"],
        "paid_on_time": {"count": 1, "contract_ids": [on_time["id"]]},
        "paid_late": {"count": 1, "contract_ids": [late["id"]]},
        "defaulted": {"count": 1, "contract_ids": [unpaid["id"]]},
    }
    assert (unknown.status, unknown.code) == (404, "UNKNOWN_PARTICIPANT")
