"""The ledger's vocabulary: accounts, transfers, balances and the result of each command.

Money is integer minor units of one currency; a transfer moves an amount from one account
(debited) to another of the same currency (credited). Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import enum
from typing import NewType

import msgspec

AccountId = NewType("AccountId", int)
TransferId = NewType("TransferId", int)

MAX_AMOUNT = (1 << 63) - 1  # what storage holds (bigint): no amount or balance goes beyond


class AccountKind(enum.StrEnum):
    AVAILABLE = "available"  # a participant's funds at the center
    ESCROW = "escrow"  # one per contract: the buyer's payment, held until release or refund
    REVENUE = "revenue"  # the center's fees
    CLEARING = "clearing"  # the designated bank's side: money that came in or went out
    WITHDRAWALS = "withdrawals"  # payouts sent to the bank, not yet confirmed
    SUSPENSE = "suspense"  # credits whose payment reference names nothing, until resolved


class TransferFlags(enum.IntFlag):
    NONE = 0
    LINKED = 1  # this transfer and the next apply together, or neither does
    PENDING = 2  # reserve the amount: posted or voided later, by a transfer that names it
    POST_PENDING = 4  # post a pending transfer, in full or in part (the rest is released)
    VOID_PENDING = 8  # release a pending transfer's whole amount


class Cause(msgspec.Struct, frozen=True, kw_only=True):
    """Who or what moved the money: a contract, a bank entry, a claim, an operator ..."""

    kind: str
    reference: str


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """An account in one currency. A `limited` account never has more debits (posted and
    pending) than posted credits: its owner can spend only what has arrived."""

    id: AccountId
    currency: str
    kind: AccountKind
    limited: bool


class Transfer(msgspec.Struct, frozen=True, kw_only=True):
    """Move `amount` from `debit_account` to `credit_account`.

    For POST_PENDING and VOID_PENDING, `pending_id` names the pending transfer; its accounts
    and currency apply (give 0 and "" or the same values); a post's `amount` of 0 posts the
    whole pending amount. A recorded transfer never changes.
    """

    id: TransferId
    debit_account: AccountId
    credit_account: AccountId
    amount: int
    currency: str
    cause: Cause
    flags: TransferFlags = TransferFlags.NONE
    pending_id: TransferId | None = None


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    @property
    def net_posted(self) -> int:
        """Credits less debits, posted: what the account holds."""
        return self.credits_posted - self.debits_posted

    @property
    def spendable(self) -> int:
        """Posted credits less every debit, pending ones included."""
        return self.credits_posted - self.debits_posted - self.debits_pending


class PendingState(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class Result(enum.StrEnum):
    OK = "ok"
    ID_CONFLICT = "id_conflict"  # the id was used with other content (`fields` names it)
    INVALID_AMOUNT = "invalid_amount"
    INVALID_FLAGS = "invalid_flags"
    MISSING_CAUSE = "missing_cause"
    SAME_ACCOUNT = "same_account"
    UNKNOWN_DEBIT_ACCOUNT = "unknown_debit_account"
    UNKNOWN_CREDIT_ACCOUNT = "unknown_credit_account"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNKNOWN_PENDING = "unknown_pending"
    NOT_PENDING = "not_pending"  # pending_id names a transfer that reserved nothing
    ALREADY_POSTED = "already_posted"
    ALREADY_VOIDED = "already_voided"
    PENDING_MISMATCH = "pending_mismatch"  # accounts or currency differ from the pending's
    EXCEEDS_PENDING = "exceeds_pending"
    EXCEEDS_CREDITS = "exceeds_credits"  # a limited account would go below zero
    OVERFLOW = "overflow"
    LINKED_EVENT_FAILED = "linked_event_failed"  # another transfer of its chain failed
    LINKED_CHAIN_OPEN = "linked_chain_open"  # the batch ended inside a chain


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one command: `recorded` is the transfer (or account) as the ledger
    holds it when the result is OK; `replayed` if it was recorded by an earlier command."""

    id: int
    result: Result
    recorded: Transfer | Account | None = None
    replayed: bool = False
    fields: tuple[str, ...] = ()
