"""Reconciliation: the bank's statement of the center's account for one day, matched with what
the center applied.

Every booking on the statement must be a bank event the center applied (`bank_events`, by the
event id the statement names) with the same type and amount. A booking without one is a
notification that never arrived: it is rebuilt from the statement and applied exactly like a
notification (once: a late duplicate of it then gets the first answer). After that, the
clearing account (minus what the bank holds for the center, seen from the ledger) must equal
the statement's closing balance plus the bookings the center applied that the bank made after
that day (items in flight). What does not match is reported, never corrected silently.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import msgspec

from exchange.db import Conn
from exchange.messages.payments import Mismatch, ReconciliationReport
from exchange.payments import accounts, ledger_store
from exchange.payments.notices import Notices
from exchange.payments.notifications import apply_notification
from settlement.bank.messages import Notification, NotificationType, Statement, StatementEntry
from settlement.bank.port import Bank
from settlement.ledger import AccountKind
from settlement.money import currency_exponent, format_scaled, parse_scaled

T = NotificationType
_SIGN = {T.CREDIT: 1, T.PAYOUT_RETURNED: 1, T.PAYOUT_SETTLED: -1, T.PAYOUT_REJECTED: 0}


def _signed(text: str, scale: int) -> int:
    """A signed decimal string of the statement in minor units."""
    value = parse_scaled(text.lstrip("-"), scale)
    return -value if text.startswith("-") else value


def rebuild(statement: Statement, entry: StatementEntry) -> Notification:
    """The notification a statement entry stands for."""
    return Notification(
        event_id=entry.event_id, type=entry.type, occurred_at=entry.booked_at,
        account=statement.account, bank_reference=entry.bank_reference,
        end_to_end_id=entry.end_to_end_id, amount=entry.amount.lstrip("-"),
        currency=statement.currency, reference=entry.reference,
        counterparty_account=entry.counterparty_account,
        counterparty_name=entry.counterparty_name,
    )  # fmt: skip


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


async def _applied(conn: Conn, event_ids: list[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT event_id, type, amount_minor FROM bank_events WHERE event_id = ANY ($1::text[])",
        event_ids,
    )
    return {row["event_id"]: row for row in rows}


async def _recover(
    conn: Conn, statement: Statement, entry: StatementEntry, now: datetime, notices: Notices
) -> None:
    notification = rebuild(statement, entry)
    async with conn.transaction():
        await apply_notification(
            conn, notification, msgspec.json.encode(notification), "statement", now, notices
        )


async def reconcile(
    conn: Conn,
    bank: Bank,
    account: str,
    currency: str,
    day: date,
    now: datetime,
    notices: Notices,
    run_by: int | None = None,
) -> ReconciliationReport:
    """Reconcile one day of the center's account in `currency` and store the report. Events
    recovered from the statement commit one by one as they are applied; `notices` collects
    what they tell participants (publish it afterwards)."""
    statement = await bank.statement(account, day)
    scale = currency_exponent(currency)
    applied = await _applied(conn, [e.event_id for e in statement.entries])
    recovered: list[str] = []
    mismatched: list[Mismatch] = []
    for entry in statement.entries:
        row = applied.get(entry.event_id)
        if row is None:
            await _recover(conn, statement, entry, now, notices)
            recovered.append(entry.event_id)
            continue
        signed = _SIGN[T(row["type"])] * row["amount_minor"]
        if row["type"] != entry.type or signed != _signed(entry.amount, scale):
            mismatched.append(
                Mismatch(
                    event_id=entry.event_id,
                    bank_reference=entry.bank_reference,
                    problem=f"the bank booked {entry.type} {entry.amount}; the center applied"
                    f" {row['type']} {format_scaled(signed, scale)}",
                )
            )
    report = await _balances(conn, statement, currency, day, scale)
    report = msgspec.structs.replace(
        report,
        recovered=recovered,
        mismatched=mismatched,
        matched=len(statement.entries) - len(recovered) - len(mismatched),
    )
    report = msgspec.structs.replace(
        report, clean=not mismatched and not report.missing_from_statement and
        report.difference == format_scaled(0, scale),
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO reconciliations (currency, day, clean, report, run_by, run_at)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
        currency, day, report.clean, msgspec.json.encode(report).decode(), run_by, now,
    )  # fmt: skip
    return report


async def _balances(
    conn: Conn, statement: Statement, currency: str, day: date, scale: int
) -> ReconciliationReport:
    start, end = _end_of(day - timedelta(days=1)), _end_of(day)
    booked = {e.event_id for e in statement.entries}
    # one snapshot: the clearing balance and the events behind it
    async with conn.transaction(isolation="repeatable_read"):
        clearing_id = await accounts.center_account(conn, AccountKind.CLEARING, currency)
        balance = (await ledger_store.balances(conn, [clearing_id]))[clearing_id]
        events = await conn.fetch(
            """SELECT event_id, type, amount_minor, occurred_at FROM bank_events
                WHERE currency = $1 AND occurred_at >= $2""",
            currency,
            start,
        )
    holds = -balance.net_posted  # clearing is debited as money arrives at the bank
    in_flight = sum(
        _SIGN[T(e["type"])] * e["amount_minor"] for e in events if e["occurred_at"] >= end
    )
    missing = sorted(
        e["event_id"] for e in events
        if e["occurred_at"] < end and _SIGN[T(e["type"])] and e["event_id"] not in booked
    )  # fmt: skip
    closing = _signed(statement.closing_balance, scale)
    return ReconciliationReport(
        currency=currency, day=day, account=statement.account,
        opening_balance=statement.opening_balance, closing_balance=statement.closing_balance,
        entries=len(statement.entries), matched=0, recovered=[], mismatched=[],
        missing_from_statement=missing, clearing_balance=format_scaled(holds, scale),
        in_flight=format_scaled(in_flight, scale),
        difference=format_scaled(holds - in_flight - closing, scale), clean=False,
    )  # fmt: skip


async def currencies_in_use(conn: Conn) -> list[str]:
    """The currencies in which the center has a clearing account (money went through the bank)."""
    rows = await conn.fetch(
        "SELECT currency FROM payment_accounts WHERE kind = 'clearing' ORDER BY currency"
    )
    return [row["currency"] for row in rows]
