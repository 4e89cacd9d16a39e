"""Money on the wire: bank notification outcomes, contract payments, accounts and entries.

Amounts are decimal strings in the currency's scale ("4125.50"); a sign appears only where an
amount is signed (ledger entries, the clearing account).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from exchange.messages.common import Id, PageQuery, Struct
from exchange.messages.contracts import Contract
from exchange.messages.reference import Currency


class NotificationResult(enum.StrEnum):
    DEPOSITED = "deposited"  # a participant's deposit reference: into its available funds
    FUNDED = "funded"  # a contract's reference: the contract is now funded
    UNDERPAID = "underpaid"  # ... held in escrow, the contract still awaits the rest
    NOT_AWAITING_PAYMENT = "not_awaiting_payment"  # ... left in the buyer's available funds
    PAYMENT_WINDOW_CLOSED = "payment_window_closed"  # ... past grace: left in available funds
    CURRENCY_MISMATCH = "currency_mismatch"  # ... in another currency: left in available funds
    SUSPENSE = "suspense"  # the reference names nothing of ours: held for operators


class NotificationOutcome(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What applying a bank notification did; every duplicate of it gets this same answer."""

    event_id: str
    type: str
    source: str  # "notification" or "statement" (recovered by reconciliation)
    result: str  # a NotificationResult for credits; the withdrawal's result for payouts
    currency: str
    amount: str
    bank_reference: str
    participant_id: int | None = None  # whose available funds the money reached
    contract_id: int | None = None
    withdrawal_id: int | None = None
    into_escrow: str | None = None  # taken into the contract's escrow by this payment
    late_penalty: str | None = None  # paid to the supplier with it
    left_available: str | None = None  # what stayed in the participant's available funds
    still_due: str | None = None  # what the contract still needs (underpaid)
    detail: str = ""


class ContractPayment(Struct, frozen=True, kw_only=True):
    """A contract paid from the buyer's available funds."""

    contract: Contract
    into_escrow: str
    late_penalty: str
    available: str  # the buyer's available funds in the contract's currency afterwards


class Balance(Struct, frozen=True, kw_only=True):
    currency: str
    available: str  # spendable now
    in_escrow: str  # held in escrow against contracts the participant buys
    reserved: str  # held for withdrawals the bank has not settled yet


class Accounts(Struct, frozen=True, kw_only=True):
    participant_id: int
    deposit_reference: str  # quote it on a bank transfer to add to the available funds
    balances: list[Balance]


class AccountsQuery(Struct, frozen=True, kw_only=True):
    participant_id: Id | None = None  # operators: whose accounts


class EntryStatus(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class Entry(Struct, frozen=True, kw_only=True):
    """One transfer into or out of the participant's available funds."""

    id: int
    at: datetime
    currency: str
    amount: str  # signed: positive into the available funds, negative out of them
    status: EntryStatus
    cause: str  # bank, contract, withdrawal, adjustment, claim
    reference: str  # the cause's reference: bank reference, contract id ...
    contract_id: int | None


class EntryQuery(PageQuery, frozen=True, kw_only=True):
    participant_id: Id | None = None  # operators: whose entries


class CenterBalance(Struct, frozen=True, kw_only=True):
    currency: str
    revenue: str  # the center's fees
    clearing: str  # minus what the bank holds for the center
    withdrawals: str  # payouts sent to the bank and not settled yet
    suspense: str  # credits nobody could be found for, until an operator resolves them


class CenterAccounts(Struct, frozen=True, kw_only=True):
    balances: list[CenterBalance]


class TrialBalance(Struct, frozen=True, kw_only=True):
    """The ledger's invariants as stored. Sums run across currencies, in minor units: each is
    zero when the ledger balances."""

    holds: bool
    posted_minor: int
    pending_minor: int
    least_limited_minor: int | None  # the smallest spendable balance of a limited account
    unlike_transfers: list[int]  # accounts whose balance differs from their transfers
    transfers: int


class Mismatch(Struct, frozen=True, kw_only=True):
    event_id: str
    bank_reference: str
    problem: str


class ReconciliationReport(Struct, frozen=True, kw_only=True):
    """What one reconciliation found (amounts as decimal strings of the currency)."""

    currency: str
    day: date
    account: str
    opening_balance: str
    closing_balance: str
    entries: int
    matched: int
    recovered: list[str]  # event ids applied from the statement: their notification was lost
    mismatched: list[Mismatch]  # bookings whose applied event differs from the statement
    missing_from_statement: list[str]  # events the center applied for that day, not booked
    clearing_balance: str  # what the ledger says the bank holds for the center, now
    in_flight: str  # bookings applied by the center that the bank made after the day
    difference: str  # clearing_balance - in_flight - closing_balance: zero when reconciled
    clean: bool


class RunReconciliation(Struct, frozen=True, kw_only=True):
    """Reconcile one UTC day of the center's account at the bank in one currency."""

    date: date
    currency: Currency


class Reconciliation(Struct, frozen=True, kw_only=True):
    id: int
    run_at: datetime
    run_by: int | None
    report: ReconciliationReport


class ReconciliationQuery(PageQuery, frozen=True, kw_only=True):
    currency: Currency | None = None
