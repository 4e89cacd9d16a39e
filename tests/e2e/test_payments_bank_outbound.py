"""Money out, end to end: withdrawals ordered by the running center through `HttpBank` at the
bank simulator (its own process), which executes, rejects or returns them and tells the center;
and a four-eyes adjustment whose result leaves through the bank. After each test the trial
balance holds and the center's clearing account mirrors the bank (`books_agree`)."""

from __future__ import annotations

import asyncio
from typing import Any

from settlement.bank.messages import TransferStatus
from tests.bank_e2e_support import (  # noqa: F401
    Party,
    bank_and_center,
    books_agree,
    center_with_bank,
    contract_of,
    manual_clock,
    simulated_bank,
    trading_parties,
    withdrawal_in,
)
from tests.banksim import BankSim
from tests.factories import Api, new_participant, unique
from tests.outbound_support import post_with_key
from tests.payments_support import balance, commodity, contract


def _holding(available: str, reserved: str = "0.00") -> dict[str, str]:
    return {"currency": "EUR", "available": available, "in_escrow": "0.00", "reserved": reserved}


async def _withdraw(who: Party, amount: str, key: str | None = None) -> dict[str, Any]:
    body = {"currency": "EUR", "amount": amount}
    reply = await post_with_key(who.api, "/v1/withdrawals", body, key or unique("wd-"))
    assert reply.status == 202, reply.body
    return reply.body  # type: ignore[no-any-return]


async def _funded_buyer(operator: Api, bank: BankSim, deposit: str) -> Party:
    buyer, _ = await trading_parties(operator, bank)
    await buyer.deposit(bank, deposit)
    return buyer


async def test_a_confirmed_withdrawal_arrives_at_the_participants_bank_account(operator, bank):
    buyer = await _funded_buyer(operator, bank, "1000.00")  # 9000.00 left at the bank

    asked = await _withdraw(buyer, "300.00", key="wd-confirmed")
    settled = await withdrawal_in(buyer.api, asked["id"], "settled")
    retried = await _withdraw(buyer, "300.00", key="wd-confirmed")
    await bank.wait_delivered()

    assert (asked["bank_account"], asked["end_to_end_id"]) == (buyer.account, f"WD{asked['id']}")
    assert retried["id"] == asked["id"]
    at_bank = await bank.transfer(asked["end_to_end_id"])
    assert at_bank.status is TransferStatus.EXECUTED
    assert settled["bank_reference"] == at_bank.bank_reference
    assert await bank.balance(buyer.account) == "9300.00"
    assert await balance(buyer.api) == _holding("700.00")
    entries = (await buyer.api.get("/v1/accounts/entries")).body["data"]
    assert [(e["cause"], e["amount"]) for e in entries][:1] == [("withdrawal", "-300.00")]


async def test_a_withdrawal_to_a_closed_account_is_rejected_and_the_reservation_comes_back(
    operator, bank
):
    buyer = await _funded_buyer(operator, bank, "500.00")
    await bank.close_account(buyer.account)

    asked = await _withdraw(buyer, "200.00")
    rejected = await withdrawal_in(buyer.api, asked["id"], "rejected")
    await bank.wait_delivered()

    assert rejected["reason"] == "CREDITOR_ACCOUNT_CLOSED"
    at_bank = await bank.transfer(asked["end_to_end_id"])
    assert (at_bank.status, at_bank.reason) == (TransferStatus.REJECTED, "CREDITOR_ACCOUNT_CLOSED")
    assert await bank.balance(buyer.account) == "9500.00"
    assert await balance(buyer.api) == _holding("500.00")
    again = await _withdraw(buyer, "500.00")  # the whole amount is spendable again
    assert (await withdrawal_in(buyer.api, again["id"], "rejected"))["amount"] == "500.00"


async def test_a_returned_payout_is_available_again(operator, bank):
    buyer = await _funded_buyer(operator, bank, "500.00")
    asked = await _withdraw(buyer, "200.00")
    await withdrawal_in(buyer.api, asked["id"], "settled")
    paid_out = await bank.balance(buyer.account)

    sent_back = await bank.return_transfer(asked["end_to_end_id"])
    returned = await withdrawal_in(buyer.api, asked["id"], "returned")
    await bank.wait_delivered()

    assert paid_out == "9700.00"
    assert (sent_back.status, sent_back.reason) == (TransferStatus.RETURNED, "RETURNED_BY_CREDITOR")
    assert returned["amount"] == "200.00"
    assert await bank.balance(buyer.account) == "9500.00"
    assert await balance(buyer.api) == _holding("500.00")


