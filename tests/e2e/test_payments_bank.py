"""Money in, end to end: the bank simulator as its own process notifies the running center of
transfers the participants make at the bank. Deposit, payment by transfer and from balance,
under- and overpayment, late payment with its penalty, default and refunds. The clocks move
forward only, so the tests that move them come last. After each test the trial balance holds
and the center's clearing account mirrors the bank (`books_agree`)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from tests.bank_e2e_support import (  # noqa: F401
    bank_and_center,
    books_agree,
    center_with_bank,
    contract_of,
    manual_clock,
    money_notice,
    move_clocks,
    simulated_bank,
    sweep,
    trading_parties,
    user_channel,
)
from tests.factories import order_body
from tests.payments_support import balance, commodity, contract


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _holding(available: str, in_escrow: str) -> dict[str, str]:
    return {"currency": "EUR", "available": available, "in_escrow": in_escrow, "reserved": "0.00"}


async def test_a_deposit_at_the_bank_becomes_available_funds(operator, bank):
    buyer, _ = await trading_parties(operator, bank)

    paid = await buyer.deposit(bank, "2500.00")

    assert await balance(buyer.api) == _holding("2500.00", "0.00")
    assert await bank.balance(buyer.account) == "7500.00"
    entries = (await buyer.api.get("/v1/accounts/entries")).body["data"]
    assert [(e["cause"], e["reference"], e["amount"]) for e in entries] == [
        ("bank", paid.bank_reference, "2500.00")
    ]


async def test_a_transfer_quoting_the_payment_reference_funds_the_contract(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)

    await buyer.pay(bank, "1000.00", made["payment_reference"])

    funded = await contract_of(buyer.api, made["id"])
    assert (funded["status"], funded["paid"]) == ("funded", "1000.00")
    assert funded["funded_at"] is not None
    assert await balance(buyer.api) == _holding("0.00", "1000.00")
    assert await bank.balance(buyer.account) == "9000.00"
    record = (await supplier.api.get(f"/v1/participants/{buyer.id}/payment-record")).body
    assert record["paid_on_time"]["contract_ids"] == [made["id"]]


async def test_paying_from_available_funds(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    await buyer.deposit(bank, "1500.00")

    paid = await buyer.api.post(f"/v1/contracts/{made['id']}/pay")
    again = await buyer.api.post(f"/v1/contracts/{made['id']}/pay")

    assert paid.status == 200, paid.body
    assert (paid.body["into_escrow"], paid.body["available"]) == ("1000.00", "500.00")
    assert paid.body["contract"]["status"] == "funded"
    assert (again.status, again.code) == (409, "CONTRACT_NOT_AWAITING_PAYMENT")
    assert await balance(buyer.api) == _holding("500.00", "1000.00")


async def test_an_underpayment_is_held_and_reported_until_the_rest_arrives(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    sock = await user_channel(buyer.api)

    await buyer.pay(bank, "600.00", made["payment_reference"])
    told = await money_notice(sock, "underpaid")
    short = await contract_of(buyer.api, made["id"])
    held = await balance(buyer.api)
    await buyer.pay(bank, "400.00", made["payment_reference"])
    await sock.ws.close()

    assert (told["contract_id"], told["amount"]) == (made["id"], "400.00")
    assert (short["status"], short["paid"]) == ("awaiting_payment", "600.00")
    assert held == _holding("0.00", "600.00")
    funded = await contract_of(buyer.api, made["id"])
    assert (funded["status"], funded["paid"]) == ("funded", "1000.00")
    assert await balance(buyer.api) == _holding("0.00", "1000.00")
    assert await bank.balance(buyer.account) == "9000.00"


async def test_an_overpayment_funds_the_contract_and_leaves_the_excess_available(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    sock = await user_channel(buyer.api)

    await buyer.pay(bank, "1250.00", made["payment_reference"])
    told = await money_notice(sock, "overpaid")
    await sock.ws.close()

    assert (told["contract_id"], told["amount"]) == (made["id"], "250.00")
    assert (await contract_of(buyer.api, made["id"]))["status"] == "funded"
    assert await balance(buyer.api) == _holding("250.00", "1000.00")


async def test_refunds_and_cancellation_give_the_escrow_back_to_the_buyer(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    await buyer.pay(bank, "1000.00", made["payment_reference"])
    path = f"/v1/contracts/{made['id']}"

    by_buyer = await buyer.api.post(path + "/refund", {"reason": "mine", "amount": "1.00"})
    part = await operator.post(path + "/refund", {"reason": "price corrected", "amount": "250.00"})
    after_part = await balance(buyer.api)
    cancelled = await operator.post(path + "/cancel", {"reason": "supplier cannot deliver"})
    twice = await operator.post(path + "/cancel", {"reason": "again"})

    assert (by_buyer.status, by_buyer.code) == (403, "ROLE_REQUIRED")
    assert (part.status, part.body["status"]) == (200, "funded")
    assert after_part == _holding("250.00", "750.00")
    assert (cancelled.status, cancelled.body["status"]) == (200, "cancelled")
    assert twice.status == 409
    assert await balance(buyer.api) == _holding("1000.00", "0.00")
    assert await balance(supplier.api) == _holding("0.00", "0.00")


async def test_cancelling_an_unfunded_contract_gives_a_partial_payment_back(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    await buyer.pay(bank, "300.00", made["payment_reference"])

    cancelled = await operator.post(f"/v1/contracts/{made['id']}/cancel", {"reason": "withdrawn"})
    await buyer.pay(bank, "700.00", made["payment_reference"])  # the rest comes anyway

    assert (cancelled.status, cancelled.body["status"]) == (200, "cancelled")
    assert (await contract_of(buyer.api, made["id"]))["status"] == "cancelled"
    assert await balance(buyer.api) == _holding("1000.00", "0.00")


async def test_a_payment_in_another_currency_stays_available_in_it(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    dollars = await bank.open_account("Buyer's dollar account", "USD", "500.00")

    paid = await bank.pay(
        dollars, bank.center_account("USD"), "300.00", "USD", made["payment_reference"]
    )
    await bank.wait_delivered()

    assert paid.status.value == "executed"
    unpaid = await contract_of(buyer.api, made["id"])
    assert (unpaid["status"], unpaid["paid"]) == ("awaiting_payment", "0.00")
    assert await balance(buyer.api, "USD") == {
        "currency": "USD", "available": "300.00", "in_escrow": "0.00", "reserved": "0.00",
    }  # fmt: skip
    assert await balance(buyer.api) == _holding("0.00", "0.00")


async def test_a_payment_before_review_waits_in_available_funds(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    code = await commodity(operator, review_threshold="500.00")
    sell = order_body(code, "sell", 1000, 1)
    assert (await supplier.api.post("/v1/orders", sell)).status == 201
    bought = await buyer.api.post("/v1/orders", order_body(code, "buy", 1000, 1))
    assert bought.body["status"] == "filled", bought.body
    [made] = (await buyer.api.get("/v1/contracts", commodity=code)).body["data"]

    await buyer.pay(bank, "1000.00", made["payment_reference"])
    waiting = await contract_of(buyer.api, made["id"])
    approved = await operator.post(f"/v1/contracts/{made['id']}/approve", {"reason": "fine"})
    paid = await buyer.api.post(f"/v1/contracts/{made['id']}/pay")

    assert (made["status"], waiting["status"], waiting["paid"]) == (
        "pending_review", "pending_review", "0.00",
    )  # fmt: skip
    assert made["payment_due_at"] is None  # the payment term runs from the approval
    assert approved.body["payment_due_at"] is not None
    assert (approved.status, approved.body["status"]) == (200, "awaiting_payment")
    assert (paid.status, paid.body["contract"]["status"]) == (200, "funded")
    assert await balance(buyer.api) == _holding("0.00", "1000.00")


async def test_a_bank_credit_racing_a_payment_from_balance_funds_the_contract_once(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    await buyer.deposit(bank, "1000.00")

    from_balance, by_bank = await asyncio.gather(
        buyer.api.post(f"/v1/contracts/{made['id']}/pay"),
        buyer.pay(bank, "1000.00", made["payment_reference"]),
    )

    assert by_bank.status.value == "executed"
    assert from_balance.status in (200, 409), from_balance.body
    funded = await contract_of(buyer.api, made["id"])
    assert (funded["status"], funded["paid"]) == ("funded", "1000.00")
    assert await balance(buyer.api) == _holding("1000.00", "1000.00")
    assert await bank.balance(buyer.account) == "8000.00"


async def test_a_late_overpayment_pays_the_penalty_and_leaves_the_rest_available(
    operator, bank, clock
):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    await move_clocks(clock, bank, _at(made["payment_due_at"]) + timedelta(hours=1))

    await buyer.pay(bank, "1100.00", made["payment_reference"])  # the penalty is 0.50

    funded = await contract_of(buyer.api, made["id"])
    assert (funded["status"], funded["late_penalty_paid"]) == ("funded", "0.50")
    assert await balance(supplier.api) == _holding("0.50", "0.00")
    assert await balance(buyer.api) == _holding("99.50", "1000.00")


async def test_a_late_payment_within_grace_pays_the_penalty_to_the_supplier(operator, bank, clock):
    buyer, supplier = await trading_parties(operator, bank)
    code = await commodity(operator, late_payment_penalty_bps=5)
    made = await contract(buyer.api, supplier.api, code, 1000)  # 0.50 a started day late
    await move_clocks(clock, bank, _at(made["payment_due_at"]) + timedelta(hours=25))

    await buyer.pay(bank, "1000.00", made["payment_reference"])  # the penalty is 1.00
    short = await contract_of(buyer.api, made["id"])
    await buyer.pay(bank, "1.00", made["payment_reference"])

    assert (short["status"], short["paid"]) == ("awaiting_payment", "1000.00")
    funded = await contract_of(buyer.api, made["id"])
    assert (funded["status"], funded["late_penalty_paid"]) == ("funded", "1.00")
    assert await balance(supplier.api) == _holding("1.00", "0.00")
    assert await balance(buyer.api) == _holding("0.00", "1000.00")
    assert await bank.balance(buyer.account) == "8999.00"
    record = (await supplier.api.get(f"/v1/participants/{buyer.id}/payment-record")).body
    assert record["paid_late"]["contract_ids"] == [made["id"]]


async def test_at_the_grace_end_itself_a_payment_is_still_taken_and_nothing_defaults(
    operator, bank, clock, center
):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    await move_clocks(clock, bank, _at(made["payment_grace_until"]))

    report = await sweep(center)
    await buyer.pay(bank, "1001.50", made["payment_reference"])  # three started days: 1.50

    assert made["id"] not in report.defaulted
    funded = await contract_of(buyer.api, made["id"])
    assert (funded["status"], funded["late_penalty_paid"]) == ("funded", "1.50")
    assert await balance(supplier.api) == _holding("1.50", "0.00")
    assert await balance(buyer.api) == _holding("0.00", "1000.00")


async def test_past_grace_the_contract_defaults_and_the_partial_payment_goes_back(
    operator, bank, clock, center
):
    buyer, supplier = await trading_parties(operator, bank)
    made = await contract(buyer.api, supplier.api, await commodity(operator), 1000)
    await buyer.pay(bank, "400.00", made["payment_reference"])
    seller_sock = await user_channel(supplier.api)
    await move_clocks(clock, bank, _at(made["payment_grace_until"]) + timedelta(seconds=1))

    report = await sweep(center)
    told = await money_notice(seller_sock, "defaulted")
    await seller_sock.ws.close()
    after_default = await balance(buyer.api)
    await buyer.pay(bank, "100.00", made["payment_reference"])  # too late: stays available

    assert made["id"] in report.defaulted
    assert told["contract_id"] == made["id"]
    defaulted = await contract_of(buyer.api, made["id"])
    assert (defaulted["status"], defaulted["paid"]) == ("defaulted", "400.00")
    assert after_default == _holding("400.00", "0.00")
    assert await balance(buyer.api) == _holding("500.00", "0.00")
    assert await bank.balance(buyer.account) == "9500.00"
    record = (await supplier.api.get(f"/v1/participants/{buyer.id}/payment-record")).body
    assert record["defaulted"]["contract_ids"] == [made["id"]]
