"""The outcome sweep as a running center runs it: by itself, every
`outcome_sweep_seconds`, it accepts a contract whose buyer stayed silent past the claim window
(the clock is moved, not slept; the test polls for the outcome with a deadline)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from exchange.clock import ManualClock
from tests.conftest import settings_for, start_app
from tests.factories import Api
from tests.outcomes_support import (  # noqa: F401
    DAY,
    arrange_delivered,
    available_minor,
    funded,
    ledger_holds,
    manual_clock,
    minor,
    new_desk,
    status_of,
)
from tests.payments_support import BANK_SECRET


@pytest.fixture(scope="module")
async def center(
    database_url: str, clock: ManualClock
) -> AsyncIterator[tuple[str, web.Application]]:
    """The center on `clock` with its outcome sweep running every 50 ms."""
    settings = settings_for(
        database_url, bank_secret=BANK_SECRET, outcome_sweep_seconds=0.05, delivery_sweep_seconds=0
    )
    runner, url = await start_app(settings, clock)
    try:
        yield url, runner.app
    finally:
        await runner.cleanup()


async def test_the_background_sweep_accepts_after_the_window_by_itself(
    operator: Api, clock: ManualClock, database_url: str
):
    desk = await new_desk(operator)
    made = await funded(desk, clock, 250, 2)
    await arrange_delivered(database_url, made["id"], clock.now())
    before = await available_minor(desk.supplier)

    clock.advance(7 * DAY + DAY)
    status = "delivered"
    async with asyncio.timeout(10):
        while status == "delivered":
            await asyncio.sleep(0.05)
            status = await status_of(desk.buyer_api, made["id"])

    assert status == "completed"
    gained = await available_minor(desk.supplier) - before
    assert gained == minor(made["amount"]) - minor(made["fee"])
