"""Landed cost: price plus the cheapest eligible lane's rate, exact; ranking by it."""

from __future__ import annotations

from exchange.negotiation.landed import LaneRate, landed, ranked


def test_landed_cost_takes_the_cheapest_lane_then_the_fastest():
    lanes = [LaneRate("N2", 900, 3), LaneRate("N1", 700, 5), LaneRate("N3", 700, 2)]

    cost = landed(12_000, lanes)

    assert cost.lane == LaneRate("N3", 700, 2)
    assert (cost.price_minor, cost.freight_minor, cost.landed_minor) == (12_000, 700, 12_700)


def test_no_lane_no_landed_cost():
    cost = landed(12_000, [])

    assert (cost.lane, cost.freight_minor, cost.landed_minor) == (None, None, None)


def test_ranking_is_by_landed_cost_not_price_then_by_arrival_and_undeliverable_last():
    costs = {
        1: landed(11_000, [LaneRate("A", 2_000, 1)]),  # cheapest price, dearest landed
        2: landed(12_000, [LaneRate("B", 500, 1)]),
        3: landed(12_000, [LaneRate("C", 500, 1)]),  # same landed as 2, came in first
        4: landed(9_000, []),  # no lane reaches the buyer
    }

    assert ranked(costs, {1: 1, 2: 3, 3: 2, 4: 0}) == [3, 2, 1, 4]
