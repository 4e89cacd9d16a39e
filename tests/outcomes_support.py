"""Shared by the tests of delivery's outcomes (acceptance, claims, shortage, auto-acceptance,
ratings, credit): a center on a manual clock with its sweeps off (tests run them), contracts
funded through the payment API (a bank deposit, then `POST /v1/contracts/{id}/pay`), and the
arrangement of a delivery, standing in for the routing code until it is merged.

A test module takes the fixtures by importing them (they override conftest's `center`):

    from tests.outcomes_support import ledger_holds, manual_clock, outcome_center  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from exchange.appkeys import OUTCOMES
from exchange.clock import ManualClock
from exchange.contracts import lifecycle
from exchange.contracts.terms import parse
from exchange.delivery.outcomes import OutcomeSweep
from exchange.messages.contracts import ContractStatus
from tests.conftest import settings_for, start_app
from tests.factories import Api, commodity_body, new_participant, unique
from tests.payments_support import BANK_SECRET, contract, deposit
from tests.payments_support import ledger_holds as ledger_holds
from tests.payments_support import manual_clock as manual_clock

S = ContractStatus
DAY = timedelta(days=1)


@pytest.fixture(scope="module", name="center")
async def outcome_center(
    database_url: str, clock: ManualClock
) -> AsyncIterator[tuple[str, web.Application]]:
    """The center on `clock`, taking bank notifications, its background sweeps off (routing
    too: these tests arrange deliveries themselves)."""
    settings = settings_for(
        database_url, bank_secret=BANK_SECRET, payment_sweep_seconds=0, outcome_sweep_seconds=0,
        delivery_sweep_seconds=0,
    )  # fmt: skip
    runner, url = await start_app(settings, clock)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module", name="sweep")
def outcome_sweep(center: tuple[str, web.Application]) -> OutcomeSweep:
    return center[1][OUTCOMES]


class Desk:
    """A buyer and a supplier trading on a commodity of their own (fee 25 bps, late delivery
    penalty 10 bps a day, claim window 7 days, delivery within 14 days)."""

    def __init__(self, operator: Api, buyer: dict, buyer_api: Api, seller: dict, supplier: Api):
        self.operator = operator
        self.buyer, self.buyer_api = buyer, buyer_api
        self.seller, self.supplier = seller, supplier
        self.code = ""

    @property
    def buyer_id(self) -> int:
        return int(self.buyer["id"])

    @property
    def seller_id(self) -> int:
        return int(self.seller["id"])


async def new_desk(operator: Api, **commodity: Any) -> Desk:
    region = unique("EU-OUT-")
    assert (await operator.post("/v1/regions", {"code": region, "name": region})).status == 201
    buyer, buyer_api = await new_participant(operator, ["buyer"], home_region=region)
    seller, supplier = await new_participant(operator, ["supplier"], home_region=region)
    desk = Desk(operator, buyer, buyer_api, seller, supplier)
    body = commodity_body(
        tick_size="1.00", lot_size="1", min_quantity="1", fee_rate_bps=25,
        late_delivery_penalty_bps=10, claim_window_days=7, delivery_days=14,
    ) | commodity  # fmt: skip
    assert (await operator.post("/v1/commodities", body)).status == 201, body
    desk.code = str(body["code"])
    return desk


async def funded(desk: Desk, clock: ManualClock, price: int, quantity: int) -> dict[str, Any]:
    """A contract for `quantity` at `price`, paid through the payment API: the buyer deposits
    the amount at the bank and pays it from its available funds; the contract is `funded`."""
    made = await contract(desk.buyer_api, desk.supplier, desk.code, price, quantity)
    await deposit(desk.buyer_api, clock, desk.buyer_id, made["amount"])
    reply = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/pay")
    assert reply.status == 200, reply.body
    assert reply.body["contract"]["status"] == "funded", reply.body
    return reply.body["contract"]  # type: ignore[no-any-return]


async def arrange_delivered(
    database_url: str,
    contract_id: int,
    at: datetime,
    delivered: str | None = None,
    *,
    due: datetime | None = None,
) -> None:
    """Arrangement, as the routing code does it: the contract moves `funded -> in_delivery ->
    delivered` through `lifecycle.transition` at `at`, with the delivery columns set:
    `delivery_due_at` (`due`, by default funded + the terms' lead days; kept if set),
    `delivered_at` = `at`, `delivered_quantity_micro` = `delivered` (default: the whole
    quantity) and `claim_window_until` = `at` + the terms' claim window days."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            row = await lifecycle.fetch_contract(conn, contract_id)
            assert row is not None
            terms = parse(row["terms"])
            quantity = Decimal(delivered if delivered is not None else terms.quantity)
            default_due = row["funded_at"] + terms.delivery.lead_days * DAY
            await conn.execute(
                "UPDATE contracts SET delivery_due_at = coalesce($3, delivery_due_at, $4),"
                " delivered_at = $5, delivered_quantity_micro = $6, claim_window_until = $7"
                " WHERE commodity_id = $1 AND id = $2",
                row["commodity_id"], contract_id, due, default_due, at,
                int(quantity * 1_000_000), at + terms.breach.claim_window_days * DAY,
            )  # fmt: skip
            steps = (
                [S.DELIVERED] if row["status"] == S.IN_DELIVERY else [S.IN_DELIVERY, S.DELIVERED]
            )
            for step in steps:
                await lifecycle.transition(conn, contract_id, step, None, "arranged delivery", at)
    finally:
        await conn.close()


def minor(text: str) -> int:
    """A decimal string of EUR as cents."""
    return int(Decimal(text) * 100)


async def available_minor(api: Api) -> int:
    reply = await api.get("/v1/accounts")
    assert reply.status == 200, reply.body
    for found in reply.body["balances"]:
        if found["currency"] == "EUR":
            return minor(found["available"])
    return 0


async def revenue_minor(operator: Api) -> int:
    reply = await operator.get("/v1/accounts/center")
    assert reply.status == 200, reply.body
    for found in reply.body["balances"]:
        if found["currency"] == "EUR":
            return minor(found["revenue"])
    return 0


async def escrow_minor(api: Api) -> int:
    """What the caller (a buyer) holds in escrow in all."""
    reply = await api.get("/v1/accounts")
    for found in reply.body["balances"]:
        if found["currency"] == "EUR":
            return minor(found["in_escrow"])
    return 0


async def status_of(api: Api, contract_id: int) -> str:
    reply = await api.get(f"/v1/contracts/{contract_id}")
    assert reply.status == 200, reply.body
    return str(reply.body["contract"]["status"])


async def arrange_claim(database_url: str, contract_id: int) -> int:
    """Arrangement: a claim row on the contract as it stands (for tests of who may reach a
    claim, not of the claim's flow); its id."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await lifecycle.fetch_contract(conn, contract_id)
        assert row is not None
        return int(
            await conn.fetchval(
                "INSERT INTO claims (commodity_id, contract_id, kind, amount_minor, description,"
                " status, opened_at) VALUES ($1, $2, 'damage', 100, 'arranged', 'open', now())"
                " RETURNING id",
                row["commodity_id"],
                contract_id,
            )
        )
    finally:
        await conn.close()


async def arrange_backorder_delivered(
    database_url: str, contract_id: int, at: datetime, delivered_in_all: str
) -> None:
    """Arrangement, as the routing code records a backorder's delivery: a task of attempt 2
    `delivered` at `at`, and on the contract (which stays `delivered`) `delivered_at` = `at`,
    `delivered_quantity_micro` = `delivered_in_all` (both attempts) and a new claim window."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            row = await lifecycle.fetch_contract(conn, contract_id)
            assert row is not None
            assert row["status"] == S.DELIVERED, row["status"]
            terms = parse(row["terms"])
            total = int(Decimal(delivered_in_all) * 1_000_000)
            before = await conn.fetchval(
                "SELECT delivered_quantity_micro FROM contracts WHERE commodity_id = $1"
                " AND id = $2", row["commodity_id"], contract_id,
            )  # fmt: skip
            rest = int(Decimal(terms.quantity) * 1_000_000) - before
            await conn.execute(
                "INSERT INTO delivery_tasks (commodity_id, contract_id, attempt, status,"
                " origin_region, destination_region, quantity_micro, window_start, window_end,"
                " delivery_code, delivered_micro, delivered_at, created_at, updated_at)"
                " VALUES ($1, $2, 2, 'delivered', 'ARRANGED', 'ARRANGED', $3, $4, $4, '000000',"
                " $5, $4, $4, $4)",
                row["commodity_id"], contract_id, rest, at, total - before,
            )  # fmt: skip
            await conn.execute(
                "UPDATE contracts SET delivered_at = $3, delivered_quantity_micro = $4,"
                " claim_window_until = $5 WHERE commodity_id = $1 AND id = $2",
                row["commodity_id"], contract_id, at, total,
                at + terms.breach.claim_window_days * DAY,
            )  # fmt: skip
    finally:
        await conn.close()
