"""The simulated bank's books (pure): accounts, idempotent transfers, rejections, returns,
notifications and statements."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from settlement.bank.messages import (
    NotificationType,
    OpenAccount,
    TransferRequest,
    TransferStatus,
)
from settlement.bank.simulator.errors import BankSimError, ConflictError, InvalidError
from settlement.bank.simulator.numbers import account_number, is_valid
from settlement.bank.simulator.state import BankState, Rejection
from settlement.money import CURRENCY_EXPONENTS, parse_scaled

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CENTER = "CENTER-EUR"


@pytest.fixture
def bank() -> BankState:
    return BankState("T1")


def open_eur(bank: BankState, holder: str = "Buyer Ltd", balance: str = "1000.00") -> str:
    return bank.open_account(
        OpenAccount(holder=holder, currency="EUR", opening_balance=balance)
    ).number


def order(
    e2e: str, debtor: str, creditor: str, amount: str = "100.00", **kw: str
) -> TransferRequest:
    values = {"currency": "EUR", "reference": "RF18C1", **kw}
    return TransferRequest(
        end_to_end_id=e2e, debtor_account=debtor, creditor_account=creditor, amount=amount, **values
    )


def test_center_accounts_exist_for_every_currency(bank: BankState) -> None:
    for currency in CURRENCY_EXPONENTS:
        account = bank.account(f"CENTER-{currency}")
        assert account.currency == currency
        assert parse_scaled(account.balance, CURRENCY_EXPONENTS[currency]) == 0
    assert BankState("X", account_prefix="TC/").account("TC/JPY").balance == "0"


def test_account_numbers_are_iban_like_with_check_digits(bank: BankState) -> None:
    numbers = [open_eur(bank) for _ in range(3)]
    assert len(set(numbers)) == 3
    assert all(is_valid(n) and n.startswith("XB") for n in numbers)
    assert not is_valid(account_number(7)[:-1] + "8")


def test_credit_to_the_center_books_both_sides_and_notifies(bank: BankState) -> None:
    buyer = open_eur(bank)
    outcome = bank.transfer(order("E1", buyer, CENTER, "250.50"), T0)
    assert outcome.result.status is TransferStatus.EXECUTED
    assert outcome.result.booked_at == T0
    assert bank.account(buyer).balance == "749.50"
    assert bank.account(CENTER).balance == "250.50"
    [note] = outcome.notifications
    assert note.type is NotificationType.CREDIT
    assert (note.account, note.amount, note.counterparty_account) == (CENTER, "250.50", buyer)
    assert note.counterparty_name == "Buyer Ltd"
    assert note.bank_reference == outcome.result.bank_reference
    assert not outcome.center_payout


def test_transfer_between_participants_notifies_nobody(bank: BankState) -> None:
    a, b = open_eur(bank), open_eur(bank, "Supplier")
    assert bank.transfer(order("E1", a, b), T0).notifications == []
    assert bank.account(b).balance == "1100.00"


def test_same_end_to_end_id_executes_once(bank: BankState) -> None:
    buyer = open_eur(bank)
    first = bank.transfer(order("E1", buyer, CENTER), T0)
    again = bank.transfer(order("E1", buyer, CENTER), T0 + timedelta(seconds=5))
    assert again.replayed
    assert again.notifications == []
    assert again.result == first.result
    assert bank.account(buyer).balance == "900.00"


def test_same_end_to_end_id_with_other_content_is_refused(bank: BankState) -> None:
    buyer = open_eur(bank)
    bank.transfer(order("E1", buyer, CENTER), T0)
    with pytest.raises(ConflictError) as refused:
        bank.transfer(order("E1", buyer, CENTER, "100.01", reference="RF99"), T0)
    assert refused.value.code == "END_TO_END_ID_REUSED"
    assert "amount" in refused.value.detail
    assert "reference" in refused.value.detail
    assert bank.account(buyer).balance == "900.00"


@pytest.mark.parametrize(
    ("creditor", "amount", "currency", "reason"),
    [
        ("XB00SIMB9999999999", "1.00", "EUR", Rejection.CREDITOR_UNKNOWN),
        ("closed", "1.00", "EUR", Rejection.CREDITOR_CLOSED),
        ("usd", "1.00", "USD", Rejection.CURRENCY_MISMATCH),
        ("usd", "1.00", "EUR", Rejection.CURRENCY_MISMATCH),
        ("supplier", "5000.00", "EUR", Rejection.INSUFFICIENT_FUNDS),
    ],
)
def test_rejections_move_nothing(
    bank: BankState, creditor: str, amount: str, currency: str, reason: str
) -> None:
    payer = open_eur(bank)
    accounts = {
        "closed": open_eur(bank, "Gone"),
        "usd": bank.open_account(OpenAccount(holder="US", currency="USD")).number,
        "supplier": open_eur(bank, "Supplier"),
    }
    bank.close_account(accounts["closed"])
    target = accounts.get(creditor, creditor)
    outcome = bank.transfer(order("E1", payer, target, amount, currency=currency), T0)
    assert outcome.result.status is TransferStatus.REJECTED
    assert outcome.result.reason == reason
    assert outcome.notifications == []
    assert bank.account(payer).balance == "1000.00"
    assert bank.statement(payer, T0.date()).entries == []
    assert bank.transfer(order("E1", payer, target, amount, currency=currency), T0).replayed


def test_rejected_payout_from_the_center_is_notified_with_its_reason(bank: BankState) -> None:
    supplier = open_eur(bank, "Supplier")
    outcome = bank.transfer(order("WD1", CENTER, supplier, "10.00"), T0)
    assert outcome.result.reason == Rejection.INSUFFICIENT_FUNDS
    [note] = outcome.notifications
    assert note.type is NotificationType.PAYOUT_REJECTED
    assert note.reason == Rejection.INSUFFICIENT_FUNDS
    assert (note.end_to_end_id, note.amount, note.counterparty_name) == ("WD1", "10.00", "Supplier")
    assert bank.statement(CENTER, T0.date()).entries == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "0.00"}, "INVALID_AMOUNT"),
        ({"amount": "1.001"}, "INVALID_AMOUNT"),
        ({"currency": "XYZ"}, "UNSUPPORTED_CURRENCY"),
        ({"debtor_account": "XB00SIMB9999999999"}, "UNKNOWN_DEBTOR_ACCOUNT"),
        ({"creditor_account": "debtor"}, "SAME_ACCOUNT"),
    ],
)
def test_refusals_change_nothing(bank: BankState, change: dict[str, str], code: str) -> None:
    buyer = open_eur(bank)
    values = {"debtor_account": buyer, "creditor_account": CENTER, **change}
    if values["creditor_account"] == "debtor":
        values["creditor_account"] = buyer
    bad = TransferRequest(
        end_to_end_id="E1",
        amount=values.get("amount", "1.00"),
        currency=values.get("currency", "EUR"),
        reference="RF18C1",
        debtor_account=values["debtor_account"],
        creditor_account=values["creditor_account"],
    )
    with pytest.raises(BankSimError) as refused:
        bank.transfer(bad, T0)
    assert refused.value.code == code
    assert bank.account(buyer).balance == "1000.00"
    # the id is still free: the corrected transfer executes
    assert bank.transfer(order("E1", buyer, CENTER), T0).result.status is TransferStatus.EXECUTED


def test_a_closed_debtor_account_cannot_pay(bank: BankState) -> None:
    buyer = open_eur(bank)
    bank.close_account(buyer)
    with pytest.raises(ConflictError) as refused:
        bank.transfer(order("E1", buyer, CENTER), T0)
    assert refused.value.code == "DEBTOR_ACCOUNT_CLOSED"


def test_returned_payout_reverses_the_booking_and_notifies(bank: BankState) -> None:
    buyer, supplier = open_eur(bank), open_eur(bank, "Supplier", "0")
    bank.transfer(order("E1", buyer, CENTER, "300.00"), T0)
    payout = bank.transfer(order("WD1", CENTER, supplier, "120.00"), T0)
    assert payout.center_payout
    assert payout.notifications[0].type is NotificationType.PAYOUT_SETTLED
    bank.close_account(supplier)
    back = bank.return_transfer("WD1", T0 + timedelta(minutes=1))
    assert back.result.status is TransferStatus.RETURNED
    assert back.result.reason == "ACCOUNT_CLOSED"
    assert back.result.bank_reference == payout.result.bank_reference
    [note] = back.notifications
    assert note.type is NotificationType.PAYOUT_RETURNED
    assert (note.end_to_end_id, note.amount, note.reason) == ("WD1", "120.00", "ACCOUNT_CLOSED")
    assert note.bank_reference != payout.result.bank_reference
    assert bank.account(CENTER).balance == "300.00"
    assert bank.account(supplier).balance == "0.00"
    assert bank.transfer_result("WD1").status is TransferStatus.RETURNED
    # a retry of the order still gets the first answer, and executes nothing
    assert bank.transfer(order("WD1", CENTER, supplier, "120.00"), T0).result == payout.result
    with pytest.raises(ConflictError, match="TRANSFER_ALREADY_RETURNED"):
        bank.return_transfer("WD1", T0)


def test_what_cannot_be_returned(bank: BankState) -> None:
    buyer, supplier = open_eur(bank), open_eur(bank, "Supplier", "0")
    bank.transfer(order("E1", buyer, CENTER), T0)
    bank.transfer(order("R1", supplier, buyer, "5.00"), T0)  # rejected: no funds
    bank.transfer(order("P1", buyer, supplier, "5.00"), T0)
    bank.transfer(order("P2", supplier, buyer, "5.00"), T0)  # the money moved on
    for e2e, code in [
        ("E1", "RETURN_NOT_ALLOWED"),
        ("R1", "TRANSFER_NOT_EXECUTED"),
        ("P1", "INSUFFICIENT_FUNDS"),
        ("NOPE", "UNKNOWN_TRANSFER"),
    ]:
        with pytest.raises(BankSimError) as refused:
            bank.return_transfer(e2e, T0)
        assert refused.value.code == code


def test_statement_of_a_day(bank: BankState) -> None:
    buyer, supplier = open_eur(bank), open_eur(bank, "Supplier", "0")
    day = T0.date()
    bank.transfer(order("E0", buyer, CENTER, "50.00"), T0 - timedelta(days=1))
    bank.transfer(order("E1", buyer, CENTER, "300.00"), T0)
    bank.transfer(order("WD1", CENTER, supplier, "120.00"), T0 + timedelta(hours=1))
    bank.return_transfer("WD1", T0 + timedelta(hours=2))
    bank.transfer(
        order("E2", buyer, CENTER, "1.00"),
        datetime.combine(day, datetime.max.time(), UTC) + timedelta(microseconds=1),
    )
    statement = bank.statement(CENTER, day)
    assert (statement.opening_balance, statement.closing_balance) == ("50.00", "350.00")
    assert [(e.end_to_end_id, e.amount, e.type) for e in statement.entries] == [
        ("E1", "300.00", NotificationType.CREDIT),
        ("WD1", "-120.00", NotificationType.PAYOUT_SETTLED),
        ("WD1", "120.00", NotificationType.PAYOUT_RETURNED),
    ]
    assert len({e.event_id for e in statement.entries}) == 3
    assert len({e.bank_reference for e in statement.entries}) == 3
    assert all(e.reference == "RF18C1" for e in statement.entries)
    buyer_day = bank.statement(buyer, day)
    assert buyer_day.opening_balance == "950.00"
    assert buyer_day.closing_balance == "650.00"
    assert bank.statement(CENTER, date(2026, 11, 25)).opening_balance == "351.00"
    assert bank.statement(CENTER, date.max).closing_balance == "351.00"
    assert bank.statement(CENTER, date.min).closing_balance == "0.00"


def test_event_ids_match_the_notifications(bank: BankState) -> None:
    buyer = open_eur(bank)
    notes = bank.transfer(order("E1", buyer, CENTER), T0).notifications
    [entry] = bank.statement(CENTER, T0.date()).entries
    assert entry.event_id == notes[0].event_id
    other = BankState("T2")
    other_buyer = open_eur(other)
    assert other.transfer(order("E1", other_buyer, CENTER), T0).result.bank_reference != (
        entry.bank_reference
    )


@pytest.mark.parametrize(
    ("currency", "balance", "code"),
    [("XYZ", "1", "UNSUPPORTED_CURRENCY"), ("JPY", "1.5", "INVALID_AMOUNT")],
)
def test_open_account_refusals(bank: BankState, currency: str, balance: str, code: str) -> None:
    with pytest.raises(InvalidError) as refused:
        bank.open_account(OpenAccount(holder="X", currency=currency, opening_balance=balance))
    assert refused.value.code == code
