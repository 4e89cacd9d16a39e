"""The end of the money's journey: release to the supplier, partial release for a short
delivery, refunds and cancellation. These, and the deadline sweep's default, are the only ways
money leaves a contract's escrow (docs/payments.md, "Release, refund, cancellation").

Each runs in the caller's transaction: the contract row is locked first, the state checked,
the money moved as one linked chain and the contract moved on through `lifecycle.transition`;
a refusal (409) raises before anything is written, so nothing is half applied. The money
notices are collected in `notices` (publish them after commit); the contract returned is the
one to announce (`MarketData.contract_changed`).

Rounding (so that no minor unit is ever lost or created): of what the escrow holds, the
supplier's gross share is `held x share` rounded half up; the fee on it is the contract's fee x
gross / amount, rounded half up (the whole fee when the gross is the whole amount); the supplier
gets gross - fee, revenue the fee, and the buyer exactly the rest: held - gross.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from exchange.audit import audit
from exchange.contracts import lifecycle
from exchange.contracts.views import contract_from_row
from exchange.db import Conn
from exchange.errors import UnprocessableError
from exchange.messages.contracts import Contract, ContractStatus
from exchange.payments import accounts
from exchange.payments.errors import ContractStateError, EscrowShortError
from exchange.payments.escrow import (
    Escrow,
    available_after,
    lock,
    refunded_notice,
    to_buyer,
)
from exchange.payments.money import Move, move
from exchange.payments.notices import Notices
from exchange.units import round_half_up
from settlement.ledger import AccountKind

S = ContractStatus
RELEASABLE = frozenset({S.DELIVERED, S.DISPUTED})
# a partial refund leaves the contract where it is, escrow holding the rest
PARTLY_REFUNDABLE = frozenset({S.FUNDED, S.IN_DELIVERY, S.DELIVERED, S.DISPUTED})
FULLY_REFUNDABLE = frozenset({S.DISPUTED})
CANCELLABLE = frozenset({S.AWAITING_PAYMENT, S.FUNDED})


@dataclass(frozen=True, slots=True)
class Split:
    """Where escrow goes: the supplier's net share, the center's fee, the buyer's rest."""

    seller: int
    fee: int
    buyer: int


def split(held: int, amount: int, fee: int, share: Fraction) -> Split:
    """Split `held` for a delivered `share` (0..1) of a contract of `amount` with `fee`:
    every minor unit goes somewhere (seller + fee + buyer == held)."""
    if not (0 <= share <= 1 and 0 <= fee <= amount and 0 <= held <= amount and amount > 0):
        raise ValueError("share in 0..1, and 0 <= fee, held <= amount")
    gross = round_half_up(held * share.numerator, share.denominator)
    fee_part = round_half_up(fee * gross, amount)
    return Split(seller=gross - fee_part, fee=fee_part, buyer=held - gross)


def share_of_quantity(contract: Contract, delivered: Decimal) -> Fraction:
    """The share of the contract's quantity that `delivered` is (exact)."""
    quantity = Decimal(contract.terms.quantity)
    return Fraction(delivered) / Fraction(quantity)


async def _record(
    conn: Conn,
    actor: int | None,
    action: str,
    escrow: Escrow,
    detail: dict[str, Any],
    request_id: str | None,
) -> None:
    target = f"contract:{escrow.contract_id}"
    await audit(conn, actor, f"contract.{action}", target, detail, request_id)


async def _pay_out(
    conn: Conn, escrow: Escrow, parts: Split, notices: Notices, why: str
) -> dict[str, str]:
    """Move the split out of escrow as one chain and collect the notices."""
    currency, row = escrow.currency, escrow.row
    assert escrow.account is not None
    seller = await accounts.available_account(conn, row["seller_id"], currency)
    revenue = await accounts.center_account(conn, AccountKind.REVENUE, currency)
    buyer = await accounts.available_account(conn, row["buyer_id"], currency)
    wanted = [(seller, parts.seller), (revenue, parts.fee), (buyer, parts.buyer)]
    moves = [Move(escrow.account, to, n, escrow.cause) for to, n in wanted if n > 0]
    await move(conn, currency, moves)
    if parts.seller or parts.fee:
        notices.add(
            row["seller_id"], "released", currency, amount_minor=parts.seller,
            available_minor=await available_after(conn, seller), contract_id=escrow.contract_id,
            reference=row["payment_reference"], detail=f"{why}; fee {escrow.money(parts.fee)}",
        )  # fmt: skip
    if parts.buyer:
        await refunded_notice(conn, notices, escrow, buyer, parts.buyer, why)
    return {
        "seller": escrow.money(parts.seller),
        "fee": escrow.money(parts.fee),
        "buyer": escrow.money(parts.buyer),
    }


def _nothing_held(escrow: Escrow) -> EscrowShortError:
    return EscrowShortError(f"the escrow of contract {escrow.contract_id} holds nothing")


def _check_releasable(escrow: Escrow) -> None:
    if escrow.held == 0:
        raise _nothing_held(escrow)
    if escrow.held > escrow.row["amount_minor"]:  # never by the flows; an operator must look
        raise EscrowShortError(
            f"the escrow of contract {escrow.contract_id} holds more than its amount",
            code="ESCROW_MISMATCH",
        )


