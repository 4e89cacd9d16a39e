"""The simulated bank's books: accounts, transfers, bookings and statements.

Pure and synchronous: the time of each operation and the bank's instance tag come in as
arguments, amounts are integer minor units inside (`settlement.money`), and every change either
happens whole or raises a `BankSimError` having changed nothing. The notifications that the
center must receive come back from each operation; sending them is someone else's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from settlement.bank.messages import (
    BankAccount,
    Notification,
    NotificationType,
    OpenAccount,
    Statement,
    StatementEntry,
    TransferRequest,
    TransferResult,
    TransferStatus,
)
from settlement.bank.simulator.errors import ConflictError, InvalidError, UnknownError
from settlement.bank.simulator.numbers import account_number
from settlement.money import CURRENCY_EXPONENTS, UnitsError, format_scaled, parse_scaled

CENTER_HOLDER = "Trading center"


class Rejection:
    """Why a transfer was not executed (`TransferResult.reason`)."""

    CREDITOR_UNKNOWN = "CREDITOR_ACCOUNT_UNKNOWN"
    CREDITOR_CLOSED = "CREDITOR_ACCOUNT_CLOSED"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"


class ReturnReason:
    ACCOUNT_CLOSED = "ACCOUNT_CLOSED"
    BY_CREDITOR = "RETURNED_BY_CREDITOR"


@dataclass(frozen=True)
class Booking:
    """One entry on one account; `amount` is signed (credits positive)."""

    account: str
    bank_reference: str
    event_id: str
    type: NotificationType
    end_to_end_id: str
    booked_at: datetime
    amount: int
    reference: str
    counterparty_account: str
    counterparty_name: str
    reason: str | None = None


@dataclass
class Account:
    number: str
    holder: str
    currency: str
    initial: int  # the balance it was opened with
    balance: int
    closed: bool = False
    bookings: list[Booking] = field(default_factory=list)


@dataclass
class Transfer:
    request: TransferRequest
    amount: int
    first: TransferResult  # what the transfer was answered with, and every retry is
    current: TransferResult  # what it is now (executed, then perhaps returned)


@dataclass(frozen=True)
class Outcome:
    """A transfer's result and the notifications due to the center; `replayed` when the end-to-end
    id was known already (nothing happened this time)."""

    result: TransferResult
    notifications: list[Notification]
    replayed: bool = False
    center_payout: bool = False  # ordered from a center account and executed


def _differences(a: TransferRequest, b: TransferRequest) -> list[str]:
    return [name for name in a.__struct_fields__ if getattr(a, name) != getattr(b, name)]


class BankState:
    """The bank's books. `instance` makes bank references and event ids unique across runs of
    the simulator; the center holds one account per currency, `<account_prefix><currency>`."""

    def __init__(self, instance: str, account_prefix: str = "CENTER-") -> None:
        self.instance = instance
        self.account_prefix = account_prefix
        self._serial = 0
        self._opened = 0
        self._accounts: dict[str, Account] = {}
        self._transfers: dict[str, Transfer] = {}
        self.center_accounts = frozenset(account_prefix + c for c in CURRENCY_EXPONENTS)
        for number in sorted(self.center_accounts):
            currency = number[len(account_prefix) :]
            self._accounts[number] = Account(number, CENTER_HOLDER, currency, 0, 0)

    # accounts

    def open_account(self, request: OpenAccount) -> BankAccount:
        """Open an account with its opening balance; returns it with its new number."""
        initial = _amount(request.opening_balance, request.currency, allow_zero=True)
        self._opened += 1
        number = account_number(self._opened)
        account = Account(number, request.holder, request.currency, initial, initial)
        self._accounts[number] = account
        return _view(account)

    def account(self, number: str) -> BankAccount:
        return _view(self._account(number))

    def close_account(self, number: str) -> BankAccount:
        """Close an account: transfers to it are rejected from now on (closing twice is fine)."""
        account = self._account(number)
        account.closed = True
        return _view(account)

    def _account(self, number: str) -> Account:
        account = self._accounts.get(number)
        if account is None:
            raise UnknownError("UNKNOWN_ACCOUNT", f"there is no account {number!r}")
        return account

    # transfers

    def transfer(self, request: TransferRequest, now: datetime) -> Outcome:
        """Execute a transfer once per end-to-end id, or reject it (an outcome, not an error)."""
        known = self._transfers.get(request.end_to_end_id)
        if known is not None:
            if known.request != request:
                fields = ", ".join(_differences(known.request, request))
                raise ConflictError(
                    "END_TO_END_ID_REUSED",
                    f"end-to-end id {request.end_to_end_id!r} was used for another transfer "
                    f"(differs in: {fields})",
                )
            return Outcome(known.first, [], replayed=True)
        amount = _amount(request.amount, request.currency, allow_zero=False)
        debtor = self._debtor(request)
        reference = self._next_reference()
        reason = self._rejection(request, debtor, amount)
        if reason is not None:
            return self._reject(request, amount, reference, reason, now)
        creditor = self._accounts[request.creditor_account]
        result = TransferResult(
            end_to_end_id=request.end_to_end_id,
            bank_reference=reference,
            status=TransferStatus.EXECUTED,
            booked_at=now,
        )
        self._transfers[request.end_to_end_id] = Transfer(request, amount, result, result)
        kinds = (NotificationType.PAYOUT_SETTLED, NotificationType.CREDIT)
        booked = self._book(debtor, creditor, amount, request, reference, now, kinds)
        return Outcome(
            result,
            self._notifications(booked),
            center_payout=debtor.number in self.center_accounts,
        )

    def _debtor(self, request: TransferRequest) -> Account:
        debtor = self._accounts.get(request.debtor_account)
        if debtor is None:
            raise InvalidError(
                "UNKNOWN_DEBTOR_ACCOUNT", f"there is no account {request.debtor_account!r}"
            )
        if debtor.closed:
            raise ConflictError("DEBTOR_ACCOUNT_CLOSED", f"account {debtor.number} is closed")
        if request.creditor_account == request.debtor_account:
            raise InvalidError("SAME_ACCOUNT", "debtor and creditor account are the same")
        return debtor

    def _rejection(self, request: TransferRequest, debtor: Account, amount: int) -> str | None:
        creditor = self._accounts.get(request.creditor_account)
        if creditor is None:
            return Rejection.CREDITOR_UNKNOWN
        if creditor.closed:
            return Rejection.CREDITOR_CLOSED
        if request.currency != debtor.currency or request.currency != creditor.currency:
            return Rejection.CURRENCY_MISMATCH
        if debtor.balance < amount:
            return Rejection.INSUFFICIENT_FUNDS
        return None

    def _reject(
        self, request: TransferRequest, amount: int, reference: str, reason: str, now: datetime
    ) -> Outcome:
        result = TransferResult(
            end_to_end_id=request.end_to_end_id,
            bank_reference=reference,
            status=TransferStatus.REJECTED,
            reason=reason,
        )
        self._transfers[request.end_to_end_id] = Transfer(request, amount, result, result)
        notifications = []
        if request.debtor_account in self.center_accounts:  # nothing was booked: no statement
            creditor = self._accounts.get(request.creditor_account)
            rejected = Booking(
                account=request.debtor_account,
                bank_reference=reference,
                event_id=f"{reference}-R",
                type=NotificationType.PAYOUT_REJECTED,
                end_to_end_id=request.end_to_end_id,
                booked_at=now,
                amount=-amount,
                reference=request.reference,
                counterparty_account=request.creditor_account,
                counterparty_name=creditor.holder if creditor else "",
                reason=reason,
            )
            notifications.append(self._notification(rejected))
        return Outcome(result, notifications)

    def transfer_result(self, end_to_end_id: str) -> TransferResult:
        """What became of a transfer (executed, rejected or returned)."""
        return self._transfer(end_to_end_id).current

    def _transfer(self, end_to_end_id: str) -> Transfer:
        known = self._transfers.get(end_to_end_id)
        if known is None:
            raise UnknownError(
                "UNKNOWN_TRANSFER", f"no transfer has end-to-end id {end_to_end_id!r}"
            )
        return known

    def return_transfer(self, end_to_end_id: str, now: datetime) -> Outcome:
        """The creditor's side sends an executed transfer back: a reverse booking."""
        known = self._transfer(end_to_end_id)
        if known.current.status is TransferStatus.REJECTED:
            raise ConflictError("TRANSFER_NOT_EXECUTED", "a rejected transfer cannot be returned")
        if known.current.status is TransferStatus.RETURNED:
            raise ConflictError("TRANSFER_ALREADY_RETURNED", "the transfer was returned already")
        if known.request.creditor_account in self.center_accounts:
            raise ConflictError(
                "RETURN_NOT_ALLOWED", "the center sends money back by a transfer of its own"
            )
        creditor = self._accounts[known.request.creditor_account]
        debtor = self._accounts[known.request.debtor_account]
        if creditor.balance < known.amount:
            raise ConflictError(
                "INSUFFICIENT_FUNDS", f"account {creditor.number} no longer holds the amount"
            )
        reason = ReturnReason.ACCOUNT_CLOSED if creditor.closed else ReturnReason.BY_CREDITOR
        reference = self._next_reference()
        booked = self._book(
            creditor,
            debtor,
            known.amount,
            known.request,
            reference,
            now,
            (NotificationType.PAYOUT_RETURNED, NotificationType.PAYOUT_RETURNED),
            reason,
        )
        known.current = TransferResult(
            end_to_end_id=end_to_end_id,
            bank_reference=known.first.bank_reference,
            status=TransferStatus.RETURNED,
            reason=reason,
            booked_at=known.first.booked_at,
        )
        return Outcome(known.current, self._notifications(booked))

    # bookings, notifications, statements

    def _next_reference(self) -> str:
        self._serial += 1
        return f"BR{self.instance}{self._serial:09d}"

    def _book(
        self,
        debtor: Account,
        creditor: Account,
        amount: int,
        request: TransferRequest,
        reference: str,
        now: datetime,
        kinds: tuple[NotificationType, NotificationType],
        reason: str | None = None,
    ) -> list[Booking]:
        """Move `amount` from `debtor` to `creditor`: one booking on each account, of the
        given kinds (debit side, credit side)."""
        debtor.balance -= amount
        creditor.balance += amount
        sides = [
            (debtor, creditor, -amount, "D", kinds[0]),
            (creditor, debtor, amount, "C", kinds[1]),
        ]
        booked = []
        for account, other, signed, side, kind in sides:
            booking = Booking(
                account=account.number,
                bank_reference=reference,
                event_id=f"{reference}-{side}",
                type=kind,
                end_to_end_id=request.end_to_end_id,
                booked_at=now,
                amount=signed,
                reference=request.reference,
                counterparty_account=other.number,
                counterparty_name=other.holder,
                reason=reason,
            )
            account.bookings.append(booking)
            booked.append(booking)
        return booked

    def _notifications(self, bookings: Iterable[Booking]) -> list[Notification]:
        return [self._notification(b) for b in bookings if b.account in self.center_accounts]

    def _notification(self, booking: Booking) -> Notification:
        currency = self._accounts[booking.account].currency
        return Notification(
            event_id=booking.event_id,
            type=booking.type,
            occurred_at=booking.booked_at,
            account=booking.account,
            bank_reference=booking.bank_reference,
            end_to_end_id=booking.end_to_end_id,
            amount=format_scaled(abs(booking.amount), CURRENCY_EXPONENTS[currency]),
            currency=currency,
            reference=booking.reference,
            counterparty_account=booking.counterparty_account,
            counterparty_name=booking.counterparty_name,
            reason=booking.reason,
        )

    def statement(self, number: str, day: date) -> Statement:
        """The account's bookings of one UTC day, between its opening and closing balance."""
        account = self._account(number)
        opening = account.initial + sum(b.amount for b in account.bookings if _day(b) < day)
        entries = [b for b in account.bookings if _day(b) == day]
        closing = opening + sum(b.amount for b in entries)
        scale = CURRENCY_EXPONENTS[account.currency]
        return Statement(
            account=number,
            currency=account.currency,
            date=day,
            opening_balance=format_scaled(opening, scale),
            closing_balance=format_scaled(closing, scale),
            entries=[
                StatementEntry(
                    bank_reference=b.bank_reference,
                    end_to_end_id=b.end_to_end_id,
                    booked_at=b.booked_at,
                    amount=format_scaled(b.amount, scale),
                    reference=b.reference,
                    counterparty_account=b.counterparty_account,
                    counterparty_name=b.counterparty_name,
                    type=b.type,
                    event_id=b.event_id,
                )
                for b in entries
            ],
        )


def _amount(text: str, currency: str, *, allow_zero: bool) -> int:
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise InvalidError("UNSUPPORTED_CURRENCY", f"the bank keeps no {currency!r} accounts")
    try:
        value = parse_scaled(text, exponent)
    except UnitsError as exc:
        raise InvalidError("INVALID_AMOUNT", str(exc)) from None
    if value == 0 and not allow_zero:
        raise InvalidError("INVALID_AMOUNT", "the amount must be more than zero")
    return value


def _day(booking: Booking) -> date:
    return booking.booked_at.astimezone(UTC).date()


def _view(account: Account) -> BankAccount:
    return BankAccount(
        number=account.number,
        holder=account.holder,
        currency=account.currency,
        balance=format_scaled(account.balance, CURRENCY_EXPONENTS[account.currency]),
    )
