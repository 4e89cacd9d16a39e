"""For tests of money going out: a fake designated bank (implements the `Bank` protocol, with
switchable outcomes), the center started with it, money put into available funds directly
through the ledger (an arrangement, standing in for a bank deposit), and requests that carry an
Idempotency-Key."""

from __future__ import annotations

import asyncio
import enum
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from aiohttp import web

from exchange.app import create_app
from exchange.appkeys import BOOT
from exchange.clock import Clock
from exchange.config import Settings
from exchange.payments import accounts, ledger_store, withdrawals
from exchange.payments.money import Move, move
from exchange.payments.notices import Notices
from settlement.bank.messages import (
    Statement,
    TransferRequest,
    TransferResult,
    TransferStatus,
)
from settlement.bank.port import BankRefusedError, BankUnavailableError
from settlement.ledger import AccountKind, Cause
from tests.factories import Api, Reply

_deposits = itertools.count(1)


class Mode(enum.Enum):
    EXECUTE = "execute"  # executes the transfer and says so
    REJECT = "reject"  # refuses it (nothing moves)
    TIMEOUT_AFTER_EXECUTION = "timeout"  # executes it, but the answer is lost (unknown outcome)
    DOWN = "down"  # unreachable: nothing executed, outcome unknown to the caller
    REFUSE = "refuse"  # refuses the request itself (4xx: an account it does not know)


@dataclass
class FakeBank:
    """The designated bank as the center's `Bank` port sees it, in memory: one execution per
    end-to-end id, whose first result answers every retry (as the real bank does)."""

    mode: Mode = Mode.EXECUTE
    requests: list[TransferRequest] = field(default_factory=list)
    results: dict[str, TransferResult] = field(default_factory=dict)
    closed: bool = False

    async def transfer(self, request: TransferRequest) -> TransferResult:
        self.requests.append(request)
        known = self.results.get(request.end_to_end_id)
        if self.mode is Mode.DOWN:
            raise BankUnavailableError("the fake bank is down")
        if self.mode is Mode.REFUSE:
            raise BankRefusedError(422, "UNKNOWN_ACCOUNT", "no such creditor account")
        if known is not None:
            return known
        status = TransferStatus.REJECTED if self.mode is Mode.REJECT else TransferStatus.EXECUTED
        result = TransferResult(
            end_to_end_id=request.end_to_end_id,
            bank_reference=f"FB{len(self.results) + 1}",
            status=status,
            reason="ACCOUNT_CLOSED" if status is TransferStatus.REJECTED else None,
            booked_at=datetime.now(UTC),
        )
        self.results[request.end_to_end_id] = result
        if self.mode is Mode.TIMEOUT_AFTER_EXECUTION:
            raise BankUnavailableError("the fake bank executed it, but the answer was lost")
        return result

    async def statement(self, account: str, day: date) -> Statement:
        return Statement(account=account, currency=account[-3:], date=day,
                         opening_balance="0", closing_balance="0", entries=[])  # fmt: skip

    async def close(self) -> None:
        self.closed = True

    def executions(self, end_to_end_id: str) -> int:
        """How often the bank executed the transfer (at most once, by its id)."""
        result = self.results.get(end_to_end_id)
        return int(result is not None and result.status is TransferStatus.EXECUTED)


async def start_app_with_bank(
    settings: Settings, bank: FakeBank | None, clock: Clock | None = None
) -> tuple[web.AppRunner, str]:
    """The real app on a loopback port, talking to `bank`; returns the runner and its URL."""
    runner = web.AppRunner(create_app(settings, clock, bank), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await runner.app[BOOT]
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def arrange_available_funds(
    database_url: str, participant_id: int, currency: str, amount_minor: int
) -> None:
    """Arrangement: put money into the participant's available funds as a bank deposit would
    (clearing -> available), straight through the ledger."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            clearing = await accounts.center_account(conn, AccountKind.CLEARING, currency)
            available = await accounts.available_account(conn, participant_id, currency)
            cause = Cause(kind="bank", reference=f"TEST-DEPOSIT-{next(_deposits)}")
            await move(conn, currency, [Move(clearing, available, amount_minor, cause)])
    finally:
        await conn.close()


async def available_minor(db: asyncpg.Connection, participant_id: int, currency: str) -> int:
    """The participant's spendable available funds (0 without an account)."""
    account = await accounts.find_available(db, participant_id, currency)
    if account is None:
        return 0
    return (await ledger_store.balances(db, [account]))[account].spendable


async def center_balance(db: asyncpg.Connection, kind: AccountKind, currency: str) -> int:
    """Posted credits less debits of one of the center's own accounts."""
    account = await db.fetchval(
        "SELECT account_id FROM payment_accounts WHERE kind = $1 AND currency = $2"
        " AND participant_id IS NULL AND contract_id IS NULL",
        str(kind), currency,
    )  # fmt: skip
    if account is None:
        return 0
    return (await ledger_store.balances(db, [account]))[account].net_posted


async def assert_ledger_holds(db: asyncpg.Connection) -> None:
    trial = await ledger_store.trial_balance(db)
    assert trial.holds, trial


async def post_with_key(api: Api, path: str, body: Any, key: str | None) -> Reply:
    """POST `body` with an Idempotency-Key (None: without the header)."""
    headers = {"Authorization": f"Bearer {api.key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with api.http.post(api.base_url + path, json=body, headers=headers) as response:
        return Reply(response.status, await response.json(content_type=None), response.headers)


async def eventually(check: Callable[[], Awaitable[Any]], what: str, within: float = 15.0) -> Any:
    """Poll `check` until it returns something truthy, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def arrange_withdrawal(database_url: str, participant_id: int, amount_minor: int) -> int:
    """Arrangement: a pending EUR withdrawal of the participant's (bank account registered,
    funds put in), made by the flow itself, for a center without a bank; returns its id."""
    await arrange_available_funds(database_url, participant_id, "EUR", amount_minor)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                "UPDATE participants SET bank_account = coalesce(bank_account, $2) WHERE id = $1",
                participant_id, f"ARRANGED-{participant_id}",
            )  # fmt: skip
            row = await withdrawals.create_withdrawal(
                conn, participant_id, "EUR", amount_minor, datetime.now(UTC), Notices()
            )
        return int(row["id"])
    finally:
        await conn.close()
