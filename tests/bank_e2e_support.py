"""Shared by the end-to-end payment tests against the bank simulator as a real process: a center
on loopback that talks to it through `HttpBank` and takes its signed notifications on
`POST /v1/bank/notifications`, the two clocks moved in step, participants with accounts at the
bank, and, after every test, the ledger's trial balance and the center's clearing account
checked against what the bank holds for the center.

A test module takes the fixtures by importing them (they override conftest's `center`):

    from tests.bank_e2e_support import (  # noqa: F401
        bank_and_center, books_agree, center_with_bank, manual_clock, simulated_bank,
    )
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import ClientSession, web

from exchange.appkeys import DEADLINES
from exchange.clock import ManualClock
from exchange.payments.deadlines import SweepReport
from settlement.bank.messages import TransferResult, TransferStatus
from settlement.bank.signing import HEADER
from settlement.money import CURRENCY_EXPONENTS, parse_scaled
from tests.banksim import API_KEY, SECRET, BankSim
from tests.conftest import settings_for, start_app
from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api, new_participant, unique
from tests.outbound_support import eventually
from tests.payments_support import manual_clock

__all__ = ["bank_and_center", "books_agree", "center_with_bank", "manual_clock", "simulated_bank"]

EUR = "EUR"


@asynccontextmanager
async def running(
    tmp_path: Path, database_url: str, clock: ManualClock, tap: Tap | None = None
) -> AsyncIterator[tuple[BankSim, str, web.Application]]:
    """The simulator (its own process, stopped by pid) and a center that uses it: the center
    orders payouts through `HttpBank` at the simulator's URL and the simulator notifies the
    center's endpoint (through `tap`, if given), both with the shared secret. The deadline
    sweep runs only when a test says so (`sweep`), after moving the clocks."""
    bank = BankSim(tmp_path, secret=SECRET, api_key=API_KEY)
    settings = settings_for(
        database_url, bank_url=bank.url, bank_api_key=API_KEY, bank_secret=SECRET,
        payment_sweep_seconds=0,
    )  # fmt: skip
    runner, url = await start_app(settings, clock)
    try:
        bank.notify_url = f"{url}/v1/bank/notifications"
        if tap is not None:
            bank.notify_url = await tap.start(bank.notify_url)
        await bank.start()
        try:
            yield bank, url, runner.app
        finally:
            await bank.stop()
            if tap is not None:
                await tap.stop()
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
async def bank_and_center(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, clock: ManualClock
) -> AsyncIterator[tuple[BankSim, str, web.Application]]:
    async with running(tmp_path_factory.mktemp("bank"), database_url, clock) as started:
        yield started


@pytest.fixture(scope="module", name="bank")
def simulated_bank(bank_and_center: tuple[BankSim, str, web.Application]) -> BankSim:
    return bank_and_center[0]


@pytest.fixture(scope="module", name="center")
def center_with_bank(
    bank_and_center: tuple[BankSim, str, web.Application],
) -> tuple[str, web.Application]:
    return bank_and_center[1], bank_and_center[2]


@pytest.fixture(autouse=True)
async def books_agree(operator: Api, bank: BankSim, clock: ManualClock) -> AsyncIterator[None]:
    """Before every test the bank's clock is put where the center's reads; after it, once
    the bank has delivered every notification, the trial balance holds and the center's
    clearing account is minus the bank's balance of the center's account."""
    await bank.follow_clock(clock.now())
    yield
    await bank.wait_delivered()
    reply = await operator.get("/v1/ledger/trial-balance")
    assert reply.status == 200, reply.body
    assert reply.body["holds"], reply.body
    await assert_clearing_mirrors_the_bank(operator, bank)


@dataclass(frozen=True)
class Captured:
    body: bytes
    signature: str | None  # the Bank-Signature header as the bank sent it
    status: int  # the center's answer
    answer: bytes


class Tap:
    """Between the bank and the center: forwards each notification unchanged and keeps a copy of
    what went by, as an eavesdropper on the wire could (for replaying it)."""

    def __init__(self) -> None:
        self.target = ""
        self.seen: list[Captured] = []
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

    async def start(self, target: str) -> str:
        """Listen on loopback, forwarding to `target`; returns the URL to notify."""
        self.target = target
        self._http = ClientSession()
        app = web.Application()
        app.router.add_post("/v1/bank/notifications", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1/bank/notifications"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        body = await request.read()
        signature = request.headers.get(HEADER)
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[HEADER] = signature
        async with self._http.post(self.target, data=body, headers=headers) as answer:
            raw = await answer.read()
            self.seen.append(Captured(body, signature, answer.status, raw))
            return web.Response(status=answer.status, body=raw, content_type=answer.content_type)

    def of(self, wanted: str) -> list[Captured]:
        """What went by about the transfer with this end-to-end id."""
        return [c for c in self.seen if msgspec.json.decode(c.body)["end_to_end_id"] == wanted]


async def assert_clearing_mirrors_the_bank(operator: Api, bank: BankSim) -> None:
    """In every currency the bank keeps, the center's clearing account is minus what the bank
    holds in the center's account."""
    reply = await operator.get("/v1/accounts/center")
    assert reply.status == 200, reply.body
    clearing = {b["currency"]: b["clearing"] for b in reply.body["balances"]}
    for currency, scale in CURRENCY_EXPONENTS.items():
        at_bank = parse_scaled(await bank.balance(bank.center_account(currency)), scale)
        ours = clearing.get(currency, "0")
        assert signed_minor(ours, scale) == -at_bank, (currency, ours, at_bank)


