"""A participant's credit profile, computed from its record (docs/delivery.md, "Credit"):
how it paid as a buyer, how it delivered as a supplier, the claims upheld against it and the
ratings it received; each component a value from 0 to 1 with a weight and the contracts behind
it, and a score from 0 to 100:

    score = round_half_up(100 x sum(weight x value) / sum(weight))

over the components that have a record (basis > 0); with none at all the score is null.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from exchange.contracts.terms import parse
from exchange.db import Queryable
from exchange.messages.outcomes import CreditComponent, CreditProfile
from exchange.payments.views import payment_record
from exchange.units import QUANTITY_SCALE, format_scaled, parse_scaled, round_half_up

WEIGHTS = {"payments": 30, "deliveries": 25, "shortages": 15, "claims": 15, "ratings": 15}
FORMULA = (
    "score = round half up of 100 x sum(weight x value) / sum(weight), over the components"
    " with a record (basis > 0); null without any. payments = (on_time + late / 2) / paid or"
    " defaulted, as buyer; deliveries = complete_on_time / delivered, shortages = 1 - short /"
    " delivered, claims = 1 - upheld / delivered, as supplier; ratings = (average - 1) / 4"
)

_DELIVERED = """SELECT id, terms, delivered_at, delivery_due_at, delivered_quantity_micro,
       shortage_settlement
  FROM contracts WHERE seller_id = $1 AND delivered_at IS NOT NULL ORDER BY signed_at, id"""
_UPHELD = """SELECT cl.contract_id FROM claims cl
  JOIN contracts c ON c.commodity_id = cl.commodity_id AND c.id = cl.contract_id
 WHERE c.seller_id = $1 AND cl.resolution IN ('refund_part', 'refund_all')
 ORDER BY cl.contract_id"""
_RATINGS = "SELECT contract_id, score FROM ratings WHERE ratee_id = $1 ORDER BY contract_id"


@dataclass(frozen=True, slots=True)
class Figure:
    """A component before it goes on the wire."""

    name: str
    value: Fraction | None
    basis: int
    contracts: dict[str, list[int]]

    @property
    def weight(self) -> int:
        return WEIGHTS[self.name]


def _ratio(good: Fraction | int, basis: int) -> Fraction | None:
    return Fraction(good) / basis if basis else None


def _decimal(value: Fraction, places: int = 4) -> str:
    return format_scaled(round_half_up(value.numerator * 10**places, value.denominator), places)


def score_of(figures: Iterable[Figure]) -> int | None:
    """The score from the components with a record; None without any."""
    counted = [(f.weight, f.value) for f in figures if f.value is not None]
    total = sum(weight for weight, _ in counted)
    if not total:
        return None
    weighted = sum((weight * value for weight, value in counted), Fraction(0)) * 100 / total
    return round_half_up(weighted.numerator, weighted.denominator)


async def _payments(conn: Queryable, pid: int) -> Figure:
    kinds = await payment_record(conn, pid)
    basis = sum(len(ids) for ids in kinds.values())
    good = Fraction(len(kinds["on_time"])) + Fraction(len(kinds["late"]), 2)
    return Figure("payments", _ratio(good, basis), basis, kinds)


async def _deliveries(conn: Queryable, pid: int) -> tuple[Figure, Figure, list[int]]:
    on_time: list[int] = []
    late: list[int] = []
    short: list[int] = []
    delivered: list[int] = []
    for row in await conn.fetch(_DELIVERED, pid):
        delivered.append(row["id"])
        quantity = parse_scaled(parse(row["terms"]).quantity, QUANTITY_SCALE)
        due = row["delivery_due_at"]
        if due is not None and row["delivered_at"] > due:
            late.append(row["id"])
        full = (row["delivered_quantity_micro"] or 0) >= quantity
        if not full or row["shortage_settlement"] is not None:
            short.append(row["id"])
        elif row["id"] not in late:
            on_time.append(row["id"])
    basis = len(delivered)
    deliveries = Figure(
        "deliveries", _ratio(len(on_time), basis), basis,
        {"complete_on_time": on_time, "late": late, "delivered": delivered},
    )  # fmt: skip
    shortages = Figure("shortages", _ratio(basis - len(short), basis), basis, {"short": short})
    return deliveries, shortages, delivered


async def credit_profile(conn: Queryable, pid: int) -> CreditProfile:
    """The participant's credit profile (it must exist)."""
    deliveries, shortages, delivered = await _deliveries(conn, pid)
    upheld = [row["contract_id"] for row in await conn.fetch(_UPHELD, pid)]
    basis = len(delivered)
    claims = Figure("claims", _ratio(basis - len(upheld), basis) if basis else None, basis,
                    {"upheld": upheld})  # fmt: skip
    ratings = await conn.fetch(_RATINGS, pid)
    average = _ratio(sum(r["score"] for r in ratings), len(ratings))
    rated = Figure(
        "ratings", (average - 1) / 4 if average is not None else None, len(ratings),
        {"rated": [r["contract_id"] for r in ratings]},
    )  # fmt: skip
    figures = [await _payments(conn, pid), deliveries, shortages, claims, rated]
    return CreditProfile(
        participant_id=pid,
        score=score_of(figures),
        components=[
            CreditComponent(
                name=f.name,
                weight=f.weight,
                basis=f.basis,
                contracts=f.contracts,
                value=_decimal(f.value) if f.value is not None else None,
            )
            for f in figures
        ],
        average_rating=_decimal(average, 2) if average is not None else None,
        formula=FORMULA,
    )


async def credit_score(conn: Queryable, pid: int) -> int | None:
    """Just the score (where a counterparty is shown)."""
    return (await credit_profile(conn, pid)).score
