"""Operators' adjustments of the ledger: proposed by one operator, decided by another."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import NO_NUL, DecimalText, Id, PageQuery, Struct
from exchange.messages.reference import Currency

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=NO_NUL)]


class AdjustmentStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPLIED = "applied"
    DECLINED = "declined"


class AccountRef(Struct, frozen=True, kw_only=True):
    """A ledger account: its id (as the accounts API shows it), or a participant's available
    funds in the adjustment's currency."""

    account_id: Id | None = None
    participant_id: Id | None = None

    def __post_init__(self) -> None:
        if (self.account_id is None) == (self.participant_id is None):
            raise ValueError("give exactly one of account_id and participant_id")


class ProposeAdjustment(Struct, frozen=True, kw_only=True):
    debit: AccountRef  # the account the amount leaves
    credit: AccountRef  # the account the amount goes to
    currency: Currency
    amount: DecimalText
    reason: Reason


class Decision(Struct, frozen=True, kw_only=True):
    reason: Reason | None = None


class Adjustment(Struct, frozen=True, kw_only=True):
    id: int
    debit_account_id: int
    credit_account_id: int
    currency: str
    amount: str
    reason: str
    status: AdjustmentStatus
    proposed_by: int
    decided_by: int | None
    transfer_id: int | None
    proposed_at: datetime
    decided_at: datetime | None


class AdjustmentQuery(PageQuery, frozen=True, kw_only=True):
    status: AdjustmentStatus | None = None
