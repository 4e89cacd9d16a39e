"""Auto-award (exchange/negotiation/autoaward.py): fills by landed cost, then time of quote,
never beyond the RFQ's or a quote's quantity, every line at least the minimum per supplier."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exchange.negotiation.autoaward import Candidate, allocate, least
from exchange.negotiation.landed import Landed, LaneRate, landed, ranked


def quote(quote_id: int, price: int, freight: int | None, arrival: int, quantity: int):
    lanes = [] if freight is None else [LaneRate("N", freight, 1)]
    return Candidate(quote_id, landed(price, lanes), arrival, quantity)


def test_the_cheapest_landed_cost_fills_first_not_the_lowest_price():
    found = [quote(1, 100, 30, 0, 60), quote(2, 110, 4, 1, 60), quote(3, 90, None, 2, 60)]

    assert allocate(100, 10, found) == [(2, 60), (1, 40)]


def test_equal_landed_cost_goes_to_the_quote_that_came_first():
    found = [quote(1, 100, 10, 5, 50), quote(2, 100, 10, 3, 50), quote(3, 105, 5, 4, 50)]

    assert allocate(60, 10, found) == [(2, 50), (3, 10)]


def test_a_quote_that_would_get_less_than_the_minimum_is_passed_over_for_a_smaller_one():
    # 80 wanted, minimum 30: after 60 from quote 1, 20 are left; quote 2 (offers 50) would
    # get 20 < 30 and is passed over; quote 3 offers only 20, its whole quantity fits
    found = [quote(1, 100, 0, 0, 60), quote(2, 101, 0, 1, 50), quote(3, 102, 0, 2, 20)]

    assert allocate(80, 30, found) == [(1, 60), (3, 20)]


def test_nothing_acceptable_nothing_awarded():
    assert allocate(100, 10, []) == []
    assert allocate(5, 10, [quote(1, 100, 1, 0, 50)]) == []


candidates = st.lists(
    st.builds(
        lambda price, freight, arrival, quantity: (price, freight, arrival, quantity),
        st.integers(1, 1_000),
        st.one_of(st.none(), st.integers(0, 300)),
        st.integers(0, 1_000),
        st.integers(1, 200),
    ),
    max_size=12,
)


@given(wanted=st.integers(1, 500), minimum=st.integers(1, 200), found=candidates)
def test_allocation_properties(wanted, minimum, found):
    pool = [quote(i, p, f, a, q) for i, (p, f, a, q) in enumerate(found, start=1)]
    by_id = {c.quote_id: c for c in pool}

    lines = allocate(wanted, minimum, pool)

    assert sum(lots for _, lots in lines) <= wanted
    assert len({q for q, _ in lines}) == len(lines)
    for quote_id, lots in lines:
        offered = by_id[quote_id].quantity
        assert least(minimum, offered) <= lots <= offered
    # the lines follow the comparison's order (landed cost, then time of quote)
    costs: dict[int, Landed] = {c.quote_id: c.cost for c in pool}
    order = ranked(costs, {c.quote_id: c.arrival for c in pool})
    chosen = [q for q, _ in lines]
    assert chosen == [q for q in order if q in chosen]
    # greedy: every quote passed over could not have had its least line from what is left
    left = wanted - sum(lots for _, lots in lines)
    for c in pool:
        if c.quote_id not in chosen:
            assert left == 0 or least(minimum, c.quantity) > left
    # every line but the last takes the whole quote
    for quote_id, lots in lines[:-1]:
        assert lots == by_id[quote_id].quantity
