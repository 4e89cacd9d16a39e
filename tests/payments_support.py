"""Shared by the payment tests: a center on a manual clock that takes signed bank notifications,
notifications signed as the bank signs them, contracts to pay, and the ledger's trial balance
checked after every test.

A test module takes the fixtures by importing them (they override conftest's `center`):

    from tests.payments_support import ledger_holds, manual_clock, paying_center  # noqa: F401
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from aiohttp import ClientSession, web

from exchange.clock import ManualClock
from exchange.payments.references import contract_reference, deposit_reference
from settlement.bank.signing import HEADER, sign
from tests.banksim import BankSim
from tests.conftest import settings_for, start_app
from tests.factories import Api, Reply, commodity_body, new_participant, unique

BANK_SECRET = "bank-secret-for-tests-0123456789"
CENTER_ACCOUNT = "CENTER-EUR"
_events = itertools.count(1)


@pytest.fixture(scope="module", name="clock")
def manual_clock() -> ManualClock:
    """The center's clock: tests move it instead of sleeping."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="module", name="center")
async def paying_center(
    database_url: str, clock: ManualClock
) -> AsyncIterator[tuple[str, web.Application]]:
    """The center on loopback, reading `clock`, taking notifications signed with BANK_SECRET."""
    runner, url = await start_app(settings_for(database_url, bank_secret=BANK_SECRET), clock)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def bank_connected_center(
    database_url: str, bank: BankSim
) -> AsyncIterator[tuple[str, web.Application]]:
    """The center on the system clock, talking to the simulator `bank` through `HttpBank`,
    and the simulator started, notifying the center."""
    settings = settings_for(
        database_url, bank_url=bank.url, bank_api_key=bank.api_key, bank_secret=bank.secret
    )
    runner, url = await start_app(settings)
    try:
        bank.notify_url = f"{url}/v1/bank/notifications"
        await bank.start()
        yield url, runner.app
    finally:
        await bank.stop()
        await runner.cleanup()


@pytest.fixture(autouse=True)
async def ledger_holds(operator: Api) -> AsyncIterator[None]:
    """After every test, the ledger's trial balance holds."""
    yield
    reply = await operator.get("/v1/ledger/trial-balance")
    assert reply.status == 200, reply.body
    assert reply.body["holds"], reply.body


def credit(amount: str, reference: str, clock: ManualClock, **fields: Any) -> dict[str, Any]:
    """The body of a credit notification (fresh ids unless given)."""
    n = next(_events)
    body: dict[str, Any] = {
        "event_id": f"evt-{unique('')}-{n}",
        "type": "credit",
        "occurred_at": clock.now().isoformat(),
        "account": CENTER_ACCOUNT,
        "bank_reference": f"BK{unique('')}X{n}",
        "end_to_end_id": f"E2E-{unique('')}-{n}",
        "amount": amount,
        "currency": "EUR",
        "reference": reference,
        "counterparty_account": "DE00BUYER",
        "counterparty_name": "Baltic Build AB",
    }
    body.update(fields)
    return body


async def notify(
    http: ClientSession,
    url: str,
    secret: str,
    clock: ManualClock,
    body: dict[str, Any] | bytes,
    *,
    signed_at: int | None = None,
    signature: str | None = None,
) -> Reply:
    """POST a notification as the bank does: signed over the raw body at the clock's time
    (or at `signed_at`), unless `signature` gives the header itself."""
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    at = signed_at if signed_at is not None else int(clock.now().timestamp())
    header = signature if signature is not None else sign(secret.encode(), raw, at)
    headers = {HEADER: header, "Content-Type": "application/json"}
    async with http.post(f"{url}/v1/bank/notifications", data=raw, headers=headers) as response:
        payload = await response.json(content_type=None)
        return Reply(response.status, payload, response.headers)


async def signed_credit(
    http: ClientSession, url: str, secret: str, amount: str, reference: str, **fields: Any
) -> Reply:
    """A credit notification signed now, at the real time (for a center on the system clock)."""
    clock = ManualClock(datetime.now(UTC))
    return await notify(http, url, secret, clock, credit(amount, reference, clock, **fields))


async def deposit(api: Api, clock: ManualClock, participant_id: int, amount: str) -> Reply:
    """A bank credit quoting the participant's deposit reference; must be applied."""
    body = credit(amount, deposit_reference(participant_id), clock)
    reply = await notify(api.http, api.base_url, BANK_SECRET, clock, body)
    assert reply.status == 200, reply.body
    return reply


async def balance(api: Api, currency: str = "EUR") -> dict[str, str]:
    """The caller's balance in `currency` (zeros if it has none)."""
    reply = await api.get("/v1/accounts")
    assert reply.status == 200, reply.body
    for found in reply.body["balances"]:
        if found["currency"] == currency:
            return found  # type: ignore[no-any-return]
    return {"currency": currency, "available": "0.00", "in_escrow": "0.00", "reserved": "0.00"}


async def center_balance(operator: Api, currency: str = "EUR") -> dict[str, str]:
    reply = await operator.get("/v1/accounts/center")
    assert reply.status == 200, reply.body
    for found in reply.body["balances"]:
        if found["currency"] == currency:
            return found  # type: ignore[no-any-return]
    zero = "0.00"
    return {"currency": currency, "revenue": zero, "clearing": zero, "withdrawals": zero,
            "suspense": zero}  # fmt: skip


async def parties(operator: Api) -> tuple[dict[str, Any], Api, dict[str, Any], Api]:
    """A buyer and a supplier: (buyer, its client, supplier, its client)."""
    region = unique("EU-PAY-")
    assert (await operator.post("/v1/regions", {"code": region, "name": region})).status == 201
    buyer, buyer_api = await new_participant(operator, ["buyer"], home_region=region)
    supplier, supplier_api = await new_participant(operator, ["supplier"], home_region=region)
    return buyer, buyer_api, supplier, supplier_api


async def commodity(operator: Api, **overrides: Any) -> str:
    """A commodity in EUR traded in whole units at whole prices, reviewed only above 1M."""
    body = commodity_body(tick_size="1.00", lot_size="1", min_quantity="1") | overrides
    reply = await operator.post("/v1/commodities", body)
    assert reply.status == 201, reply.body
    return str(body["code"])


async def contract(
    buyer: Api, supplier: Api, code: str, price: int, quantity: int = 1
) -> dict[str, Any]:
    """A contract between the two for `quantity` at `price` (awaiting payment)."""
    sell = {"client_order_id": unique("p-"), "commodity": code, "side": "sell",
            "price": f"{price}.00", "quantity": str(quantity)}  # fmt: skip
    assert (await supplier.post("/v1/orders", sell)).status == 201
    buy = sell | {"client_order_id": unique("p-"), "side": "buy"}
    reply = await buyer.post("/v1/orders", buy)
    assert reply.status == 201, reply.body
    assert reply.body["status"] == "filled", reply.body
    found = (await buyer.get("/v1/contracts", commodity=code)).body["data"]
    made = found[0]
    assert made["status"] == "awaiting_payment", made
    assert made["payment_reference"] == contract_reference(made["id"])
    return made  # type: ignore[no-any-return]
