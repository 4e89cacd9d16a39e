"""What the buyer does with a delivery: accept it (escrow to the supplier, less the fee and any
late-delivery penalty), or, when it was short, settle pro rata or order the rest as a backorder
(docs/delivery.md, "Acceptance, claims, shortage").

Each runs in the caller's transaction and locks the contract row first; the money moves only
through `exchange.payments.settle`. The money notices go into `notices` (publish after commit);
the contract returned is the one to announce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

import asyncpg

from exchange.contracts import lifecycle
from exchange.contracts.terms import ContractTerms, parse
from exchange.contracts.views import CONTRACT_COLUMNS, contract_from_row
from exchange.db import Conn
from exchange.delivery.errors import (
    BackorderPendingError,
    BackorderUsedError,
    DeliveredShortError,
    NotShortError,
)
from exchange.errors import NotFoundError, UnprocessableError
from exchange.ids import commodity_of
from exchange.messages.contracts import Contract, ContractStatus
from exchange.payments import settle
from exchange.payments.errors import ContractStateError
from exchange.payments.notices import Notices
from exchange.units import QUANTITY_SCALE, parse_scaled, round_half_up

S = ContractStatus
DAY = timedelta(days=1)
BACKORDER_AT_MOST = timedelta(days=366)
DELIVERY_COLUMNS = f"""{CONTRACT_COLUMNS}, delivery_due_at, delivered_at,
    delivered_quantity_micro, claim_window_until, shortage_settlement, backorder_due_at,
    accepted_at, late_delivery_penalty_minor"""


@dataclass(frozen=True, slots=True)
class Delivered:
    """A contract row locked with what delivery recorded on it."""

    row: asyncpg.Record
    terms: ContractTerms

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def status(self) -> ContractStatus:
        return ContractStatus(self.row["status"])

    @property
    def quantity_micro(self) -> int:
        return parse_scaled(self.terms.quantity, QUANTITY_SCALE)

    @property
    def delivered_micro(self) -> int:
        """Delivered in all (every attempt: a backorder adds to it)."""
        return int(self.row["delivered_quantity_micro"] or 0)

    @property
    def short(self) -> bool:
        return self.delivered_micro < self.quantity_micro

    @property
    def share(self) -> Fraction:
        return Fraction(self.delivered_micro, self.quantity_micro)


async def lock_delivered(
    conn: Conn, contract_id: int, party: int | None = None, *, skip_locked: bool = False
) -> Delivered | None:
    """The contract `FOR UPDATE` with its delivery columns; None if there is none (or it is
    not `party`'s, when given: the buyer's or the seller's; or, with `skip_locked`, another
    transaction holds it)."""
    if not 0 < contract_id < 1 << 62:
        return None
    skip = " SKIP LOCKED" if skip_locked else ""
    row = await conn.fetchrow(
        f"SELECT {DELIVERY_COLUMNS} FROM contracts WHERE commodity_id=$1 AND id=$2"
        f" FOR UPDATE{skip}",
        commodity_of(contract_id), contract_id,
    )  # fmt: skip
    if row is None or (party is not None and party not in (row["buyer_id"], row["seller_id"])):
        return None
    return Delivered(row=row, terms=parse(row["terms"]))


async def delivered_for_buyer(conn: Conn, contract_id: int, buyer_id: int | None) -> Delivered:
    """The contract locked, if `buyer_id` (None: the center itself) is its buyer; else 404."""
    found = await lock_delivered(conn, contract_id)
    if found is None or (buyer_id is not None and found.row["buyer_id"] != buyer_id):
        raise NotFoundError(f"contract {contract_id} does not exist", code="UNKNOWN_CONTRACT")
    return found


_BACKORDER_DELIVERED = """SELECT 1 FROM delivery_tasks WHERE commodity_id = $1
    AND contract_id = $2 AND attempt > 1 AND status = 'delivered'"""


async def backorder_pending(conn: Conn, found: Delivered) -> bool:
    """The buyer chose a backorder and no later attempt has been delivered yet (the contract
    stays `delivered` meanwhile; routing makes and carries the next attempt)."""
    if found.row["shortage_settlement"] != "backorder":
        return False
    done = await conn.fetchval(_BACKORDER_DELIVERED, found.row["commodity_id"], found.id)
    return done is None


def _require(found: Delivered, *states: ContractStatus, action: str) -> None:
    if found.status not in states:
        wanted = " or ".join(states)
        raise ContractStateError(f"contract {found.id} is {found.status}; {action} needs {wanted}")


def late_delivery_penalty(found: Delivered) -> int:
    """amount x the terms' bps per day x started days late / 10,000, rounded half up; late is
    after `delivery_due_at` (after `backorder_due_at` for a backorder)."""
    row = found.row
    due = row["backorder_due_at"] if row["shortage_settlement"] == "backorder" else None
    due = due or row["delivery_due_at"]
    delivered = row["delivered_at"]
    if due is None or delivered is None or delivered <= due:
        return 0
    days = -((due - delivered) // DAY)  # started days: ceil
    bps = found.terms.breach.late_delivery_penalty_bps_per_day
    return round_half_up(row["amount_minor"] * bps * days, 10_000)


async def release_accepted(
    conn: Conn,
    found: Delivered,
    now: datetime,
    notices: Notices,
    actor: int | None,
    reason: str,
    request_id: str | None = None,
) -> Contract:
    """Release the escrow of a delivered (or disputed) contract less the late-delivery
    penalty, and record when it was accepted."""
    await conn.execute(
        "UPDATE contracts SET accepted_at = $3 WHERE commodity_id = $1 AND id = $2",
        found.row["commodity_id"], found.id, now,
    )  # fmt: skip
    return await settle.release(
        conn, found.id, now, notices, actor, reason=reason, request_id=request_id,
        late_penalty_minor=late_delivery_penalty(found),
    )  # fmt: skip


async def accept(
    conn: Conn,
    contract_id: int,
    buyer_id: int | None,
    now: datetime,
    notices: Notices,
    *,
    reason: str = "goods accepted by the buyer",
    request_id: str | None = None,
) -> Contract:
    """The buyer (`None`: the center, for a buyer silent past the claim window) accepts a
    contract delivered in full: `completed`; 409 when not delivered, short, or disputed."""
    found = await delivered_for_buyer(conn, contract_id, buyer_id)
    _require(found, S.DELIVERED, action="acceptance")
    if found.short:
        raise DeliveredShortError(
            f"contract {contract_id} was delivered short: settle the shortage"
            " (POST /v1/contracts/{id}/shortage) or open a claim"
        )
    return await release_accepted(conn, found, now, notices, buyer_id, reason, request_id)


async def settle_pro_rata(
    conn: Conn,
    found: Delivered,
    now: datetime,
    notices: Notices,
    actor: int | None,
    reason: str,
    request_id: str | None = None,
) -> Contract:
    """The supplier is paid for the share delivered in all, the buyer refunded the rest."""
    await conn.execute(
        "UPDATE contracts SET shortage_settlement = 'pro_rata', accepted_at = $3"
        " WHERE commodity_id = $1 AND id = $2",
        found.row["commodity_id"], found.id, now,
    )  # fmt: skip
    return await settle.release_partial(
        conn, found.id, found.share, now, notices, actor, reason=reason, request_id=request_id
    )


async def settle_shortage(
    conn: Conn,
    contract_id: int,
    buyer_id: int,
    backorder_by: datetime | None,
    now: datetime,
    notices: Notices,
    request_id: str | None = None,
) -> Contract:
    """The buyer's choice for a short delivery: pro rata (`backorder_by` None) now, or the
    rest as a backorder due by `backorder_by` (the contract stays `delivered`, and routing
    makes the next attempt; its delivery adds to `delivered_quantity_micro`)."""
    found = await delivered_for_buyer(conn, contract_id, buyer_id)
    _require(found, S.DELIVERED, action="settling a shortage")
    if not found.short:
        raise NotShortError(f"contract {contract_id} was delivered in full: accept it")
    if found.delivered_micro == 0:
        raise ContractStateError(
            f"nothing of contract {contract_id} was delivered: open a claim for a refund"
        )
    if await backorder_pending(conn, found):
        raise BackorderPendingError(
            f"contract {contract_id}'s backorder is under way until"
            f" {found.row['backorder_due_at'].isoformat()}"
        )
    if backorder_by is None:
        why = "shortage settled pro rata by the buyer"
        return await settle_pro_rata(conn, found, now, notices, buyer_id, why, request_id)
    if found.row["shortage_settlement"] == "backorder":
        raise BackorderUsedError(
            f"contract {contract_id}'s backorder was delivered short too: only pro rata remains"
        )
    if not now < backorder_by <= now + BACKORDER_AT_MOST:
        raise UnprocessableError(
            "`by` must lie in the future, at most 366 days ahead",
            code="INVALID_BACKORDER_DATE", field_errors=[("$.by", "not in the next 366 days")],
        )  # fmt: skip
    await conn.execute(
        "UPDATE contracts SET shortage_settlement = 'backorder', backorder_due_at = $3,"
        " updated_at = $4 WHERE commodity_id = $1 AND id = $2",
        found.row["commodity_id"], contract_id, backorder_by, now,
    )  # fmt: skip
    row = await lifecycle.fetch_contract(conn, contract_id)
    assert row is not None
    return contract_from_row(row)
