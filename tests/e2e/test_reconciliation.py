"""Reconciliation against the bank simulator as a real process whose every notification is
lost: the center learns of the money only from the bank's statement, applies each booking once,
and reports what it cannot match."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from exchange.payments.references import deposit_reference
from tests.banksim import API_KEY, SECRET, BankSim
from tests.factories import Api
from tests.payments_support import (  # noqa: F401 (ledger_holds: an autouse fixture)
    balance,
    bank_connected_center,
    commodity,
    contract,
    ledger_holds,
    parties,
    signed_credit,
)

LOSE_EVERYTHING = "lose=1,duplicate=0,delay=0,reorder=0,timeout=0,returns=0"


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> BankSim:
    return BankSim(tmp_path_factory.mktemp("bank"), faults=1, fault_rates=LOSE_EVERYTHING)


@pytest.fixture(scope="module", name="center")
async def bank_center(
    database_url: str, bank: BankSim
) -> AsyncIterator[tuple[str, web.Application]]:
    async with bank_connected_center(database_url, bank) as center:
        yield center


def today() -> str:
    return datetime.now(UTC).date().isoformat()


async def reconcile(operator: Api, currency: str = "EUR") -> dict[str, Any]:
    reply = await operator.post("/v1/reconciliations", {"date": today(), "currency": currency})
    assert reply.status == 200, reply.body
    return reply.body  # type: ignore[no-any-return]


async def test_a_lost_deposit_is_recovered_from_the_statement_once(
    operator: Api, bank: BankSim
) -> None:
    buyer, buyer_api, _, _ = await parties(operator)
    account = await bank.open_account("Baltic Build AB", "EUR", "5000.00")
    await bank.pay(
        account, bank.center_account("EUR"), "1200.00", "EUR", deposit_reference(buyer["id"])
    )
    await bank.wait_delivered()
    assert (await balance(buyer_api))["available"] == "0.00"  # the notification was lost

    first = await reconcile(operator)
    second = await reconcile(operator)

    assert len(first["recovered"]) == 1, first
    assert first["clean"], first
    assert (await balance(buyer_api))["available"] == "1200.00"
    assert second["recovered"] == [], second
    assert second["clean"], second
    assert second["matched"] == second["entries"] == first["entries"]
    assert first["difference"] == "0.00"
    assert first["clearing_balance"] == first["closing_balance"]


async def test_a_contract_paid_at_the_bank_is_funded_by_the_recovered_booking(
    operator: Api, bank: BankSim
) -> None:
    _, buyer_api, _, supplier_api = await parties(operator)
    code = await commodity(operator)
    made = await contract(buyer_api, supplier_api, code, 800)
    account = await bank.open_account("Nordic Steel Oy", "EUR", "900.00")
    await bank.pay(account, bank.center_account("EUR"), "800.00", "EUR", made["payment_reference"])
    await bank.wait_delivered()

    report = await reconcile(operator)

    assert report["clean"], report
    funded = (await buyer_api.get(f"/v1/contracts/{made['id']}")).body["contract"]
    assert funded["status"] == "funded"
    assert funded["paid"] == "800.00"


async def test_concurrent_reconciliations_apply_a_booking_once(
    operator: Api, bank: BankSim
) -> None:
    buyer, buyer_api, _, _ = await parties(operator)
    account = await bank.open_account("Danube Grain Kft", "EUR", "500.00")
    await bank.pay(
        account, bank.center_account("EUR"), "300.00", "EUR", deposit_reference(buyer["id"])
    )
    await bank.wait_delivered()

    reports = await asyncio.gather(*(reconcile(operator) for _ in range(4)))

    assert sorted(len(r["recovered"]) for r in reports)[-1] >= 1
    assert (await balance(buyer_api))["available"] == "300.00"
    assert (await reconcile(operator))["clean"]


async def test_an_event_the_bank_never_booked_is_reported_not_hidden(
    operator: Api, bank: BankSim, base_url: str
) -> None:
    buyer, _, _, _ = await parties(operator)
    # signed with the shared secret, but no such transfer happened at the bank
    reply = await signed_credit(
        operator.http, base_url, SECRET, "70.00", deposit_reference(buyer["id"]),
        account=bank.center_account("USD"), currency="USD",
    )  # fmt: skip
    assert reply.status == 200, reply.body

    report = await reconcile(operator, "USD")

    assert not report["clean"]
    assert report["missing_from_statement"] == [reply.body["event_id"]]
    assert report["difference"] == "70.00"
    listed = (await operator.get("/v1/reconciliations", currency="USD")).body["data"]
    assert listed[0]["report"] == report


async def test_only_operators_reconcile_and_bad_input_is_422(operator: Api) -> None:
    _, buyer_api, _, _ = await parties(operator)
    body = {"date": today(), "currency": "EUR"}
    assert (await buyer_api.post("/v1/reconciliations", body)).status == 403
    for wrong, code in [
        ({"date": "2026-13-01", "currency": "EUR"}, "VALIDATION_FAILED"),
        ({"date": "0001-01-01", "currency": "EUR"}, "OUT_OF_RANGE"),
        ({"date": today(), "currency": "XYZ"}, "UNSUPPORTED_CURRENCY"),
    ]:
        bad = await operator.post("/v1/reconciliations", wrong)
        assert bad.status == 422, bad.body
        assert bad.body["code"] == code, bad.body
    assert (await operator.get("/v1/reconciliations", currency="XYZ")).status == 422


async def test_the_command_line_reconciles_too(
    operator: Api, bank: BankSim, database_url: str, tmp_path: Path
) -> None:
    buyer, buyer_api, _, _ = await parties(operator)
    account = await bank.open_account("Iberia Metals SA", "EUR", "100.00")
    await bank.pay(
        account, bank.center_account("EUR"), "45.50", "EUR", deposit_reference(buyer["id"])
    )
    await bank.wait_delivered()
    env = {
        **os.environ, "DATABASE_URL": database_url, "EXCHANGE_BANK_URL": bank.url,
        "EXCHANGE_BANK_API_KEY": API_KEY,
    }  # fmt: skip

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exchange", "reconcile", "--date", today(), "--currency", "EUR",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, err.decode()
    report = msgspec.json.decode(out.splitlines()[-1])
    assert report["clean"], report
    assert len(report["recovered"]) == 1, report
    assert (await balance(buyer_api))["available"] == "45.50"
