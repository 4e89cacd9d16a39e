"""Counters (open mode): the RFQ's buyer proposes other terms for a quote, the supplier accepts
(a new revision on those terms), rejects (the quote keeps its terms) or revises
(docs/negotiation.md, "Counters and negotiation history").

A quote is seen by its supplier and by its RFQ's buyer, by nobody else (404 UNKNOWN_QUOTE).
Each change locks the RFQ's row first, then the quote's, the same order as every quote change,
so one counter at a time holds even when the buyer counters twice at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from exchange.bounds import BIGINT_MAX, check_bigint
from exchange.db import Conn, Queryable
from exchange.errors import ConflictError, NotFoundError
from exchange.messages.negotiation import RoundAction, RoundSide
from exchange.messages.rfqs import QuoteStatus, RfqMode, RfqStatus
from exchange.negotiation import quotes, rounds, sealing
from exchange.negotiation.rfqs import Viewer, status_of, unprocessable, visible
from exchange.reference import CommoditySpec


@dataclass(frozen=True, slots=True)
class Proposal:
    """A counter's terms as the buyer sent them, in integers (None: the quote's)."""

    price: int | None
    quantity: int | None
    message: str


def _unknown(quote_id: int) -> NotFoundError:
    return NotFoundError(f"quote {quote_id} does not exist", code="UNKNOWN_QUOTE")


async def seen_by(
    conn: Queryable, quote_id: int, participant_id: int, now: datetime
) -> asyncpg.Record:
    """The quote if the participant is its supplier, or its RFQ's buyer and the RFQ is not
    sealed (docs/negotiation.md, "Sealed quotes and reverse auctions"); else 404."""
    if quote_id > BIGINT_MAX:
        raise _unknown(quote_id)
    found = await conn.fetchrow(
        """SELECT r.mode, r.status, r.closes_at FROM quotes q JOIN rfqs r ON r.id = q.rfq_id
            WHERE q.id = $1 AND (q.supplier_id = $2 OR r.buyer_id = $2)""",
        quote_id, participant_id,
    )  # fmt: skip
    row = await conn.fetchrow("SELECT * FROM quotes WHERE id = $1", quote_id)
    if found is None or row is None:
        raise _unknown(quote_id)
    if row["supplier_id"] != participant_id and sealing.sealed(found, now):
        raise _unknown(quote_id)  # its buyer will see it at closing
    return row  # type: ignore[no-any-return]


async def of_buyer(conn: Queryable, quote_id: int, buyer_id: int, now: datetime) -> asyncpg.Record:
    """A quote on one of the buyer's RFQs, or 404."""
    row = await seen_by(conn, quote_id, buyer_id, now)
    if row["supplier_id"] == buyer_id:  # its own quote, not its RFQ's
        raise _unknown(quote_id)
    return row


async def _locked(conn: Conn, quote: asyncpg.Record, viewer: Viewer) -> tuple[Any, Any]:
    """(RFQ, quote), locked in that order."""
    rfq = await visible(conn, quote["rfq_id"], viewer, lock=True)
    locked = await conn.fetchrow("SELECT * FROM quotes WHERE id = $1 FOR UPDATE", quote["id"])
    return rfq, locked


def _check_live(rfq: asyncpg.Record, quote: asyncpg.Record, now: datetime) -> None:
    if status_of(rfq, now) is not RfqStatus.OPEN:
        raise ConflictError(f"the RFQ is {status_of(rfq, now)}", code="RFQ_NOT_OPEN")
    status = quotes.quote_status(quote, now)
    if status is QuoteStatus.WITHDRAWN:
        raise ConflictError("the quote was withdrawn", code="QUOTE_WITHDRAWN")
    if status in (QuoteStatus.AWARDED, QuoteStatus.DECLINED):
        raise ConflictError(f"the quote was {status}", code="RFQ_NOT_OPEN")
    if status is QuoteStatus.LAPSED:
        raise ConflictError("the quote lapsed: its valid_until has passed", code="QUOTE_NOT_LIVE")


