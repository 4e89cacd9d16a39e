"""The port the center talks to its designated bank through. `HttpBank` (settlement/bank/http.py)
is the adapter; the simulator speaks the same protocol over HTTP."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from settlement.bank.messages import Statement, TransferRequest, TransferResult


class BankError(Exception):
    """Something went wrong talking to the bank."""


class BankUnavailableError(BankError):
    """The outcome is unknown (timeout, connection lost, 5xx): the transfer may or may not have
    been executed. Retry with the same end-to-end id; the bank executes it at most once."""


class BankRefusedError(BankError):
    """The bank refused the request itself (4xx: malformed, unknown account, an end-to-end id
    reused with other content); retrying it unchanged will not help."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class Bank(Protocol):
    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Order a transfer (idempotent by `request.end_to_end_id`)."""
        ...

    async def statement(self, account: str, day: date) -> Statement:
        """The account's statement for one UTC day."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
