"""Acceptance: the buyer accepts a contract delivered in full and the supplier's available
funds rise by exactly the amount less the fee; a late delivery's penalty goes to the buyer in
the same chain; acceptance is refused before delivery, for a short delivery and under a claim;
silence past the claim window accepts (or settles pro rata) by the outcome sweep, the clock
moved, not slept. Contracts are funded through the payment API and their delivery arranged
(`tests/outcomes_support.py`); the ledger's trial balance holds after every test."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from exchange.clock import ManualClock
from exchange.delivery.outcomes import OutcomeSweep
from tests.e2e.test_ws_market import Socket, connect
from tests.factories import Api
from tests.outcomes_support import (  # noqa: F401
    DAY,
    Desk,
    arrange_delivered,
    available_minor,
    escrow_minor,
    funded,
    ledger_holds,
    manual_clock,
    minor,
    new_desk,
    outcome_center,
    outcome_sweep,
    revenue_minor,
    status_of,
)
from tests.payments_support import BANK_SECRET

assert BANK_SECRET  # the center takes the deposits these tests make


@pytest.fixture(scope="module")
async def desk(operator: Api) -> Desk:
    return await new_desk(operator)


async def _money(desk: Desk) -> tuple[int, int, int, int]:
    """(supplier available, center revenue, buyer available, buyer in escrow)."""
    return (
        await available_minor(desk.supplier), await revenue_minor(desk.operator),
        await available_minor(desk.buyer_api), await escrow_minor(desk.buyer_api),
    )  # fmt: skip


def _moved(after: tuple[int, ...], before: tuple[int, ...]) -> list[int]:
    return [a - b for a, b in zip(after, before, strict=True)]


async def _user_socket(api: Api) -> Socket:
    sock = await connect(api)
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")
    return sock


async def test_accept_pays_the_supplier_exactly_the_amount_less_the_fee(
    desk, clock: ManualClock, database_url, db
):
    made = await funded(desk, clock, 412, 3)
    await arrange_delivered(database_url, made["id"], clock.now())
    amount, fee = minor(made["amount"]), minor(made["fee"])
    before = await _money(desk)
    seller_sock = await _user_socket(desk.supplier)

    reply = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/accept")

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "completed"
    assert (amount, fee) == (123600, 309)
    assert _moved(await _money(desk), before) == [amount - fee, fee, 0, -amount]
    notice = await seller_sock.next("money", skipping=("heartbeat", "contract", "user"))
    assert (notice["event"], notice["amount"], notice["contract_id"]) == (
        "released", "1232.91", made["id"]
    )  # fmt: skip
    row = await db.fetchrow(
        "SELECT accepted_at, late_delivery_penalty_minor FROM contracts WHERE id = $1", made["id"]
    )
    assert (row["accepted_at"], row["late_delivery_penalty_minor"]) == (clock.now(), 0)
    shown = (await desk.buyer_api.get(f"/v1/contracts/{made['id']}")).body["contract"]
    assert datetime.fromisoformat(shown["delivery"]["accepted_at"]) == clock.now()
    assert shown["delivery"]["delivered_quantity"] == "3.000000"
    assert shown["delivery"]["late_delivery_penalty"] == "0.00"
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'contract.accepted' AND target = $1",
        f"contract:{made['id']}",
    )
    assert audited == 1
    again = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/accept")
    assert (again.status, again.code) == (409, "CONTRACT_STATE_CONFLICT")


async def test_a_late_delivery_pays_the_penalty_to_the_buyer_in_the_same_chain(
    desk, clock: ManualClock, database_url, db
):
    made = await funded(desk, clock, 999, 7)
    late_by = 2 * DAY + timedelta(hours=1)  # three started days
    await arrange_delivered(database_url, made["id"], clock.now(), due=clock.now() - late_by)
    amount, fee = minor(made["amount"]), minor(made["fee"])
    before = await _money(desk)

    reply = await desk.buyer_api.post(f"/v1/contracts/{made['id']}/accept")

    assert reply.status == 200, reply.body
    penalty = (amount * 10 * 3 * 2 + 10_000) // (2 * 10_000)  # 10 bps x 3 days, half up
    assert (amount, penalty) == (699300, 2098)
    assert _moved(await _money(desk), before) == [amount - fee - penalty, fee, penalty, -amount]
    chain = await db.fetch(
        "SELECT amount, flags FROM ledger_transfers WHERE cause_kind = 'contract'"
        " AND cause_reference = $1 AND debit_account_id = (SELECT account_id FROM"
        " payment_accounts WHERE contract_id = $2 AND kind = 'escrow') ORDER BY id",
        str(made["id"]), made["id"],
    )  # fmt: skip
    assert [r["amount"] for r in chain] == [amount - fee - penalty, fee, penalty]
    assert [bool(r["flags"] & 1) for r in chain] == [True, True, False]  # one linked chain
    stored = await db.fetchval(
        "SELECT late_delivery_penalty_minor FROM contracts WHERE id = $1", made["id"]
    )
    assert stored == penalty


async def test_accept_is_refused_before_delivery_short_or_under_a_claim_and_moves_nothing(
    desk, clock: ManualClock, database_url
):
    undelivered = await funded(desk, clock, 100, 2)
    short = await funded(desk, clock, 100, 2)
    await arrange_delivered(database_url, short["id"], clock.now(), "1")
    claimed = await funded(desk, clock, 100, 2)
    await arrange_delivered(database_url, claimed["id"], clock.now())
    claim = {"kind": "damage", "amount": "50.00", "description": "dented coil"}
    assert (await desk.buyer_api.post(f"/v1/contracts/{claimed['id']}/claims", claim)).status == 201
    before = await _money(desk)

    refusals = [
        await desk.buyer_api.post(f"/v1/contracts/{c['id']}/accept")
        for c in (undelivered, short, claimed)
    ]
    by_supplier = await desk.supplier.post(f"/v1/contracts/{short['id']}/accept")

    assert [(r.status, r.code) for r in refusals] == [
        (409, "CONTRACT_STATE_CONFLICT"), (409, "DELIVERED_SHORT"), (409, "CONTRACT_STATE_CONFLICT")
    ]  # fmt: skip
    assert (by_supplier.status, by_supplier.code) == (403, "ROLE_REQUIRED")
    assert await _money(desk) == before
    assert [await status_of(desk.buyer_api, c["id"]) for c in (undelivered, short, claimed)] == [
        "funded", "delivered", "disputed"
    ]  # fmt: skip


async def test_another_buyer_cannot_accept(desk, clock: ManualClock, database_url, operator):
    made = await funded(desk, clock, 100, 1)
    await arrange_delivered(database_url, made["id"], clock.now())
    other = await new_desk(operator)

    reply = await other.buyer_api.post(f"/v1/contracts/{made['id']}/accept")

    assert (reply.status, reply.code) == (404, "UNKNOWN_CONTRACT")
    assert await status_of(desk.buyer_api, made["id"]) == "delivered"
    assert (await desk.buyer_api.post(f"/v1/contracts/{made['id']}/accept")).status == 200


async def test_silence_past_the_claim_window_accepts_or_settles_pro_rata(
    operator, clock: ManualClock, database_url, db, sweep: OutcomeSweep
):
    desk = await new_desk(operator)  # its own parties: other tests' contracts move too
    full = await funded(desk, clock, 200, 4)
    short = await funded(desk, clock, 200, 4)
    await arrange_delivered(database_url, full["id"], clock.now())
    await arrange_delivered(database_url, short["id"], clock.now(), "3")
    amount, fee = minor(full["amount"]), minor(full["fee"])
    before = await _money(desk)

    clock.advance(7 * DAY)  # the window's last moment: still the buyer's
    early = await sweep.run_once()
    clock.advance(timedelta(seconds=1))
    report = await sweep.run_once()

    assert {full["id"], short["id"]}.isdisjoint(early.accepted + early.pro_rata)
    assert (full["id"] in report.accepted, short["id"] in report.pro_rata) == (True, True)
    gross = (amount * 3 + 2) // 4  # three quarters, half up
    fee_part = (2 * fee * gross + amount) // (2 * amount)
    seller, _, buyer, escrow = _moved(await _money(desk), before)  # revenue: others move it too
    assert (seller, buyer, escrow) == (amount - fee + gross - fee_part, amount - gross, -2 * amount)
    to_revenue = await db.fetchval(
        "SELECT sum(amount) FROM ledger_transfers WHERE cause_kind = 'contract' AND"
        " cause_reference = ANY($1::text[]) AND credit_account_id = (SELECT account_id FROM"
        " payment_accounts WHERE kind = 'revenue' AND currency = 'EUR')",
        [str(full["id"]), str(short["id"])],
    )  # fmt: skip
    assert to_revenue == fee + fee_part
    assert await status_of(desk.buyer_api, full["id"]) == "completed"
    assert await status_of(desk.buyer_api, short["id"]) == "partially_refunded"
    assert (await sweep.run_once()).accepted == []  # nothing twice
