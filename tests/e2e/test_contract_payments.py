"""Paying contracts: by bank credit or from available funds; under- and over-payment; a
contract no longer awaiting payment; the accounts views and their privacy."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from exchange.payments.accounts import available_account, center_account
from exchange.payments.money import Move, move
from exchange.payments.references import deposit_reference
from settlement.ledger import AccountKind, Cause, TransferFlags
from tests.e2e.test_ws_market import connect
from tests.factories import Api
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


async def _desk(operator: Api) -> dict[str, Any]:
    buyer, buyer_api, supplier, supplier_api = await parties(operator)
    code = await commodity(operator)
    return {"buyer": buyer, "buyer_api": buyer_api, "supplier": supplier,
            "supplier_api": supplier_api, "code": code}  # fmt: skip


async def _pay_by_bank(api: Api, clock, made: dict[str, Any], amount: str) -> dict[str, Any]:
    body = credit(amount, made["payment_reference"], clock)
    reply = await notify(api.http, api.base_url, BANK_SECRET, clock, body)
    assert reply.status == 200, reply.body
    return reply.body  # type: ignore[no-any-return]


async def _contract_now(api: Api, contract_id: int) -> dict[str, Any]:
    reply = await api.get(f"/v1/contracts/{contract_id}")
    assert reply.status == 200, reply.body
    return reply.body["contract"]  # type: ignore[no-any-return]


async def test_a_bank_credit_with_the_contracts_reference_funds_it(operator, clock):
    desk = await _desk(operator)
    made = await contract(desk["buyer_api"], desk["supplier_api"], desk["code"], 1000, 2)
    sock = await connect(desk["buyer_api"])
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")

    outcome = await _pay_by_bank(desk["buyer_api"], clock, made, "2000.00")
    now = await _contract_now(desk["buyer_api"], made["id"])

    assert outcome["result"] == "funded"
    assert (outcome["contract_id"], outcome["into_escrow"], outcome["left_available"]) == (
        made["id"], "2000.00", "0.00"
    )  # fmt: skip
    assert (now["status"], now["paid"], now["late_penalty_paid"]) == ("funded", "2000.00", "0.00")
    assert now["funded_at"] is not None
    assert await balance(desk["buyer_api"]) == {
        "currency": "EUR", "available": "0.00", "in_escrow": "2000.00", "reserved": "0.00",
    }  # fmt: skip
    payment = await sock.next("money", skipping=("heartbeat", "user"))
    funded = await sock.next("money", skipping=("heartbeat", "user"))
    notice = await sock.next("contract", skipping=("heartbeat", "user"))
    assert (payment["event"], payment["amount"], payment["contract_id"]) == (
        "payment", "2000.00", made["id"]
    )  # fmt: skip
    assert (funded["event"], funded["available"]) == ("funded", "0.00")
    assert (notice["event"], notice["contract"]["status"]) == ("funded", "funded")
    await sock.ws.close()


async def test_pay_from_available_funds_is_all_or_nothing(operator, clock):
    desk = await _desk(operator)
    buyer = desk["buyer_api"]
    made = await contract(buyer, desk["supplier_api"], desk["code"], 500, 3)  # 1500.00
    await deposit(buyer, clock, desk["buyer"]["id"], "1499.99")

    short = await buyer.post(f"/v1/contracts/{made['id']}/pay")
    unchanged = await _contract_now(buyer, made["id"])
    await deposit(buyer, clock, desk["buyer"]["id"], "100.01")
    paid = await buyer.post(f"/v1/contracts/{made['id']}/pay")
    again = await buyer.post(f"/v1/contracts/{made['id']}/pay")

    assert (short.status, short.code) == (409, "INSUFFICIENT_FUNDS")
    assert (unchanged["status"], unchanged["paid"]) == ("awaiting_payment", "0.00")
    assert paid.status == 200, paid.body
    assert (paid.body["into_escrow"], paid.body["late_penalty"], paid.body["available"]) == (
        "1500.00", "0.00", "100.00"
    )  # fmt: skip
    assert paid.body["contract"]["status"] == "funded"
    assert (again.status, again.code) == (409, "CONTRACT_NOT_AWAITING_PAYMENT")
    assert await balance(buyer) == {
        "currency": "EUR", "available": "100.00", "in_escrow": "1500.00", "reserved": "0.00",
    }  # fmt: skip


async def test_only_the_buyer_may_pay_its_contract(operator, clock):
    desk = await _desk(operator)
    other = await _desk(operator)
    made = await contract(desk["buyer_api"], desk["supplier_api"], desk["code"], 100)
    await deposit(other["buyer_api"], clock, other["buyer"]["id"], "1000.00")

    stranger = await other["buyer_api"].post(f"/v1/contracts/{made['id']}/pay")
    supplier = await desk["supplier_api"].post(f"/v1/contracts/{made['id']}/pay")
    nothing = await desk["buyer_api"].post("/v1/contracts/999999999999/pay")

    assert (stranger.status, stranger.code) == (404, "UNKNOWN_CONTRACT")
    assert (supplier.status, supplier.code) == (403, "ROLE_REQUIRED")
    assert (nothing.status, nothing.code) == (404, "UNKNOWN_CONTRACT")
    assert (await balance(other["buyer_api"]))["available"] == "1000.00"
    assert (await _contract_now(desk["buyer_api"], made["id"]))["status"] == "awaiting_payment"


async def test_an_underpayment_is_held_and_reported_until_the_rest_comes(operator, clock):
    desk = await _desk(operator)
    buyer = desk["buyer_api"]
    made = await contract(buyer, desk["supplier_api"], desk["code"], 800)  # 800.00

    first = await _pay_by_bank(buyer, clock, made, "300.00")
    between = await _contract_now(buyer, made["id"])
    held = await balance(buyer)
    second = await _pay_by_bank(buyer, clock, made, "500.00")

    assert (first["result"], first["into_escrow"], first["still_due"]) == (
        "underpaid", "300.00", "500.00"
    )  # fmt: skip
    assert (between["status"], between["paid"]) == ("awaiting_payment", "300.00")
    assert (held["available"], held["in_escrow"]) == ("0.00", "300.00")
    assert (second["result"], second["into_escrow"]) == ("funded", "500.00")
    assert (await _contract_now(buyer, made["id"]))["status"] == "funded"
    assert (await balance(buyer))["in_escrow"] == "800.00"


async def test_an_overpayment_leaves_the_excess_in_available_funds(operator, clock):
    desk = await _desk(operator)
    buyer = desk["buyer_api"]
    made = await contract(buyer, desk["supplier_api"], desk["code"], 250)
    sock = await connect(buyer)
    await sock.subscribe({"name": "user"})
    await sock.next("user_snapshot")

    outcome = await _pay_by_bank(buyer, clock, made, "300.00")

    assert (outcome["result"], outcome["into_escrow"], outcome["left_available"]) == (
        "funded", "250.00", "50.00"
    )  # fmt: skip
    assert await balance(buyer) == {
        "currency": "EUR", "available": "50.00", "in_escrow": "250.00", "reserved": "0.00",
    }  # fmt: skip
    events = [(await sock.next("money", skipping=("heartbeat", "user")))["event"]
              for _ in range(3)]  # fmt: skip
    assert events == ["payment", "funded", "overpaid"]
    await sock.ws.close()


async def test_a_credit_for_a_contract_no_longer_awaiting_payment_stays_available(operator, clock):
    desk = await _desk(operator)
    buyer = desk["buyer_api"]
    made = await contract(buyer, desk["supplier_api"], desk["code"], 120)
    await _pay_by_bank(buyer, clock, made, "120.00")

    late = await _pay_by_bank(buyer, clock, made, "120.00")

    assert (late["result"], late["left_available"]) == ("not_awaiting_payment", "120.00")
    assert late["participant_id"] == desk["buyer"]["id"]
    assert await balance(buyer) == {
        "currency": "EUR", "available": "120.00", "in_escrow": "120.00", "reserved": "0.00",
    }  # fmt: skip
    assert (await _contract_now(buyer, made["id"]))["paid"] == "120.00"


async def test_entries_show_own_history_newest_first_in_pages(operator, clock):
    desk = await _desk(operator)
    buyer, pid = desk["buyer_api"], desk["buyer"]["id"]
    made = await contract(buyer, desk["supplier_api"], desk["code"], 40)
    deposited = await deposit(buyer, clock, pid, "100.00")
    assert (await buyer.post(f"/v1/contracts/{made['id']}/pay")).status == 200

    first = await buyer.get("/v1/accounts/entries", limit="1")
    second = await buyer.get("/v1/accounts/entries", limit="1", cursor=first.body["next_cursor"])
    everything = await buyer.get("/v1/accounts/entries")

    [paid] = first.body["data"]
    [came] = second.body["data"]
    assert first.body["has_next"]
    assert not second.body["has_next"]
    assert (paid["amount"], paid["cause"], paid["contract_id"], paid["status"]) == (
        "-40.00", "contract", made["id"], "posted"
    )  # fmt: skip
    assert (came["amount"], came["cause"], came["reference"], came["contract_id"]) == (
        "100.00", "bank", deposited.body["bank_reference"], None
    )  # fmt: skip
    assert everything.body["data"] == [paid, came]


async def test_accounts_and_entries_are_private_but_operators_see_them(operator, clock):
    desk = await _desk(operator)
    other = await _desk(operator)
    pid = desk["buyer"]["id"]
    await deposit(desk["buyer_api"], clock, pid, "64.00")

    peeking = await other["buyer_api"].get("/v1/accounts", participant_id=str(pid))
    peeking_entries = await other["buyer_api"].get("/v1/accounts/entries", participant_id=str(pid))
    theirs = await other["buyer_api"].get("/v1/accounts/entries")
    seen = await operator.get("/v1/accounts", participant_id=str(pid))
    seen_entries = await operator.get("/v1/accounts/entries", participant_id=str(pid))
    nobody = await operator.get("/v1/accounts", participant_id="999999999")
    center = await desk["buyer_api"].get("/v1/accounts/center")

    assert (peeking.status, peeking.code) == (403, "ROLE_REQUIRED")
    assert (peeking_entries.status, peeking_entries.code) == (403, "ROLE_REQUIRED")
    assert theirs.body["data"] == []
    assert seen.body["balances"][0]["available"] == "64.00"
    assert [e["amount"] for e in seen_entries.body["data"]] == ["64.00"]
    assert (nobody.status, nobody.code) == (404, "UNKNOWN_PARTICIPANT")
    assert center.status == 403


async def test_a_credit_in_another_currency_stays_in_the_buyers_funds_in_that_currency(
    operator, clock
):
    desk = await _desk(operator)
    buyer = desk["buyer_api"]
    made = await contract(buyer, desk["supplier_api"], desk["code"], 90)  # EUR
    body = credit("90.00", made["payment_reference"], clock, currency="USD", account="CENTER-USD")

    reply = await notify(buyer.http, buyer.base_url, BANK_SECRET, clock, body)

    assert (reply.body["result"], reply.body["left_available"]) == ("currency_mismatch", "90.00")
    assert (await balance(buyer, "USD"))["available"] == "90.00"
    assert (await balance(buyer, "EUR"))["in_escrow"] == "0.00"
    assert (await _contract_now(buyer, made["id"]))["status"] == "awaiting_payment"


async def test_funds_held_for_a_payout_show_as_reserved_and_pending_until_voided(
    operator, clock, db
):
    desk = await _desk(operator)
    buyer, pid = desk["buyer_api"], desk["buyer"]["id"]
    await deposit(buyer, clock, pid, "100.00")
    async with db.transaction():  # as a withdrawal holds its amount (docs/payments.md)
        funds = await available_account(db, pid, "EUR")
        out = await center_account(db, AccountKind.WITHDRAWALS, "EUR")
        cause = Cause(kind="withdrawal", reference="test")
        [hold] = await move(db, "EUR", [Move(funds, out, 3000, cause, TransferFlags.PENDING)])

    held = await balance(buyer)
    [pending, _] = (await buyer.get("/v1/accounts/entries")).body["data"]
    async with db.transaction():
        await move(db, "EUR", [Move(funds, out, 0, cause, TransferFlags.VOID_PENDING, hold.id)])
    released = await balance(buyer)
    [voided, _] = (await buyer.get("/v1/accounts/entries")).body["data"]

    assert (held["available"], held["reserved"]) == ("70.00", "30.00")
    assert (pending["amount"], pending["status"], pending["cause"]) == (
        "-30.00", "pending", "withdrawal"
    )  # fmt: skip
    assert (released["available"], released["reserved"]) == ("100.00", "0.00")
    assert (voided["id"], voided["status"]) == (pending["id"], "voided")


async def test_concurrent_credits_and_deposits_fund_the_contract_once(operator, clock):
    desk = await _desk(operator)
    buyer, pid = desk["buyer_api"], desk["buyer"]["id"]
    made = await contract(buyer, desk["supplier_api"], desk["code"], 100)  # 100.00
    bodies = [credit("10.00", made["payment_reference"], clock) for _ in range(10)]
    bodies += [credit("1.00", deposit_reference(pid), clock) for _ in range(10)]

    replies = await asyncio.gather(
        *(notify(buyer.http, buyer.base_url, BANK_SECRET, clock, body) for body in bodies)
    )

    assert {r.status for r in replies} == {200}, [r.body for r in replies]
    assert [r.body["result"] for r in replies[:10]].count("funded") == 1
    after = await _contract_now(buyer, made["id"])
    assert (after["status"], after["paid"]) == ("funded", "100.00")
    assert await balance(buyer) == {
        "currency": "EUR", "available": "10.00", "in_escrow": "100.00", "reserved": "0.00",
    }  # fmt: skip


async def test_a_contract_takes_its_times_from_the_centers_clock(operator, clock):
    # last in this module: it moves the module's clock three days on
    _, buyer_api, _, supplier_api = await parties(operator)
    code = await commodity(operator, payment_due_hours=48, payment_grace_hours=24)
    clock.advance(timedelta(days=3))

    made = await contract(buyer_api, supplier_api, code, 120)

    signed = datetime.fromisoformat(made["signed_at"])
    assert signed == clock.now()
    assert datetime.fromisoformat(made["payment_due_at"]) == signed + timedelta(hours=48)
    assert datetime.fromisoformat(made["payment_grace_until"]) == signed + timedelta(hours=72)
