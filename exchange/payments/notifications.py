"""Apply the designated bank's notifications, each exactly once by its event id.

The event's row in `bank_events` is written first: its primary key makes a duplicate (even a
concurrent one) wait for the first and then find it, so the duplicate gets the first outcome and
moves nothing. Then the money moves and the outcome is stored, in the same transaction.

Credits go by their payment reference (`references.payee_of`): a participant's deposit
reference adds to its available funds; a contract's lands in the buyer's available funds and
then pays the contract from them (`contract_payments.settle`); anything else waits in suspense
for an operator. Payout notifications belong to withdrawals (`withdrawals.apply_payout`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import structlog

from exchange.bounds import is_text
from exchange.db import Conn, Queryable
from exchange.errors import invalid_field
from exchange.messages.contracts import ContractStatus
from exchange.messages.payments import NotificationOutcome, NotificationResult
from exchange.payments import contract_payments, money
from exchange.payments.accounts import available_account, center_account, escrow_account
from exchange.payments.money import Move
from exchange.payments.notices import Notices
from exchange.payments.references import payee_of
from exchange.payments.withdrawals import apply_payout
from exchange.units import UnitsError, currency_exponent, format_scaled, parse_scaled
from settlement.bank.messages import Notification, NotificationType
from settlement.ledger import AccountKind, Cause

Outcome = NotificationOutcome
R = NotificationResult
SOURCES = ("notification", "statement")
log = structlog.get_logger("exchange.payments")
_DECODE_OUTCOME = msgspec.json.Decoder(NotificationOutcome)
_LONGEST = {"event_id": 200, "bank_reference": 200}  # keys of indexes: bounded
_TEXT_FIELDS = (
    "event_id", "account", "bank_reference", "end_to_end_id", "currency", "reference",
    "counterparty_account", "counterparty_name", "reason",
)  # fmt: skip


def amount_of(notification: Notification) -> int:
    """The notification's amount in minor units, or 422 naming what is wrong with it."""
    for name in _TEXT_FIELDS:
        value = getattr(notification, name)
        if value is not None and not is_text(value):
            raise invalid_field("INVALID_TEXT", name, "text may not contain NUL")
        if value is not None and len(value) > _LONGEST.get(name, 1000):
            raise invalid_field("INVALID_TEXT", name, f"at most {_LONGEST.get(name, 1000)} long")
    if not notification.event_id:
        raise invalid_field("INVALID_TEXT", "event_id", "must not be empty")
    if notification.occurred_at.tzinfo is None:
        raise invalid_field("INVALID_TIME", "occurred_at", "must carry a UTC offset")
    try:
        scale = currency_exponent(notification.currency)
        amount = parse_scaled(notification.amount, scale)
    except UnitsError as exc:
        raise invalid_field("INVALID_AMOUNT", "amount", str(exc)) from None
    if not 0 < amount < 1 << 63:
        raise invalid_field("INVALID_AMOUNT", "amount", "must be above zero and below 2^63")
    return amount


