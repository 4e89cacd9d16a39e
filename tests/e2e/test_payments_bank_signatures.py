"""Notifications that did not come from the bank, or not now, against the running center: a
rogue bank process with the wrong secret, bodies altered after signing, stale signatures and
replays of what the real bank sent (captured on the wire by a `Tap`). The 401s change nothing;
a replay within the tolerance gets the first answer and moves nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from aiohttp import web

from exchange.clock import ManualClock
from settlement.bank.signing import sign
from tests.bank_e2e_support import (  # noqa: F401
    EUR,
    Captured,
    Party,
    Tap,
    books_agree,
    center_with_bank,
    contract_of,
    manual_clock,
    move_clocks,
    running,
    simulated_bank,
    trading_parties,
)
from tests.banksim import SECRET, BankSim
from tests.factories import Api, unique
from tests.outbound_support import eventually
from tests.payments_support import balance, center_balance, commodity, contract, notify


@pytest.fixture(scope="module")
def tap() -> Tap:
    return Tap()


@pytest.fixture(scope="module")
async def bank_and_center(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, clock: ManualClock, tap: Tap
) -> AsyncIterator[tuple[BankSim, str, web.Application]]:
    """As everywhere, but the notifications pass through the tap."""
    async with running(tmp_path_factory.mktemp("bank"), database_url, clock, tap) as started:
        yield started


async def _state(api: Api, operator: Api) -> tuple[Any, ...]:
    """What a notification could change: the participant's balance and ledger entries, and the
    center's own accounts."""
    entries = (await api.get("/v1/accounts/entries")).body["data"]
    return await balance(api), entries, await center_balance(operator)


def _with(body: bytes, **changes: str) -> bytes:
    return msgspec.json.encode(msgspec.json.decode(body) | changes)


async def _deposited(bank: BankSim, tap: Tap, buyer: Party, amount: str) -> Captured:
    """The buyer deposits at the bank; returns the notification as it went to the center."""
    paid = await buyer.deposit(bank, amount)
    [seen] = tap.of(paid.end_to_end_id)
    assert seen.status == 200
    return seen


async def test_a_rogue_bank_with_the_wrong_secret_is_refused_and_changes_nothing(
    operator, bank, tap, tmp_path
):
    buyer, _ = await trading_parties(operator, bank)
    await buyer.deposit(bank, "100.00")
    before = await _state(buyer.api, operator)
    reference = (await buyer.api.get("/v1/accounts")).body["deposit_reference"]

    rogue = BankSim(tmp_path, notify_url=bank.notify_url, secret="not-the-shared-secret-0123")
    async with rogue:
        payer = await rogue.open_account("Rogue Payer", EUR, "5000.00")
        forged = await rogue.pay(payer, rogue.center_account(EUR), "5000.00", EUR, reference)
        refused = await eventually(lambda: _refused(tap, forged.end_to_end_id), "a 401")

    assert msgspec.json.decode(refused.answer)["code"] == "INVALID_SIGNATURE"
    assert await _state(buyer.api, operator) == before


async def _refused(tap: Tap, end_to_end_id: str) -> Any:
    seen = [c for c in tap.of(end_to_end_id) if c.status == 401]
    return seen[0] if seen else None


async def test_altered_and_stale_notifications_are_refused_and_change_nothing(
    operator, bank, tap, clock
):
    buyer, _ = await trading_parties(operator, bank)
    captured = await _deposited(bank, tap, buyer, "100.00")
    body = captured.body
    before = await _state(buyer.api, operator)
    now = int(clock.now().timestamp())
    fresh = _with(body, event_id=unique("evt-stale-"), bank_reference=unique("BRSTALE"))

    altered = _with(body, amount="900.00", event_id=unique("evt-altered-"))
    cases = {
        "altered": (altered, captured.signature),
        "altered, same event": (_with(body, amount="900.00"), captured.signature),
        "stale": (fresh, sign(SECRET.encode(), fresh, now - 301)),
        "from the future": (fresh, sign(SECRET.encode(), fresh, now + 301)),
        "unsigned": (fresh, ""),
    }
    answers = {}
    for name, (raw, signature) in cases.items():
        reply = await notify(
            buyer.api.http, buyer.api.base_url, SECRET, clock, raw, signature=signature
        )
        answers[name] = (reply.status, reply.code)

    assert answers == dict.fromkeys(cases, (401, "INVALID_SIGNATURE"))
    assert await _state(buyer.api, operator) == before
    assert await balance(buyer.api) == {
        "currency": EUR, "available": "100.00", "in_escrow": "0.00", "reserved": "0.00",
    }  # fmt: skip


async def test_a_replayed_payment_gets_the_first_answer_and_moves_nothing(
    operator, bank, tap, clock
):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    paid = await buyer.pay(bank, "1000.00", made["payment_reference"])
    [first] = tap.of(paid.end_to_end_id)
    before = await _state(buyer.api, operator)

    replays = [
        await notify(
            buyer.api.http, buyer.api.base_url, SECRET, clock, first.body, signature=first.signature
        )
        for _ in range(3)
    ]
    after_replays = await _state(buyer.api, operator)
    await move_clocks(clock, bank, clock.now() + timedelta(minutes=6))
    late = await notify(
        buyer.api.http, buyer.api.base_url, SECRET, clock, first.body, signature=first.signature
    )

    assert first.status == 200
    assert msgspec.json.decode(first.answer)["result"] == "funded"
    assert [(r.status, r.body) for r in replays] == [(200, msgspec.json.decode(first.answer))] * 3
    assert after_replays == before
    assert (late.status, late.code) == (401, "INVALID_SIGNATURE")
    assert await _state(buyer.api, operator) == before
    funded = await contract_of(buyer.api, made["id"])
    assert (funded["status"], funded["paid"]) == ("funded", "1000.00")
    assert await balance(buyer.api) == {
        "currency": EUR, "available": "0.00", "in_escrow": "1000.00", "reserved": "0.00",
    }  # fmt: skip
