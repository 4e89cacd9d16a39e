"""Reverse auctions, the pure rules (docs/negotiation.md, "Sealed quotes and reverse auctions").

No I/O and no clock: times and bids come in as arguments. A supplier's standing is its rank
among the live bids by landed cost, then time of bid (exactly `landed.ranked`, the buyer's
comparison order), the best landed cost among them and how many there are; never who bids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from exchange.negotiation.landed import Landed, ranked

SOFT_CLOSE_DEFAULT = 5  # minutes
SOFT_CLOSE_MAX = 60


@dataclass(frozen=True, slots=True)
class Standing:
    """One supplier's place in a reverse auction."""

    rank: int  # 1 = the lowest landed cost
    best_landed_minor: int | None  # the lowest landed cost of any live bid; None: no lane
    live_bids: int
    own: Landed  # the supplier's own bid


@dataclass(frozen=True, slots=True)
class Closing:
    """Where a reverse auction's closing stands after a bid."""

    closes_at: datetime
    extended: bool


def standing(costs: Mapping[int, Landed], arrival: Mapping[int, int], own: int) -> Standing:
    """The standing of bid `own` among the live bids `costs` (quote id -> landed cost), ranked
    by landed cost, then by `arrival` (quote id -> order of the latest bid)."""
    order = ranked(dict(costs), dict(arrival))
    landed = [c.landed_minor for c in costs.values() if c.landed_minor is not None]
    return Standing(
        rank=order.index(own) + 1,
        best_landed_minor=min(landed, default=None),
        live_bids=len(order),
        own=costs[own],
    )


def after_bid(closes_at: datetime, now: datetime, window: timedelta) -> Closing:
    """The closing after a bid at `now`: a bid within the last `window` before `closes_at`
    moves the closing to `now + window`; an earlier bid leaves it."""
    if closes_at - now < window:
        return Closing(closes_at=now + window, extended=True)
    return Closing(closes_at=closes_at, extended=False)


def lowers(current_price: int, new_price: int) -> bool:
    """Whether a revised bid undercuts the supplier's current one (strictly lower price)."""
    return new_price < current_price
