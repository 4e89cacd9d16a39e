"""Money as the API shows it: a participant's balances and ledger entries, the center's own
accounts. Reads only; amounts become decimal strings in each currency's scale here."""

from __future__ import annotations

from typing import Any

from exchange.db import Queryable
from exchange.messages.common import Page
from exchange.messages.payments import (
    Accounts,
    Balance,
    CenterAccounts,
    CenterBalance,
    Entry,
    EntryStatus,
)
from exchange.pagination import page_of
from exchange.payments.references import deposit_reference
from exchange.units import currency_exponent, format_scaled
from settlement.ledger import TransferFlags

_RECORD = """SELECT id,
       CASE WHEN status = 'defaulted' THEN 'defaulted'
            WHEN funded_at <= payment_due_at THEN 'on_time'
            ELSE 'late' END AS kind
  FROM contracts
 WHERE buyer_id = $1 AND (status = 'defaulted' OR funded_at IS NOT NULL)
 ORDER BY signed_at, id"""


async def payment_record(conn: Queryable, participant_id: int) -> dict[str, list[int]]:
    """The contracts a participant bought, by how it paid: `on_time` (funded by the due
    time), `late` (within grace) and `defaulted`, each oldest first."""
    kinds: dict[str, list[int]] = {"on_time": [], "late": [], "defaulted": []}
    for row in await conn.fetch(_RECORD, participant_id):
        kinds[row["kind"]].append(row["id"])
    return kinds


_AVAILABLE = """
SELECT p.currency, a.credits_posted - a.debits_posted - a.debits_pending AS spendable,
       a.debits_pending AS reserved
  FROM payment_accounts p JOIN ledger_accounts a ON a.id = p.account_id
 WHERE p.kind = 'available' AND p.participant_id = $1"""

_ESCROW = """
SELECT c.currency, sum(a.credits_posted - a.debits_posted) AS held
  FROM contracts c
  JOIN payment_accounts p ON p.kind = 'escrow' AND p.commodity_id = c.commodity_id
                         AND p.contract_id = c.id
  JOIN ledger_accounts a ON a.id = p.account_id
 WHERE c.buyer_id = $1
 GROUP BY c.currency"""

_ENTRIES = f"""
SELECT t.id, t.created_at, t.currency, t.amount, t.pending, t.cause_kind, t.cause_reference,
       t.credit_account_id = ANY ($1::bigint[]) AS incoming,
       r.flags AS resolved_flags, r.amount AS resolved_amount
  FROM ledger_transfers t
  LEFT JOIN ledger_transfers r ON r.pending_id = t.id
 WHERE (t.debit_account_id = ANY ($1::bigint[]) OR t.credit_account_id = ANY ($1::bigint[]))
   AND t.flags & {int(TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)} = 0
   AND ($2::bigint IS NULL OR t.id < $2)
 ORDER BY t.id DESC LIMIT $3"""

_CENTER = """
SELECT p.currency, p.kind,
       a.credits_posted + a.credits_pending - a.debits_posted - a.debits_pending AS net
  FROM payment_accounts p JOIN ledger_accounts a ON a.id = p.account_id
 WHERE p.participant_id IS NULL AND p.contract_id IS NULL"""


def _money(minor: int, currency: str) -> str:
    return format_scaled(minor, currency_exponent(currency))


async def accounts_of(conn: Queryable, participant_id: int) -> Accounts:
    """The participant's balances per currency (available, in escrow as buyer, reserved)."""
    available = {row["currency"]: row for row in await conn.fetch(_AVAILABLE, participant_id)}
    escrow = {row["currency"]: row["held"] for row in await conn.fetch(_ESCROW, participant_id)}
    balances = []
    for currency in sorted(available.keys() | escrow.keys()):
        row = available.get(currency)
        balances.append(
            Balance(
                currency=currency,
                available=_money(row["spendable"] if row else 0, currency),
                in_escrow=_money(int(escrow.get(currency) or 0), currency),
                reserved=_money(row["reserved"] if row else 0, currency),
            )
        )
    return Accounts(
        participant_id=participant_id,
        deposit_reference=deposit_reference(participant_id),
        balances=balances,
    )


def _entry(row: Any) -> Entry:
    amount, status = row["amount"], EntryStatus.POSTED
    if row["pending"]:
        flags = row["resolved_flags"]
        if flags is None:
            status = EntryStatus.PENDING
        elif TransferFlags(flags) & TransferFlags.POST_PENDING:
            amount = row["resolved_amount"]
        else:
            status = EntryStatus.VOIDED
    cause, reference = row["cause_kind"], row["cause_reference"]
    return Entry(
        id=row["id"],
        at=row["created_at"],
        currency=row["currency"],
        amount=_money(amount if row["incoming"] else -amount, row["currency"]),
        status=status,
        cause=cause,
        reference=reference,
        contract_id=int(reference) if cause == "contract" and reference.isdigit() else None,
    )


async def entries_of(
    conn: Queryable, participant_id: int, before: int | None, limit: int
) -> Page[Entry]:
    """The transfers into and out of the participant's available funds, newest first."""
    accounts = [
        row["account_id"]
        for row in await conn.fetch(
            "SELECT account_id FROM payment_accounts WHERE participant_id = $1", participant_id
        )
    ]
    rows = await conn.fetch(_ENTRIES, accounts, before, limit + 1) if accounts else []
    return page_of([_entry(row) for row in rows], limit, lambda entry: entry.id)


async def center_accounts(conn: Queryable) -> CenterAccounts:
    """The center's own accounts per currency (pending amounts counted)."""
    found: dict[str, dict[str, int]] = {}
    for row in await conn.fetch(_CENTER):
        found.setdefault(row["currency"], {})[row["kind"]] = row["net"]
    return CenterAccounts(
        balances=[
            CenterBalance(
                currency=currency,
                **{
                    kind: _money(kinds.get(kind, 0), currency)
                    for kind in ("revenue", "clearing", "withdrawals", "suspense")
                },
            )
            for currency, kinds in sorted(found.items())
        ]
    )