class _Credit:
    """One credit being applied: its amount, where it came from, and what it did."""

    def __init__(self, n: Notification, amount: int, now: datetime, notices: Notices) -> None:
        self.n, self.amount, self.now, self.notices = n, amount, now, notices
        self.scale = currency_exponent(n.currency)
        self.cause = Cause(kind="bank", reference=n.bank_reference)

    def money(self, minor: int) -> str:
        return format_scaled(minor, self.scale)

    async def into_available(self, conn: Conn, participant_id: int) -> None:
        clearing = await center_account(conn, AccountKind.CLEARING, self.n.currency)
        funds = await available_account(conn, participant_id, self.n.currency)
        await money.move(conn, self.n.currency, [Move(clearing, funds, self.amount, self.cause)])

    async def suspense(self, conn: Conn, why: str) -> dict[str, Any]:
        clearing = await center_account(conn, AccountKind.CLEARING, self.n.currency)
        held = await center_account(conn, AccountKind.SUSPENSE, self.n.currency)
        await money.move(conn, self.n.currency, [Move(clearing, held, self.amount, self.cause)])
        log.warning(
            "bank credit held in suspense", event_id=self.n.event_id, reason=why,
            reference=self.n.reference, amount=self.n.amount, currency=self.n.currency,
        )  # fmt: skip
        operators = await conn.fetch(
            "SELECT id FROM participants WHERE 'operator' = ANY (roles) AND status = 'active'"
        )
        for row in operators:
            self.notices.add(
                row["id"], "suspense", self.n.currency, amount_minor=self.amount,
                reference=self.n.reference, detail=why,
            )  # fmt: skip
        return {"result": R.SUSPENSE, "detail": why}

    async def deposit(self, conn: Conn, participant_id: int) -> dict[str, Any]:
        known = await conn.fetchval("SELECT true FROM participants WHERE id = $1", participant_id)
        if not known:
            return await self.suspense(conn, f"no participant {participant_id}")
        await self.into_available(conn, participant_id)
        self.notices.add(
            participant_id, "deposit", self.n.currency, amount_minor=self.amount,
            available_minor=await _spendable(conn, participant_id, self.n.currency),
            reference=self.n.reference,
        )  # fmt: skip
        return {
            "result": R.DEPOSITED, "participant_id": participant_id,
            "left_available": self.money(self.amount),
        }  # fmt: skip

    async def contract(self, conn: Conn, contract_id: int) -> dict[str, Any]:
        row = await contract_payments.lock_contract(conn, contract_id)  # the contract first
        if row is None:
            return await self.suspense(conn, f"no contract {contract_id}")
        buyer = row["buyer_id"]
        problem = contract_payments.refusal(row, self.now)
        if problem is None and row["currency"] == self.n.currency:
            await self._lock_all(conn, row)
        await self.into_available(conn, buyer)
        found: dict[str, Any] = {"participant_id": buyer, "contract_id": contract_id}
        if row["currency"] != self.n.currency:
            kept = R.CURRENCY_MISMATCH, f"the contract is in {row['currency']}"
        elif problem is not None:
            kept = (
                R.PAYMENT_WINDOW_CLOSED if row["status"] == ContractStatus.AWAITING_PAYMENT
                else R.NOT_AWAITING_PAYMENT, problem.detail or "",
            )  # fmt: skip
        else:
            return found | await self._settle(conn, row)
        self.notices.add(
            buyer, "deposit", self.n.currency, amount_minor=self.amount,
            available_minor=await _spendable(conn, buyer, self.n.currency),
            contract_id=contract_id, reference=self.n.reference,
            detail=f"not taken for the contract: {kept[1]}",
        )  # fmt: skip
        return found | {
            "result": kept[0], "left_available": self.money(self.amount), "detail": kept[1],
        }  # fmt: skip

    async def _lock_all(self, conn: Conn, row: Any) -> None:
        """The credit and the settlement move money in two steps: take every account first."""
        currency = self.n.currency
        await contract_payments.lock_accounts(
            conn,
            [
                await center_account(conn, AccountKind.CLEARING, currency),
                await available_account(conn, row["buyer_id"], currency),
                await escrow_account(conn, row["commodity_id"], row["id"], currency),
                await available_account(conn, row["seller_id"], currency),
            ],
        )

    async def _settle(self, conn: Conn, row: Any) -> dict[str, Any]:
        settled = await contract_payments.settle(
            conn, row, self.now, self.notices, actor_id=None,
            reason=f"paid by bank transfer {self.n.bank_reference}", all_or_nothing=False,
        )  # fmt: skip
        excess = max(0, self.amount - settled.into_escrow - settled.penalty)
        if settled.funded and excess:
            self.notices.add(
                row["buyer_id"], "overpaid", self.n.currency, amount_minor=excess,
                available_minor=settled.available, contract_id=row["id"],
                reference=self.n.reference, detail="the excess stays in the available funds",
            )  # fmt: skip
        found = {
            "result": R.FUNDED if settled.funded else R.UNDERPAID,
            "into_escrow": self.money(settled.into_escrow),
            "late_penalty": self.money(settled.penalty),
            "left_available": self.money(excess),
        }
        if not settled.funded:
            found["still_due"] = self.money(settled.still_due)
        return found

    async def apply(self, conn: Conn) -> dict[str, Any]:
        payee = payee_of(self.n.reference)
        if payee is None:
            return await self.suspense(conn, "the reference names no contract or participant")
        if not 0 < payee.id < 1 << 63:
            return await self.suspense(conn, f"no {payee.kind} {payee.id}")
        if payee.kind == "deposit":
            return await self.deposit(conn, payee.id)
        return await self.contract(conn, payee.id)


