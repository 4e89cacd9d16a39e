"""Outcomes of delivery on the wire: acceptance, shortage, claims, ratings, credit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.messages.common import NO_NUL, DecimalText, PageQuery, Struct
from exchange.messages.contracts import Contract

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000, pattern=NO_NUL)]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class ShortageChoice(enum.StrEnum):
    PRO_RATA = "pro_rata"
    BACKORDER = "backorder"


class SettleShortage(Struct, frozen=True, kw_only=True):
    """The buyer's choice for a short delivery: pro rata now, or a backorder of the rest
    delivered by `by`."""

    settle: ShortageChoice
    by: datetime | None = None

    def __post_init__(self) -> None:
        if self.settle is ShortageChoice.BACKORDER and self.by is None:
            raise ValueError("a backorder needs `by`, the time the rest is due")
        if self.settle is ShortageChoice.PRO_RATA and self.by is not None:
            raise ValueError("`by` is for a backorder only")
        if self.by is not None and self.by.tzinfo is None:
            raise ValueError("`by` needs a time zone (RFC 3339)")


class ClaimKind(enum.StrEnum):
    QUANTITY = "quantity"
    QUALITY = "quality"
    DAMAGE = "damage"


class OpenClaim(Struct, frozen=True, kw_only=True):
    kind: ClaimKind
    amount: DecimalText  # what the buyer claims back, at most the contract's amount
    description: Text
    evidence: Annotated[list[Sha256], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )


class AnswerClaim(Struct, frozen=True, kw_only=True):
    answer: Text


class Resolution(enum.StrEnum):
    RELEASE_FULL = "release_full"  # the claim fails: escrow to the supplier
    REFUND_PART = "refund_part"  # `amount` back to the buyer, the rest to the supplier
    REFUND_ALL = "refund_all"  # the whole escrow back to the buyer


class ResolveClaim(Struct, frozen=True, kw_only=True):
    resolution: Resolution
    reason: Text
    amount: DecimalText | None = None

    def __post_init__(self) -> None:
        if (self.resolution is Resolution.REFUND_PART) != (self.amount is not None):
            raise ValueError("`amount` goes with refund_part, and only with it")


class ClaimStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    RESOLVED = "resolved"


class Claim(Struct, frozen=True, kw_only=True):
    id: int
    contract_id: int
    kind: ClaimKind
    amount: str
    currency: str
    description: str
    evidence: list[str]
    status: ClaimStatus
    answer: str | None
    answered_at: datetime | None
    resolution: Resolution | None
    refunded: str | None  # what the resolution sent back to the buyer
    reason: str | None
    resolved_by: int | None
    opened_at: datetime
    resolved_at: datetime | None


class ClaimQuery(PageQuery, frozen=True, kw_only=True):
    status: ClaimStatus | None = None


class ClaimOutcome(Struct, frozen=True, kw_only=True):
    claim: Claim
    contract: Contract


class RateCounterparty(Struct, frozen=True, kw_only=True):
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=2000, pattern=NO_NUL)] = ""


class Rating(Struct, frozen=True, kw_only=True):
    contract_id: int
    rater_id: int
    ratee_id: int
    score: int
    comment: str
    rated_at: datetime


class CreditComponent(Struct, frozen=True, kw_only=True):
    """One figure of a credit profile: its value (0 to 1, null without a record), its weight
    in the score, and the contracts behind it, by what they count as."""

    name: str
    weight: int
    value: str | None
    basis: int  # how many contracts the value is taken over
    contracts: dict[str, list[int]]


class CreditProfile(Struct, frozen=True, kw_only=True):
    participant_id: int
    score: int | None  # 0 to 100; null: no record yet
    components: list[CreditComponent]
    average_rating: str | None
    formula: str
