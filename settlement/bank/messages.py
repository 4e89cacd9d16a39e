"""The designated bank's wire format (JSON): transfers, notifications and statements.

Amounts are decimal strings in the currency's minor-unit scale (`settlement.money`); times are
RFC 3339 UTC. Every transfer carries an end-to-end id chosen by whoever orders it: the bank
executes a transfer once per end-to-end id and returns the first result to any retry.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated

import msgspec

Amount = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,18}(\.[0-9]{1,18})?$")]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=140)]


class Wire(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class OpenAccount(Wire, frozen=True, kw_only=True):
    """Open an account at the bank (the simulator's own administration)."""

    holder: Text
    currency: str
    opening_balance: Amount = "0"


class BankAccount(Wire, frozen=True, kw_only=True):
    number: str  # an IBAN-like account number
    holder: str
    currency: str
    balance: str


class TransferRequest(Wire, frozen=True, kw_only=True):
    """Move money from one account at the bank to another."""

    end_to_end_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
    debtor_account: str
    creditor_account: str
    amount: Amount
    currency: str
    reference: Text  # the payment reference the creditor sees (an RF creditor reference)


class TransferStatus(enum.StrEnum):
    EXECUTED = "executed"
    REJECTED = "rejected"  # not executed: see `reason`
    RETURNED = "returned"  # executed, then sent back by the creditor's side


class TransferResult(Wire, frozen=True, kw_only=True):
    end_to_end_id: str
    bank_reference: str
    status: TransferStatus
    reason: str | None = None
    booked_at: datetime | None = None


class NotificationType(enum.StrEnum):
    CREDIT = "credit"  # money arrived in the center's account
    PAYOUT_SETTLED = "payout_settled"  # a transfer the center ordered was executed
    PAYOUT_REJECTED = "payout_rejected"  # ... was not executed (nothing moved)
    PAYOUT_RETURNED = "payout_returned"  # ... was executed, then returned to the center


class Notification(Wire, frozen=True, kw_only=True):
    """What the bank tells the center about its account, signed (see `signing`)."""

    event_id: str  # unique per event: the center applies each once
    type: NotificationType
    occurred_at: datetime
    account: str  # the center's account at the bank
    bank_reference: str  # the bank's id of the booking
    end_to_end_id: str
    amount: Amount
    currency: str
    reference: str  # the payment reference of the transfer
    counterparty_account: str
    counterparty_name: str
    reason: str | None = None


class StatementEntry(Wire, frozen=True, kw_only=True):
    """One booking; with the statement's account and currency it holds everything its
    notification held, so a lost notification can be rebuilt from it."""

    bank_reference: str
    end_to_end_id: str
    booked_at: datetime
    amount: str  # signed: credits to the account positive, debits negative
    reference: str
    counterparty_account: str
    counterparty_name: str
    type: NotificationType  # what the notification of this booking said
    event_id: str  # the notification that told of this booking


class SetClock(Wire, frozen=True, kw_only=True):
    """Move the simulator's clock (its own administration, for tests): from now on it reads the
    system's time plus `offset_seconds`, in step with a center whose clock a test moved."""

    offset_seconds: Annotated[int, msgspec.Meta(ge=-(10**9), le=10**9)]


class SimClock(Wire, frozen=True, kw_only=True):
    """The simulator's clock: its offset from the system's time, and the time it reads now."""

    offset_seconds: int
    now: datetime


class Statement(Wire, frozen=True, kw_only=True):
    """One day of an account: opening balance, every booking in order, closing balance."""

    account: str
    currency: str
    date: date
    opening_balance: str  # signed decimal strings
    closing_balance: str
    entries: list[StatementEntry]
