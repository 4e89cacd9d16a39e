"""Auto-award: how the center fills an `auto` RFQ at closing (docs/negotiation.md, "Closing,
auto-award and the rfqs channel").

Pure and exact (integers: lots, minor units). The quotes are taken in the comparison's order
(`landed.ranked`: landed cost, then time of quote, quotes no lane reaches last); each gets as
much as it offers, up to what is still wanted. A quote that cannot get at least the RFQ's
minimum per supplier (or its whole quantity, if it offers less) from what is left is passed
over, and a later, smaller one may still fit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exchange.negotiation.landed import Landed, ranked


@dataclass(frozen=True, slots=True)
class Candidate:
    """A live quote of an acceptable supplier: its landed cost, arrival order and quantity."""

    quote_id: int
    cost: Landed
    arrival: int  # smaller: came in (or was last revised) earlier
    quantity: int  # lots


def least(minimum: int, quantity: int) -> int:
    """The least one line may award a quote offering `quantity` under the RFQ's `minimum`."""
    return min(minimum, quantity)


def allocate(wanted: int, minimum: int, candidates: Iterable[Candidate]) -> list[tuple[int, int]]:
    """(quote id, lots) lines filling at most `wanted` lots, best landed cost first."""
    by_id = {c.quote_id: c for c in candidates}
    order = ranked({q: c.cost for q, c in by_id.items()}, {q: c.arrival for q, c in by_id.items()})
    lines: list[tuple[int, int]] = []
    left = wanted
    for quote_id in order:
        if left <= 0:
            break
        offered = by_id[quote_id].quantity
        take = min(offered, left)
        if take < least(minimum, offered):
            continue
        lines.append((quote_id, take))
        left -= take
    return lines
