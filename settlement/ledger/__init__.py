"""The double-entry ledger: pure rules, commands in, outcomes out (no I/O, no clock)."""

from settlement.ledger.ledger import Ledger, differing_fields
from settlement.ledger.model import (
    MAX_AMOUNT,
    Account,
    AccountId,
    AccountKind,
    Balance,
    Cause,
    Outcome,
    PendingState,
    Result,
    Transfer,
    TransferFlags,
    TransferId,
)

__all__ = [
    "MAX_AMOUNT",
    "Account",
    "AccountId",
    "AccountKind",
    "Balance",
    "Cause",
    "Ledger",
    "Outcome",
    "PendingState",
    "Result",
    "Transfer",
    "TransferFlags",
    "TransferId",
    "differing_fields",
]
