"""Landed cost: what a quote costs the buyer per unit at its door (docs/negotiation.md, "RFQs").

Pure and exact: integers in minor currency units. landed = unit price + the rate per whole unit
of the cheapest eligible lane from the quote's origin to the RFQ's delivery region; ties between
lanes go to the node code that sorts first, so the same lanes always give the same answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LaneRate:
    """A node's published rate on one lane, per whole unit, in minor units."""

    node: str
    rate_minor: int
    transit_days: int


@dataclass(frozen=True, slots=True)
class Landed:
    """A quote's landed cost per unit, and the lane it assumes (None: no lane serves it)."""

    price_minor: int
    lane: LaneRate | None

    @property
    def freight_minor(self) -> int | None:
        return None if self.lane is None else self.lane.rate_minor

    @property
    def landed_minor(self) -> int | None:
        return None if self.lane is None else self.price_minor + self.lane.rate_minor


def cheapest(lanes: Iterable[LaneRate]) -> LaneRate | None:
    """The cheapest lane (then the fastest, then by node code), or None without any."""
    return min(lanes, key=lambda lane: (lane.rate_minor, lane.transit_days, lane.node),
               default=None)  # fmt: skip


def landed(price_minor: int, lanes: Iterable[LaneRate]) -> Landed:
    """The landed cost of a unit priced `price_minor` over the cheapest of `lanes`."""
    return Landed(price_minor=price_minor, lane=cheapest(lanes))


def ranked(costs: dict[int, Landed], submitted: dict[int, int]) -> list[int]:
    """Quote ids by landed cost, then by the order they came in (`submitted`: id -> sequence);
    quotes no lane can deliver come last."""
    return sorted(
        costs,
        key=lambda q: (costs[q].landed_minor is None, costs[q].landed_minor or 0, submitted[q]),
    )
