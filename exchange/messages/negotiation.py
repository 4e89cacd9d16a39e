"""Counters on a quote and its negotiation history (docs/negotiation.md, "Counters and
negotiation history")."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import NO_NUL, DecimalText, Struct

Message = Annotated[
    str,
    msgspec.Meta(
        max_length=1000,
        pattern=NO_NUL,
        description="Free text to the other side (at most 1000 characters)",
    ),
]


class RoundSide(enum.StrEnum):
    BUYER = "buyer"  # the RFQ's buyer
    SUPPLIER = "supplier"  # the quote's supplier


class RoundAction(enum.StrEnum):
    QUOTED = "quoted"  # the supplier's first offer (revision 1)
    REVISED = "revised"  # the supplier changed its terms (this also answers a pending counter)
    COUNTERED = "countered"  # the buyer proposed other terms; the supplier answers
    ACCEPTED = "accepted"  # the supplier took the counter's terms as a new revision
    REJECTED = "rejected"  # the supplier kept its terms
    WITHDRAWN = "withdrawn"  # the supplier withdrew the quote
    AWARDED = "awarded"  # the buyer awarded it (quantity: what was awarded)
    DECLINED = "declined"  # the buyer awarded the RFQ to others


class NegotiationRound(Struct, frozen=True, kw_only=True):
    participant_id: int  # who made the round
    side: RoundSide
    action: RoundAction
    revision: int  # the quote's revision the round is about (after it, for quoted/revised)
    price: str  # the terms it names: a counter's proposal, else the quote's terms
    quantity: str
    message: str
    made_at: datetime


class CounterQuote(Struct, frozen=True, kw_only=True):
    price: DecimalText | None = None  # per unit; left out: the quote's
    quantity: DecimalText | None = None  # left out: the quote's
    message: Message = ""

    def __post_init__(self) -> None:
        if self.price is None and self.quantity is None:
            raise ValueError("a counter names a price, a quantity or both")


class AnswerCounter(Struct, frozen=True, kw_only=True):
    message: Message = ""
