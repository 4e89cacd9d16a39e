"""Late payment: within grace the terms' penalty goes to the supplier; past grace nothing is
taken. The clock moves forward only, so the tests go in order of time."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.e2e.test_ws_market import connect
from tests.payments_support import (  # noqa: F401
    BANK_SECRET,
    balance,
    commodity,
    contract,
    credit,
    deposit,
    ledger_holds,
    manual_clock,
    notify,
    parties,
    paying_center,
)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_late_payment_within_grace_pays_the_penalty_to_the_supplier(operator, clock):
    buyer, buyer_api, _, supplier_api = await parties(operator)
    code = await commodity(operator, late_payment_penalty_bps=5)
    made = await contract(buyer_api, supplier_api, code, 1000, 2)  # 2000.00
    by_bank = await contract(buyer_api, supplier_api, code, 100)  # 100.00
    clock.set(_at(made["payment_due_at"]) + timedelta(hours=25))  # two started days late
    sock = await connect(supplier_api)
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")
    await deposit(buyer_api, clock, buyer["id"], "2001.99")  # penalty 2.00: 0.01 short

    short = await buyer_api.post(f"/v1/contracts/{made['id']}/pay")
    await deposit(buyer_api, clock, buyer["id"], "0.01")
    paid = await buyer_api.post(f"/v1/contracts/{made['id']}/pay")
    # 100.00 x 5 bp x 2 days = 0.10: a credit of exactly 100.00 leaves the penalty unpaid
    underpaid = await notify(
        buyer_api.http, buyer_api.base_url, BANK_SECRET, clock,
        credit("100.00", by_bank["payment_reference"], clock),
    )  # fmt: skip
    completed = await notify(
        buyer_api.http, buyer_api.base_url, BANK_SECRET, clock,
        credit("0.10", by_bank["payment_reference"], clock),
    )  # fmt: skip

    assert (short.status, short.code) == (409, "INSUFFICIENT_FUNDS")
    assert paid.status == 200, paid.body
    assert (paid.body["late_penalty"], paid.body["contract"]["late_penalty_paid"]) == (
        "2.00", "2.00"
    )  # fmt: skip
    assert (underpaid.body["result"], underpaid.body["still_due"]) == ("underpaid", "0.10")
    assert (completed.body["result"], completed.body["late_penalty"]) == ("funded", "0.10")
    assert (await balance(supplier_api))["available"] == "2.10"
    told = await sock.next("money", skipping=("heartbeat", "user", "contract"))
    assert (told["event"], told["amount"], told["contract_id"]) == (
        "late_penalty", "2.00", made["id"]
    )  # fmt: skip
    await sock.ws.close()
    assert await balance(buyer_api) == {
        "currency": "EUR", "available": "0.00", "in_escrow": "2100.00", "reserved": "0.00",
    }  # fmt: skip


async def test_past_grace_nothing_is_taken_and_the_money_stays_available(operator, clock):
    buyer, buyer_api, _, supplier_api = await parties(operator)
    code = await commodity(operator, payment_grace_hours=24)
    made = await contract(buyer_api, supplier_api, code, 300)
    clock.set(max(_at(made["payment_grace_until"]) + timedelta(seconds=1), clock.now()))
    await deposit(buyer_api, clock, buyer["id"], "300.00")

    refused = await buyer_api.post(f"/v1/contracts/{made['id']}/pay")
    by_bank = await notify(
        buyer_api.http, buyer_api.base_url, BANK_SECRET, clock,
        credit("300.00", made["payment_reference"], clock),
    )  # fmt: skip
    after = (await buyer_api.get(f"/v1/contracts/{made['id']}")).body["contract"]

    assert (refused.status, refused.code) == (409, "PAYMENT_WINDOW_CLOSED")
    assert (by_bank.body["result"], by_bank.body["left_available"]) == (
        "payment_window_closed", "300.00"
    )  # fmt: skip
    assert (after["status"], after["paid"]) == ("awaiting_payment", "0.00")
    assert await balance(buyer_api) == {
        "currency": "EUR", "available": "600.00", "in_escrow": "0.00", "reserved": "0.00",
    }  # fmt: skip
