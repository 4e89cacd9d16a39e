"""Errors of the payment flows, each with a stable `code` (money.py holds the ledger's own)."""

from __future__ import annotations

from exchange.errors import ConflictError, UnauthenticatedError, UnavailableError


class NotAwaitingPaymentError(ConflictError):
    code = "CONTRACT_NOT_AWAITING_PAYMENT"
    title = "The contract is not awaiting payment"


class PaymentWindowClosedError(ConflictError):
    code = "PAYMENT_WINDOW_CLOSED"
    title = "The contract's payment window (due time plus grace) has closed"


class InvalidSignatureError(UnauthenticatedError):
    code = "INVALID_SIGNATURE"
    title = "The bank notification's signature is missing, wrong or stale"


class BankNotConfiguredError(UnavailableError):
    title = "This center takes no bank notifications: it has no bank secret"

    def __init__(self) -> None:
        super().__init__(
            "set EXCHANGE_BANK_SECRET to take the designated bank's notifications",
            code="BANK_NOT_CONFIGURED",
            retry_after=60,
        )


class InsufficientFundsError(ConflictError):
    code = "INSUFFICIENT_FUNDS"
    title = "Not enough available funds"


class LedgerRefusedError(ConflictError):
    """The ledger refused a transfer a flow asked for: a bug in the flow, or a race it lost."""

    code = "LEDGER_REFUSED"
    title = "The ledger refused the transfer"


class ContractStateError(ConflictError):
    """The contract is not in a state that allows this settlement step."""

    code = "CONTRACT_STATE_CONFLICT"
    title = "The contract's state does not allow this"


class EscrowShortError(ConflictError):
    """The contract's escrow does not hold what the step would move."""

    code = "ESCROW_INSUFFICIENT"
    title = "The escrow does not hold the amount"
