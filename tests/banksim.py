"""`exchange bank-sim` in a child process, for tests that need the designated bank.

    bank = BankSim(tmp_path, notify_url=f"{center}/v1/bank/notifications", secret=SECRET)
    await bank.start()
    try:
        buyer = await bank.open_account("Buyer Ltd", "EUR", "1000.00")
        await bank.pay(buyer, bank.center_account("EUR"), "250.00", "EUR", reference)
    finally:
        await bank.stop()

or `async with BankSim(...) as bank:`. `bank.url` is known from construction on, so a center
can be configured with it first; `bank.notify_url` may be set until `start()`. The simulator's
API is in docs/payments.md.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from exchange.db.embedded import free_port
from settlement.bank.messages import (
    BankAccount,
    Notification,
    OpenAccount,
    SetClock,
    SimClock,
    Statement,
    TransferRequest,
    TransferResult,
)
from settlement.bank.port import BankRefusedError
from settlement.bank.signing import HEADER, SignatureError, verify

API_KEY = "bank-sim-test-key-0123456789"
SECRET = "bank-sim-test-secret-0123456789"
STARTUP_LIMIT = 20.0
WAIT = 15.0


class BankSim:
    """The bank simulator as a real process on a free loopback port, stopped by its pid."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        notify_url: str | None = None,
        secret: str = SECRET,
        api_key: str = API_KEY,
        faults: int | None = None,
        fault_rates: str | None = None,
        account_prefix: str = "CENTER-",
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = api_key
        self.secret = secret
        self.account_prefix = account_prefix
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.log = tmp_path / f"bank-sim-{self.port}.log"
        self.notify_url = notify_url  # may be set after construction, before start()
        self.fault_seed = faults
        self.fault_rates = fault_rates
        self.process: subprocess.Popen[bytes] | None = None
        self._http: aiohttp.ClientSession | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "exchange", "bank-sim", "--port", str(self.port)]
        args += ["--account-prefix", self.account_prefix]
        if self.notify_url is not None:
            args += ["--notify-url", self.notify_url]
        if self.fault_seed is not None:
            args += ["--faults", str(self.fault_seed)]
        if self.fault_rates is not None:
            args += ["--fault-rates", self.fault_rates]
        env = {**os.environ, "BANK_SIM_API_KEY": self.api_key, "BANK_SIM_SECRET": self.secret}
        with self.log.open("wb") as out:
            return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        """Start the process and wait until `/healthz` answers."""
        self.process = self._spawn()
        self._http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.api_key}"})
        started = time.monotonic()
        while time.monotonic() - started < STARTUP_LIMIT:
            assert self.process.poll() is None, self.log.read_text()
            try:
                async with self._http.get(self.url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
        await self.stop()
        raise AssertionError(f"bank-sim not healthy in {STARTUP_LIMIT} s:\n{self.log.read_text()}")

    async def stop(self) -> int | None:
        """SIGTERM to the process (by its pid), then wait; returns its exit code."""
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self.process is None:
            return None
        process = self.process
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        try:
            return await asyncio.to_thread(process.wait, 15)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()

    async def __aenter__(self) -> BankSim:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # the API

    def center_account(self, currency: str) -> str:
        """The center's account in `currency` (open from the start)."""
        return self.account_prefix + currency

    async def raw(
        self, method: str, path: str, body: object = None, data: bytes | None = None
    ) -> tuple[int, bytes]:
        """Any call to the simulator's API with `body` as JSON (or `data` as it is):
        (status, raw answer)."""
        assert self._http is not None, "start() first"
        if body is not None:
            data = msgspec.json.encode(body)
        headers = {"Content-Type": "application/json"} if data is not None else None
        async with self._http.request(
            method, self.url + path, data=data, headers=headers
        ) as response:
            return response.status, await response.read()

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """Any call to the simulator's API: (status, decoded JSON)."""
        status, answer = await self.raw(method, path, body)
        return status, msgspec.json.decode(answer)

    async def _ok(self, method: str, path: str, kind: type[Any], body: object = None) -> Any:
        status, answer = await self.raw(method, path, body)
        if status >= 300:
            problem = msgspec.json.decode(answer)
            raise BankRefusedError(status, problem.get("code", ""), problem.get("detail", ""))
        return msgspec.json.decode(answer, type=kind)

    async def open_account(self, holder: str, currency: str, opening_balance: str = "0") -> str:
        """Open an account; returns its number."""
        new = OpenAccount(holder=holder, currency=currency, opening_balance=opening_balance)
        account: BankAccount = await self._ok("POST", "/v1/accounts", BankAccount, new)
        return account.number

    async def account(self, number: str) -> BankAccount:
        result: BankAccount = await self._ok("GET", f"/v1/accounts/{number}", BankAccount)
        return result

    async def balance(self, number: str) -> str:
        return (await self.account(number)).balance

    @staticmethod
    def order(
        debtor: str,
        creditor: str,
        amount: str,
        currency: str,
        reference: str,
        end_to_end_id: str | None = None,
    ) -> TransferRequest:
        """A transfer order (a fresh end-to-end id unless given)."""
        return TransferRequest(
            end_to_end_id=end_to_end_id or f"T{uuid.uuid4().hex[:20]}",
            debtor_account=debtor,
            creditor_account=creditor,
            amount=amount,
            currency=currency,
            reference=reference,
        )

    async def pay(
        self,
        debtor: str,
        creditor: str,
        amount: str,
        currency: str,
        reference: str,
        end_to_end_id: str | None = None,
    ) -> TransferResult:
        """Order a transfer (a fresh end-to-end id unless given); raises `BankRefusedError` on a
        4xx; a rejection is a result with status `rejected`."""
        order = self.order(debtor, creditor, amount, currency, reference, end_to_end_id)
        result: TransferResult = await self._ok("POST", "/v1/transfers", TransferResult, order)
        return result

    async def transfer(self, end_to_end_id: str) -> TransferResult:
        path = f"/v1/transfers/{end_to_end_id}"
        result: TransferResult = await self._ok("GET", path, TransferResult)
        return result

    async def return_transfer(self, end_to_end_id: str) -> TransferResult:
        """The creditor's side sends an executed transfer back."""
        path = f"/v1/transfers/{end_to_end_id}/return"
        result: TransferResult = await self._ok("POST", path, TransferResult)
        return result

    async def close_account(self, number: str) -> BankAccount:
        """Close an account: transfers to it are rejected from now on."""
        closed: BankAccount = await self._ok("POST", f"/v1/accounts/{number}/close", BankAccount)
        return closed

    async def statement(self, number: str, day: date) -> Statement:
        path = f"/v1/accounts/{number}/statement?date={day.isoformat()}"
        result: Statement = await self._ok("GET", path, Statement)
        return result

    async def wait_delivered(self, limit: float = WAIT) -> dict[str, int]:
        """Wait until every notification so far was delivered or given up on (and every planned
        return happened); returns the delivery counts."""
        deadline = time.monotonic() + limit
        while True:
            _, counts = await self.request("GET", "/v1/notifications")
            if counts["pending"] == 0 and counts["planned_returns"] == 0:
                return dict(counts)
            assert time.monotonic() < deadline, f"still delivering after {limit} s: {counts}"
            await asyncio.sleep(0.02)

    async def clock(self) -> SimClock:
        """The simulator's time and its offset from the system clock."""
        result: SimClock = await self._ok("GET", "/v1/clock", SimClock)
        return result

    async def set_clock_offset(self, seconds: int) -> SimClock:
        """The simulator reads the system time plus `seconds` from now on."""
        body = SetClock(offset_seconds=seconds)
        result: SimClock = await self._ok("POST", "/v1/clock", SimClock, body)
        return result

    async def follow_clock(self, now: datetime) -> SimClock:
        """Put the simulator's clock (to the second) where a center's clock reads `now`, so
        that the times it signs notifications at are within the center's tolerance (the
        simulator runs on this machine: the offset is taken from the system clock here)."""
        return await self.set_clock_offset(round((now - datetime.now(UTC)).total_seconds()))

    async def faults(self) -> list[dict[str, Any]]:
        """The faults the simulator produced so far (fault mode)."""
        _, answer = await self.request("GET", "/v1/faults")
        faults: list[dict[str, Any]] = answer["faults"]
        return faults


class Receiver:
    """A stand-in for the center's notifications endpoint, on loopback: checks each signature,
    records what arrives, and can answer 503 to the first few attempts."""

    def __init__(
        self, secret: str = SECRET, fail_first: int = 0, now: Callable[[], float] = time.time
    ) -> None:
        self.secret = secret.encode()
        self.fail_first = fail_first
        self.now = now  # the receiving center's clock (unix seconds)
        self.attempts = 0
        self.received: list[Notification] = []
        self.forged = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempts += 1
        try:
            verify(self.secret, body, request.headers.get(HEADER), int(self.now()))
        except SignatureError:
            self.forged += 1
            return web.Response(status=401)
        if self.attempts <= self.fail_first:
            return web.Response(status=503)
        self.received.append(msgspec.json.decode(body, type=Notification))
        return web.Response(status=200)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/bank/notifications", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1/bank/notifications"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of(self, e2e: str) -> list[Notification]:
        return [n for n in self.received if n.end_to_end_id == e2e]

    async def wait_until(self, condition: Callable[[], bool], limit: float = WAIT) -> None:
        deadline = time.monotonic() + limit
        while not condition():
            assert time.monotonic() < deadline, f"not within {limit} s: {self.received}"
            await asyncio.sleep(0.02)