async def release(
    conn: Conn,
    contract_id: int,
    now: datetime,
    notices: Notices,
    actor: int | None,
    *,
    reason: str = "goods accepted",
    request_id: str | None = None,
    late_penalty_minor: int = 0,
) -> Contract:
    """The goods were accepted: escrow to the supplier (less the fee) and the fee to revenue,
    one chain; the contract completes (partially refunded, if a refund went back before).

    A late-delivery penalty (`late_penalty_minor`, capped at what the supplier would get)
    goes from the escrow to the buyer in the same chain, out of the supplier's part."""
    if late_penalty_minor < 0:
        raise ValueError("a late-delivery penalty is not negative")
    escrow = await lock(conn, contract_id, RELEASABLE, "a release")
    amount, fee = escrow.row["amount_minor"], escrow.row["fee_minor"]
    _check_releasable(escrow)
    parts = split(escrow.held, amount, fee, Fraction(1))
    penalty = min(late_penalty_minor, parts.seller)
    if penalty:
        parts = Split(seller=parts.seller - penalty, fee=parts.fee, buyer=parts.buyer + penalty)
        await conn.execute(
            "UPDATE contracts SET late_delivery_penalty_minor = $3"
            " WHERE commodity_id = $1 AND id = $2",
            escrow.row["commodity_id"], contract_id, penalty,
        )  # fmt: skip
        reason = f"{reason}; late-delivery penalty {escrow.money(penalty)} to the buyer"
    moved = await _pay_out(conn, escrow, parts, notices, reason)
    await _record(conn, actor, "release", escrow, moved | {"reason": reason}, request_id)
    target = S.COMPLETED if escrow.held == amount else S.PARTIALLY_REFUNDED
    return await lifecycle.transition(conn, contract_id, target, actor, reason, now)


async def release_partial(
    conn: Conn,
    contract_id: int,
    share: Fraction | Decimal,
    now: datetime,
    notices: Notices,
    actor: int | None,
    *,
    reason: str = "short delivery",
    request_id: str | None = None,
) -> Contract:
    """A short delivery: the delivered `share` (0 < share < 1; see `share_of_quantity`) of the
    escrow to the supplier, its fee to revenue, the rest back to the buyer: one chain."""
    share = Fraction(share)
    if not 0 < share < 1:
        raise UnprocessableError(
            "a partial release needs a share between 0 and 1 (1 is a release, 0 a refund)",
            code="INVALID_SHARE",
        )
    escrow = await lock(conn, contract_id, RELEASABLE, "a partial release")
    _check_releasable(escrow)
    parts = split(escrow.held, escrow.row["amount_minor"], escrow.row["fee_minor"], share)
    why = f"{reason}: {share.numerator}/{share.denominator} delivered"
    moved = await _pay_out(conn, escrow, parts, notices, why)
    detail = moved | {"share": str(share), "reason": reason}
    await _record(conn, actor, "release_partial", escrow, detail, request_id)
    return await lifecycle.transition(conn, contract_id, S.PARTIALLY_REFUNDED, actor, why, now)


async def refund(
    conn: Conn,
    contract_id: int,
    amount_minor: int | None,
    now: datetime,
    notices: Notices,
    actor: int | None,
    reason: str = "refund",
    *,
    request_id: str | None = None,
) -> Contract:
    """Escrow back to the buyer: all of it (`None`, or the whole balance: the contract is
    `refunded`; only from `disputed`), or part of it (the contract stays as it is and the
    escrow keeps the rest for a later release)."""
    if amount_minor is not None and amount_minor <= 0:
        raise UnprocessableError("a refund moves a positive amount", code="INVALID_AMOUNT")
    escrow = await lock(conn, contract_id, PARTLY_REFUNDABLE, "a refund")
    full = amount_minor is None or amount_minor == escrow.held
    if full and escrow.row["status"] not in FULLY_REFUNDABLE:
        status = escrow.row["status"]
        raise ContractStateError(
            f"contract {contract_id} is {status}: a refund of all its escrow needs disputed"
            " (cancel a funded contract instead)"
        )
    amount = escrow.held if amount_minor is None else amount_minor
    if amount == 0:
        raise _nothing_held(escrow)
    buyer = await to_buyer(conn, escrow, amount)
    await refunded_notice(conn, notices, escrow, buyer, amount, reason)
    detail = {"amount": escrow.money(amount), "reason": reason}
    await _record(conn, actor, "refund", escrow, detail, request_id)
    if full:
        return await lifecycle.transition(conn, contract_id, S.REFUNDED, actor, reason, now)
    row = await lifecycle.fetch_contract(conn, contract_id)
    assert row is not None
    return contract_from_row(row)


async def cancel(
    conn: Conn,
    contract_id: int,
    reason: str,
    now: datetime,
    notices: Notices,
    actor: int | None,
    request_id: str | None = None,
) -> Contract:
    """Cancel a contract awaiting payment (a partial payment goes back) or funded (the escrow
    goes back in full); nothing else moves. The buyer's money notice is collected here; the
    returned contract tells both parties."""
    escrow = await lock(conn, contract_id, CANCELLABLE, "cancellation")
    returned = escrow.held
    if returned:
        buyer = await to_buyer(conn, escrow, returned)
        await refunded_notice(conn, notices, escrow, buyer, returned, f"cancelled: {reason}")
    await audit(
        conn, actor, "contract.cancelled", f"contract:{contract_id}",
        {"reason": reason, "returned": escrow.money(returned)}, request_id,
    )  # fmt: skip
    return await lifecycle.transition(conn, contract_id, S.CANCELLED, actor, reason, now)
