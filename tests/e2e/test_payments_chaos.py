"""A seeded chaos run: buyers and suppliers move money through the bank simulator while it
duplicates, delays, reorders and loses notifications, answers transfers only after the center
has given up waiting, and sends payouts back. Afterwards reconciliation is clean and every
balance equals the oracle's: what each participant holds at the bank and at the center together
is what it started with, and the center's clearing account mirrors its account at the bank."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from exchange.payments.references import deposit_reference
from tests.banksim import BankSim
from tests.factories import Api, new_participant, unique
from tests.outbound_support import post_with_key
from tests.payments_support import (  # noqa: F401 (ledger_holds: an autouse fixture)
    balance,
    bank_connected_center,
    center_balance,
    commodity,
    contract,
    ledger_holds,
)

SEED = 20261123
# a new transfer's answer comes after 6 s, past HttpBank's 5 s: the center sees a timeout
FAULTS = (
    "lose=0.2,duplicate=0.2,delay=0.2,reorder=0.2,timeout=0.25,returns=0.25,"
    "delay_seconds=0.5,answer_delay_seconds=6,return_after_seconds=0.3"
)
OPENING = Decimal("100000.00")
SETTLE_WITHIN = 60.0


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> BankSim:
    return BankSim(tmp_path_factory.mktemp("bank"), faults=SEED, fault_rates=FAULTS)


@pytest.fixture(scope="module", name="center")
async def bank_center(
    database_url: str, bank: BankSim
) -> AsyncIterator[tuple[str, web.Application]]:
    async with bank_connected_center(database_url, bank) as center:
        yield center


class Firm:
    def __init__(self, participant: dict[str, Any], api: Api, account: str) -> None:
        self.id: int = participant["id"]
        self.api = api
        self.account = account


async def _firm(operator: Api, bank: BankSim, roles: list[str], region: str) -> Firm:
    participant, api = await new_participant(operator, roles, home_region=region)
    account = await bank.open_account(participant["legal_name"], "EUR", str(OPENING))
    path = f"/v1/participants/{participant['id']}/bank-account"
    assert (await api.call("PUT", path, {"bank_account": account})).status == 200
    return Firm(participant, api, account)


def _amount(rng: random.Random, low: int, high: int) -> str:
    return f"{rng.randint(low, high)}.{rng.randint(0, 99):02d}"


async def _withdraw(firm: Firm, amount: str) -> int:
    body = {"currency": "EUR", "amount": amount}
    reply = await post_with_key(firm.api, "/v1/withdrawals", body, unique("chaos-wd-"))
    assert reply.status in (202, 409), reply.body  # 409: the center has not got the money yet
    return reply.status


async def _settled(operator: Api, bank: BankSim) -> None:
    """Until the bank has told all it will and no withdrawal is pending at the center."""
    deadline = time.monotonic() + SETTLE_WITHIN
    await bank.wait_delivered(SETTLE_WITHIN)
    while True:
        pending = (await operator.get("/v1/withdrawals", status="pending", limit="1")).body
        if not pending["data"]:
            await bank.wait_delivered(SETTLE_WITHIN)
            return
        assert time.monotonic() < deadline, pending
        await asyncio.sleep(0.1)


async def _total_at_center(firm: Firm) -> Decimal:
    held = await balance(firm.api)
    return Decimal(held["available"]) + Decimal(held["in_escrow"]) + Decimal(held["reserved"])


async def test_money_survives_a_faulty_bank(operator: Api, bank: BankSim) -> None:
    rng = random.Random(SEED)
    started = datetime.now(UTC).date()
    region = unique("EU-CHAOS-")
    assert (await operator.post("/v1/regions", {"code": region, "name": region})).status == 201
    buyers = [await _firm(operator, bank, ["buyer"], region) for _ in range(3)]
    suppliers = [await _firm(operator, bank, ["supplier"], region) for _ in range(2)]
    closed = await _firm(operator, bank, ["supplier"], region)  # its bank account closes
    code = await commodity(operator)
    center = bank.center_account("EUR")

    # money in: deposits, and contracts paid at the bank exactly, short or over
    transfers = []
    for firm in [*buyers, *suppliers, closed]:
        for _ in range(3):
            reference = deposit_reference(firm.id)
            transfers.append(
                bank.pay(firm.account, center, _amount(rng, 100, 5000), "EUR", reference)
            )
    for _ in range(8):
        buyer, supplier = rng.choice(buyers), rng.choice(suppliers)
        made = await contract(buyer.api, supplier.api, code, rng.randint(50, 900))
        paid = Decimal(made["amount"]) + rng.choice(
            [Decimal(0), Decimal("-20.00"), Decimal("35.50")]
        )
        transfers.append(
            bank.pay(buyer.account, center, f"{paid:.2f}", "EUR", made["payment_reference"])
        )
    await asyncio.gather(*transfers)
    await bank.wait_delivered(SETTLE_WITHIN)

    # money out: withdrawals (some answered late, some returned), one to a closed account
    await bank.close_account(closed.account)
    statuses = await asyncio.gather(
        *(_withdraw(firm, _amount(rng, 10, 400)) for firm in [*buyers, *suppliers, closed] * 2)
    )
    assert statuses.count(202) >= 6, statuses
    await _settled(operator, bank)

    days = sorted({started, datetime.now(UTC).date()})
    reports = [await _reconcile(operator, day) for day in days]
    await _settled(operator, bank)  # recovered payouts may have been retried meanwhile
    again = [await _reconcile(operator, day) for day in days]

    for report in reports + again:
        assert report["clean"], report
    assert any(report["recovered"] for report in reports), "the seed lost no notification"
    assert not any(report["recovered"] for report in again), again
    faults = {fault["fault"] for fault in await bank.faults()}
    assert {"lost", "duplicated", "timeout", "returned"} <= faults, faults
    # the oracle: money moved only between each firm's bank account and the center
    for firm in [*buyers, *suppliers, closed]:
        at_bank = Decimal(await bank.balance(firm.account))
        assert at_bank + await _total_at_center(firm) == OPENING, firm.id
    clearing = Decimal((await center_balance(operator))["clearing"])
    assert clearing == -Decimal(await bank.balance(center))
    rejected = await closed.api.get("/v1/withdrawals", status="rejected")
    assert rejected.body["data"], "the payout to a closed account was not rejected"


async def _reconcile(operator: Api, day: date) -> dict[str, Any]:
    reply = await operator.post("/v1/reconciliations", {"date": day.isoformat(), "currency": "EUR"})
    assert reply.status == 200, reply.body
    return reply.body  # type: ignore[no-any-return]