async def move_clocks(clock: ManualClock, bank: BankSim, to: datetime) -> None:
    """Move the center's clock to `to` (never back) and the bank's with it."""
    clock.set(max(to, clock.now()))
    await bank.follow_clock(clock.now())


async def sweep(center: tuple[str, web.Application]) -> SweepReport:
    """One run of the center's deadline sweep at its clock's time."""
    return await center[1][DEADLINES].run_once()


def signed_minor(text: str, scale: int = 2) -> int:
    """A signed decimal string in minor units (EUR cents unless `scale` says otherwise)."""
    if text.startswith("-"):
        return -parse_scaled(text[1:], scale)
    return parse_scaled(text, scale)


@dataclass
class Party:
    """A participant of the center with an account at the bank, registered with the center."""

    id: int
    api: Api
    account: str  # its account number at the bank

    async def pay(self, bank: BankSim, amount: str, reference: str) -> TransferResult:
        """Transfer at the bank to the center's account quoting `reference`; waits until the
        bank has told the center."""
        result = await bank.pay(self.account, bank.center_account(EUR), amount, EUR, reference)
        assert result.status is TransferStatus.EXECUTED, result
        await bank.wait_delivered()
        return result

    async def deposit(self, bank: BankSim, amount: str) -> TransferResult:
        """Transfer at the bank quoting the participant's deposit reference."""
        accounts = await self.api.get("/v1/accounts")
        assert accounts.status == 200, accounts.body
        return await self.pay(bank, amount, accounts.body["deposit_reference"])


async def party(operator: Api, bank: BankSim, roles: list[str], opening: str, region: str) -> Party:
    """A participant with an account at the bank opened with `opening` EUR, registered with
    the center (`PUT /v1/participants/{id}/bank-account`)."""
    found, api = await new_participant(operator, roles, home_region=region)
    number = await bank.open_account(found["legal_name"], EUR, opening)
    path = f"/v1/participants/{found['id']}/bank-account"
    reply = await api.call("PUT", path, {"bank_account": number})
    assert reply.status == 200, reply.body
    assert reply.body["bank_account"] == number
    return Party(found["id"], api, number)


async def trading_parties(
    operator: Api, bank: BankSim, buyer_opening: str = "10000.00"
) -> tuple[Party, Party]:
    """A buyer (with `buyer_opening` at the bank) and a supplier (nothing at the bank) in a
    region of their own."""
    region = unique("EU-BANK-")
    assert (await operator.post("/v1/regions", {"code": region, "name": region})).status == 201
    buyer = await party(operator, bank, ["buyer"], buyer_opening, region)
    supplier = await party(operator, bank, ["supplier"], "0.00", region)
    return buyer, supplier


async def contract_of(api: Api, contract_id: int) -> dict[str, Any]:
    reply = await api.get(f"/v1/contracts/{contract_id}")
    assert reply.status == 200, reply.body
    return reply.body["contract"]  # type: ignore[no-any-return]


async def withdrawal_in(api: Api, withdrawal_id: int, status: str) -> dict[str, Any]:
    """Poll the withdrawal until it is in `status` (or fail after a deadline)."""

    async def check() -> dict[str, Any] | None:
        body = (await api.get(f"/v1/withdrawals/{withdrawal_id}")).body
        return body if body["status"] == status else None  # type: ignore[no-any-return]

    found: dict[str, Any] = await eventually(check, f"withdrawal {withdrawal_id} {status}")
    return found


async def money_notice(sock: Socket, event: str) -> dict[str, Any]:
    """The next `money` notice of `event` on a `user` subscription (other notices, contract
    notices and heartbeats may come before it)."""
    while True:
        message = await sock.next("money", skipping=("heartbeat", "user", "contract"))
        if message["event"] == event:
            return message


async def user_channel(api: Api) -> Socket:
    """A WebSocket subscribed to the participant's `user` channel, past its snapshot."""
    sock = await connect(api)
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")
    return sock
