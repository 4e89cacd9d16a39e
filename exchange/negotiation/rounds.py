"""The negotiation history of a quote: every round kept, who made it, on which side, the terms it
names, a message and when; shown to the quote's supplier and the RFQ's buyer alike
(docs/negotiation.md, "Counters and negotiation history").

Rounds are written in the transaction of the change they record. A buyer's counter that waits
for an answer is the quote's `pending_counter`; any later round of the supplier's (revised,
accepted, rejected, withdrawn) answers it, and an award voids it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exchange.db import Conn, Queryable
from exchange.messages.negotiation import NegotiationRound, RoundAction, RoundSide
from exchange.reference import CommoditySpec


@dataclass(frozen=True, slots=True)
class Round:
    """One round, in integers: the terms are a counter's proposal, else the quote's terms."""

    participant_id: int
    side: RoundSide
    action: RoundAction
    revision: int
    price: int
    quantity: int
    message: str = ""


async def record(conn: Conn, quote_id: int, made: Round, now: datetime) -> int:
    """Keep a round; its id."""
    round_id: int = await conn.fetchval(
        """INSERT INTO quote_rounds (quote_id, participant_id, side, action, revision,
               price_ticks, quantity_lots, message, made_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
        quote_id, made.participant_id, str(made.side), str(made.action), made.revision,
        made.price, made.quantity, made.message, now,
    )  # fmt: skip
    return round_id


async def by_supplier(
    conn: Conn, quote_id: int, action: RoundAction, now: datetime, message: str = ""
) -> None:
    """Keep the supplier's round on the quote's terms as they now are; it answers (and so
    ends) a pending counter."""
    quote = await conn.fetchrow(
        "SELECT supplier_id, revision, price_ticks, quantity_lots FROM quotes WHERE id = $1",
        quote_id,
    )
    assert quote is not None  # quotes are never deleted
    made = Round(quote["supplier_id"], RoundSide.SUPPLIER, action, quote["revision"],
                 quote["price_ticks"], quote["quantity_lots"], message)  # fmt: skip
    await record(conn, quote_id, made, now)
    await conn.execute("UPDATE quotes SET pending_counter = NULL WHERE id = $1", quote_id)


async def decided(
    conn: Conn, rfq_id: int, buyer_id: int, awarded: dict[int, int], now: datetime
) -> None:
    """Keep the award's rounds (before the award marks its quotes): each live quote of the RFQ
    awarded (with the quantity awarded, `awarded`: quote id -> lots) or declined; pending
    counters are void."""
    rows = await conn.fetch(
        """SELECT id, revision, price_ticks, quantity_lots FROM quotes
            WHERE rfq_id = $1 AND status IN ('submitted', 'revised') ORDER BY id""",
        rfq_id,
    )
    for row in rows:
        action = RoundAction.AWARDED if row["id"] in awarded else RoundAction.DECLINED
        made = Round(buyer_id, RoundSide.BUYER, action, row["revision"], row["price_ticks"],
                     awarded.get(row["id"], row["quantity_lots"]))  # fmt: skip
        await record(conn, row["id"], made, now)
    await conn.execute(
        """UPDATE quotes SET pending_counter = NULL
            WHERE rfq_id = $1 AND pending_counter IS NOT NULL""",
        rfq_id,
    )


async def history(conn: Queryable, quote_id: int, spec: CommoditySpec) -> list[NegotiationRound]:
    """Every round of the quote, oldest first."""
    rows = await conn.fetch("SELECT * FROM quote_rounds WHERE quote_id = $1 ORDER BY id", quote_id)
    return [
        NegotiationRound(
            participant_id=r["participant_id"],
            side=RoundSide(r["side"]),
            action=RoundAction(r["action"]),
            revision=r["revision"],
            price=spec.price_text(r["price_ticks"]),
            quantity=spec.quantity_text(r["quantity_lots"]),
            message=r["message"],
            made_at=r["made_at"],
        )
        for r in rows
    ]
