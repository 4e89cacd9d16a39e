"""What travels through a book writer: submissions, their outcomes, a batch in the making."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from exchange.audit import AuditRecord
from exchange.errors import ApiError, UnavailableError
from exchange.messages.contracts import Contract
from exchange.messages.orders import Order
from exchange.orders.projection import Projection
from matching import Command


@dataclass(slots=True)
class Placed:
    order: Order


@dataclass(slots=True)
class Duplicate:
    """The client_order_id was taken already (by an earlier request, or one in this batch)."""


@dataclass(slots=True)
class Changed:
    order: Order | None  # None for book commands (halt, resume)


@dataclass(slots=True)
class Refused:
    reason: str


Outcome = Placed | Duplicate | Changed | Refused


@dataclass(slots=True)
class Submission:
    """A command waiting for its batch; `command` lacks sequence, timestamp (and order id).

    Without a command it only asks for a batch: the gate is checked and the answer is that
    the batch committed. `reason` replaces the engine's reason for a cancel (the engine only
    knows cancels on the owner's behalf)."""

    command: Command | None
    participant_id: int = 0
    client_order_id: str = ""
    request_hash: bytes = b""
    region_code: str | None = None
    future: asyncio.Future[Outcome] | None = None
    order_id: int = 0
    queued: bool = True  # False for the writer's own commands (expiry, suspension cancels)
    reason: str | None = None
    audit: AuditRecord | None = None  # written with the batch if the command took effect


@dataclass(slots=True)
class Batch:
    subs: list[Submission]
    commands: list[tuple[Submission, Command]] = field(default_factory=list)
    outcomes: list[tuple[Submission, Outcome]] = field(default_factory=list)


@dataclass(slots=True)
class Committed:
    """A batch that is durable, waiting to be answered and published."""

    batch: Batch
    projection: Projection
    changed_rows: list[asyncpg.Record]
    contracts: list[Contract]


def not_committed() -> ApiError:
    return ApiError("the command could not be committed and was not applied")


def answer_lost() -> ApiError:
    return ApiError("the command was committed but could not be answered; read it back")


def rebuilding() -> UnavailableError:
    return UnavailableError("the book is being rebuilt; retry shortly", code="BOOK_UNAVAILABLE")


def fail(subs: list[Submission], error: Callable[[], Exception]) -> None:
    """Answer the submissions not answered yet with a fresh `error()` each."""
    for sub in subs:
        if sub.future is not None and not sub.future.done():
            sub.future.set_exception(error())
