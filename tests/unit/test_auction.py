"""Reverse auctions, the pure rules: a supplier's standing (rank, best landed cost, live bids)
and the soft close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from exchange.negotiation.auction import after_bid, lowers, standing
from exchange.negotiation.landed import LaneRate, landed, ranked

CLOSES = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def test_standing_ranks_by_landed_cost_not_price_and_shows_the_best_landed_cost():
    costs = {
        1: landed(11_000, [LaneRate("A", 2_000, 1)]),  # lowest price, landed 13_000
        2: landed(12_000, [LaneRate("B", 500, 1)]),  # landed 12_500: the best
        3: landed(9_000, []),  # no lane: last
    }
    arrival = {1: 0, 2: 1, 3: 2}

    first, second, last = (standing(costs, arrival, q) for q in (2, 1, 3))

    assert (first.rank, second.rank, last.rank) == (1, 2, 3)
    assert {s.best_landed_minor for s in (first, second, last)} == {12_500}
    assert {s.live_bids for s in (first, second, last)} == {3}
    assert (second.own.price_minor, second.own.landed_minor) == (11_000, 13_000)
    assert last.own.landed_minor is None


def test_a_tie_in_landed_cost_goes_to_the_earlier_bid():
    costs = {7: landed(10_000, [LaneRate("A", 100, 1)]), 8: landed(10_000, [LaneRate("B", 100, 2)])}

    assert standing(costs, {7: 1, 8: 0}, 8).rank == 1
    assert standing(costs, {7: 1, 8: 0}, 7).rank == 2


def test_without_any_lane_there_is_no_best_landed_cost():
    place = standing({1: landed(10_000, [])}, {1: 0}, 1)

    assert (place.rank, place.best_landed_minor, place.live_bids) == (1, None, 1)


bids = st.dictionaries(
    st.integers(1, 10_000),
    st.tuples(st.integers(1, 10**9), st.none() | st.integers(0, 10**6)),
    min_size=1,
    max_size=30,
)


@given(bids)
def test_standings_agree_with_the_buyers_ranking(found):
    costs = {
        q: landed(price, [] if rate is None else [LaneRate("N", rate, 1)])
        for q, (price, rate) in found.items()
    }
    arrival = {q: n for n, q in enumerate(sorted(costs, reverse=True))}
    order = ranked(costs, arrival)
    landed_costs = [c.landed_minor for c in costs.values() if c.landed_minor is not None]

    places = {q: standing(costs, arrival, q) for q in costs}

    assert sorted(places, key=lambda q: places[q].rank) == order
    assert {p.best_landed_minor for p in places.values()} == {min(landed_costs, default=None)}
    assert {p.live_bids for p in places.values()} == {len(costs)}


def test_a_bid_before_the_last_window_leaves_the_closing():
    closing = after_bid(CLOSES, CLOSES - timedelta(minutes=5), WINDOW)

    assert (closing.closes_at, closing.extended) == (CLOSES, False)


def test_a_bid_in_the_last_window_moves_the_closing_to_now_plus_the_window():
    now = CLOSES - timedelta(minutes=2)

    closing = after_bid(CLOSES, now, WINDOW)

    assert (closing.closes_at, closing.extended) == (now + WINDOW, True)


@given(st.integers(1, 60), st.integers(0, 10**6))
def test_after_any_bid_the_closing_is_at_least_a_window_away_or_unchanged(minutes, before_ms):
    window = timedelta(minutes=minutes)
    now = CLOSES - timedelta(milliseconds=before_ms + 1)  # bids are taken before the closing

    closing = after_bid(CLOSES, now, window)

    assert closing.closes_at >= CLOSES
    assert closing.extended == (closing.closes_at != CLOSES)
    assert closing.closes_at - now >= window or not closing.extended
    assert closing.closes_at == (now + window if CLOSES - now < window else CLOSES)


def test_only_a_strictly_lower_price_undercuts():
    assert lowers(10_000, 9_999)
    assert not lowers(10_000, 10_000)
    assert not lowers(10_000, 10_001)