async def _spendable(conn: Queryable, participant_id: int, currency: str) -> int:
    row = await conn.fetchrow(
        """SELECT a.credits_posted - a.debits_posted - a.debits_pending AS spendable
             FROM payment_accounts p JOIN ledger_accounts a ON a.id = p.account_id
            WHERE p.participant_id = $1 AND p.currency = $2 AND p.kind = 'available'""",
        participant_id, currency,
    )  # fmt: skip
    return int(row["spendable"]) if row else 0


async def _record(
    conn: Conn, n: Notification, amount: int, body: bytes, source: str, now: datetime
) -> bool:
    """Write the event's row; False if it was applied before (then nothing may move)."""
    inserted = await conn.fetchval(
        """INSERT INTO bank_events (event_id, type, bank_reference, end_to_end_id, currency,
                  amount_minor, reference, body, outcome, source, occurred_at, applied_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}'::jsonb, $9, $10, $11)
           ON CONFLICT (event_id) DO NOTHING RETURNING true""",
        n.event_id, str(n.type), n.bank_reference, n.end_to_end_id, n.currency, amount,
        n.reference, body, source, n.occurred_at, now,
    )  # fmt: skip
    return bool(inserted)


async def apply_notification(
    conn: Conn,
    notification: Notification,
    body: bytes,
    source: str,
    now: datetime,
    notices: Notices,
) -> Outcome:
    """Apply a verified notification once (`source`: "notification", or "statement" when
    reconciliation recovers it from the bank's statement); a duplicate returns the first
    outcome and moves nothing. Runs in a transaction of its own or inside the caller's; publish
    `notices` after it commits."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    amount = amount_of(notification)
    async with conn.transaction():
        if not await _record(conn, notification, amount, body, source, now):
            stored = await conn.fetchval(
                "SELECT outcome::text FROM bank_events WHERE event_id = $1", notification.event_id
            )
            return _DECODE_OUTCOME.decode(stored)
        if notification.type is NotificationType.CREDIT:
            found = await _Credit(notification, amount, now, notices).apply(conn)
        else:
            found = await apply_payout(conn, notification, notices, now)
        outcome = _outcome(notification, amount, source, found)
        await conn.execute(
            "UPDATE bank_events SET outcome = $2::jsonb WHERE event_id = $1",
            notification.event_id, msgspec.json.encode(outcome).decode(),
        )  # fmt: skip
    return outcome


def _outcome(n: Notification, amount: int, source: str, found: dict[str, Any]) -> Outcome:
    known = set(NotificationOutcome.__struct_fields__)
    return NotificationOutcome(
        event_id=n.event_id, type=str(n.type), source=source, currency=n.currency,
        amount=format_scaled(amount, currency_exponent(n.currency)),
        bank_reference=n.bank_reference,
        result=str(found["result"]),
        **{k: v for k, v in found.items() if k in known and k != "result"},
    )  # fmt: skip


def funded_contract(outcome: Outcome) -> int | None:
    """The contract a notification's outcome funded, if any (its notice goes out after commit)."""
    return outcome.contract_id if outcome.result == R.FUNDED else None


__all__ = ["Outcome", "amount_of", "apply_notification", "funded_contract"]