def _check_terms(rfq: asyncpg.Record, spec: CommoditySpec, price: int, quantity: int) -> None:
    """A counter asks for no more than the RFQ would accept in a quote."""
    check_bigint(spec.amount_minor(price, quantity), "quantity", "price x quantity")
    if rfq["max_price_ticks"] is not None and price > rfq["max_price_ticks"]:
        raise unprocessable("price", "is above the RFQ's maximum price", "ABOVE_MAX_PRICE")
    if quantity > rfq["quantity_lots"]:
        raise unprocessable("quantity", "is more than the RFQ asks for", "ABOVE_RFQ_QUANTITY")
    if quantity < rfq["min_quote_lots"]:
        raise unprocessable("quantity", "is below the RFQ's minimum per supplier",
                            "BELOW_MINIMUM")  # fmt: skip


async def counter(
    conn: Conn, quote_id: int, buyer_id: int, spec: CommoditySpec, proposal: Proposal,
    now: datetime,
) -> asyncpg.Record:  # fmt: skip
    """The quote after the buyer's counter: `countered`, the counter pending."""
    rfq, quote = await _locked(conn, await of_buyer(conn, quote_id, buyer_id, now),
                               Viewer(buyer_id, supplier=False))  # fmt: skip
    if rfq["mode"] != RfqMode.OPEN:
        raise ConflictError(f"counters are for RFQs in open mode, not {rfq['mode']}",
                            code="COUNTER_NOT_ALLOWED")  # fmt: skip
    _check_live(rfq, quote, now)
    if quote["pending_counter"] is not None:
        raise ConflictError("a counter on this quote waits for the supplier's answer",
                            code="COUNTER_PENDING")  # fmt: skip
    price = quote["price_ticks"] if proposal.price is None else proposal.price
    quantity = quote["quantity_lots"] if proposal.quantity is None else proposal.quantity
    _check_terms(rfq, spec, price, quantity)
    made = rounds.Round(buyer_id, RoundSide.BUYER, RoundAction.COUNTERED, quote["revision"],
                        price, quantity, proposal.message)  # fmt: skip
    round_id = await rounds.record(conn, quote_id, made, now)
    await conn.execute("UPDATE quotes SET pending_counter = $2 WHERE id = $1", quote_id, round_id)
    return await seen_by(conn, quote_id, buyer_id, now)


async def _pending(conn: Conn, quote_id: int, supplier_id: int, now: datetime) -> asyncpg.Record:
    """The pending counter on the supplier's live quote (both locked), or 409."""
    rfq, quote = await _locked(conn, await quotes.owned(conn, quote_id, supplier_id),
                               Viewer(supplier_id, supplier=True))  # fmt: skip
    _check_live(rfq, quote, now)
    if quote["pending_counter"] is None:
        raise ConflictError("no counter on this quote waits for an answer",
                            code="NO_PENDING_COUNTER")  # fmt: skip
    found = await conn.fetchrow(
        "SELECT price_ticks, quantity_lots FROM quote_rounds WHERE id = $1",
        quote["pending_counter"],
    )
    assert found is not None  # rounds are never deleted
    return found  # type: ignore[no-any-return]


async def accept(
    conn: Conn, quote_id: int, supplier_id: int, spec: CommoditySpec, message: str,
    now: datetime,
) -> asyncpg.Record:  # fmt: skip
    """The quote after the supplier took the counter's terms: a new revision, `revised`."""
    terms = await _pending(conn, quote_id, supplier_id, now)
    changes = {"price": terms["price_ticks"], "quantity": terms["quantity_lots"]}
    return await quotes.revise(conn, quote_id, supplier_id, spec, changes, now,
                               action=RoundAction.ACCEPTED, message=message)  # fmt: skip


async def reject(
    conn: Conn, quote_id: int, supplier_id: int, message: str, now: datetime
) -> asyncpg.Record:
    """The quote after the supplier refused the counter: its terms and state as before."""
    await _pending(conn, quote_id, supplier_id, now)
    await rounds.by_supplier(conn, quote_id, RoundAction.REJECTED, now, message)
    return await quotes.owned(conn, quote_id, supplier_id)