async def test_a_four_eyes_adjustment_needs_a_second_operator_and_can_be_paid_out(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    await buyer.deposit(bank, "100.00")
    _, second = await new_participant(operator, ["operator"])
    proposal = {
        "debit": {"participant_id": buyer.id}, "credit": {"participant_id": supplier.id},
        "currency": "EUR", "amount": "30.00", "reason": "late penalty owed to the supplier",
    }  # fmt: skip

    proposed = await operator.post("/v1/adjustments", proposal)
    path = f"/v1/adjustments/{proposed.body['id']}"
    own = await operator.post(path + "/approve", {})
    untouched = (await balance(buyer.api), await balance(supplier.api))
    approved = await second.post(path + "/approve", {"reason": "checked the contract"})
    payout = await _withdraw(supplier, "30.00")
    await withdrawal_in(supplier.api, payout["id"], "settled")

    assert (proposed.status, proposed.body["status"]) == (201, "proposed")
    assert (own.status, own.code) == (403, "FOUR_EYES_REQUIRED")
    assert untouched == (_holding("100.00"), _holding("0.00"))
    assert (approved.status, approved.body["status"]) == (200, "applied")
    assert approved.body["decided_by"] != approved.body["proposed_by"]
    assert await balance(buyer.api) == _holding("70.00")
    assert await balance(supplier.api) == _holding("0.00")
    assert await bank.balance(supplier.account) == "30.00"


async def test_yen_in_and_out_keep_their_scale(operator, bank):
    holder, api = await new_participant(operator, ["buyer"])
    yen = await bank.open_account("Yen Holder KK", "JPY", "100000")
    registered = await api.call(
        "PUT", f"/v1/participants/{holder['id']}/bank-account", {"bank_account": yen}
    )
    assert registered.status == 200, registered.body
    reference = (await api.get("/v1/accounts")).body["deposit_reference"]
    await bank.pay(yen, bank.center_account("JPY"), "25000", "JPY", reference)
    await bank.wait_delivered()
    who = Party(holder["id"], api, yen)

    fraction = await post_with_key(
        api, "/v1/withdrawals", {"currency": "JPY", "amount": "0.5"}, unique("wd-")
    )
    asked = await post_with_key(
        api, "/v1/withdrawals", {"currency": "JPY", "amount": "4000"}, unique("wd-")
    )
    settled = await withdrawal_in(who.api, asked.body["id"], "settled")

    assert (fraction.status, fraction.code) == (422, "INVALID_AMOUNT")
    assert (asked.status, settled["amount"]) == (202, "4000")
    assert await bank.balance(yen) == "79000"
    assert await balance(api, "JPY") == {
        "currency": "JPY", "available": "21000", "in_escrow": "0", "reserved": "0",
    }  # fmt: skip


async def test_a_withdrawal_racing_a_contract_payment_spends_the_funds_once(operator, bank):
    buyer, supplier = await trading_parties(operator, bank)
    await buyer.deposit(bank, "1000.00")
    code = await commodity(operator)
    made = await contract(buyer.api, supplier.api, code, 1000)
    body = {"currency": "EUR", "amount": "1000.00"}

    out, paid = await asyncio.gather(
        post_with_key(buyer.api, "/v1/withdrawals", body, unique("wd-")),
        buyer.api.post(f"/v1/contracts/{made['id']}/pay"),
    )
    if out.status == 202:
        await withdrawal_in(buyer.api, out.body["id"], "settled")
    await bank.wait_delivered()

    assert sorted([out.status, paid.status]) in ([200, 409], [202, 409]), (out.body, paid.body)
    assert "INSUFFICIENT_FUNDS" in (out.code, paid.code)
    state = (await contract_of(buyer.api, made["id"]))["status"]
    at_bank = await bank.balance(buyer.account)
    assert (state, at_bank) in (("funded", "9000.00"), ("awaiting_payment", "10000.00"))
    in_escrow = "1000.00" if state == "funded" else "0.00"
    assert await balance(buyer.api) == {
        "currency": "EUR", "available": "0.00", "in_escrow": in_escrow, "reserved": "0.00",
    }  # fmt: skip
