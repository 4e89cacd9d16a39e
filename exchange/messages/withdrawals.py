"""Withdrawals (available funds to the participant's registered bank account) and the
registered bank account itself."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import DecimalText, Id, PageQuery, Struct
from exchange.messages.reference import Currency

BankAccountNumber = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{3,63}$",
        description="The participant's account at the designated bank (4 to 64 letters, digits,"
        " '.', '_' or '-')",
        examples=["DE89370400440532013000"],
    ),
]


class WithdrawalStatus(enum.StrEnum):
    PENDING = "pending"  # reserved in the ledger, sent (or being sent) to the bank
    SETTLED = "settled"  # the bank executed it
    REJECTED = "rejected"  # the bank refused it: the reservation is released
    RETURNED = "returned"  # executed, then sent back: the amount is available again


class RegisterBankAccount(Struct, frozen=True, kw_only=True):
    bank_account: BankAccountNumber


class CreateWithdrawal(Struct, frozen=True, kw_only=True):
    currency: Currency
    amount: DecimalText


class Withdrawal(Struct, frozen=True, kw_only=True):
    id: int
    participant_id: int
    currency: str
    amount: str
    bank_account: str
    end_to_end_id: str  # the transfer's id at the bank ("WD<id>")
    status: WithdrawalStatus
    bank_reference: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


class WithdrawalQuery(PageQuery, frozen=True, kw_only=True):
    status: WithdrawalStatus | None = None
    participant_id: Id | None = None  # operators only: one participant's withdrawals
