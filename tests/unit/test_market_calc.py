"""Exact market arithmetic and the committed L2 view."""

from datetime import UTC, datetime, timedelta

import pytest

from exchange.market.calc import ceil_time, floor_time, vwap_minor
from exchange.market.feed import LevelUpdate
from exchange.market.l2 import BookView
from exchange.messages.orders import Side
from exchange.units import round_half_up


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(10, 4, 3), (9, 4, 2), (11, 4, 3), (0, 7, 0), (7, 7, 1), (301, 3, 100), (302, 3, 101)],
)
def test_round_half_up(numerator, denominator, expected):
    assert round_half_up(numerator, denominator) == expected


def test_vwap_is_exact_and_rounds_half_up_to_the_minor_unit():
    # 1 lot at 400001 and 1 lot at 400002 (tick = 1 minor unit): 400001.5 -> 400002
    assert vwap_minor(400001 + 400002, 2, 1) == 400002
    # tick 50 minor units: (8000*2 + 7990*1 + 8010*4 + 8020*10) * 50 / 17 = 400676.47
    assert vwap_minor(136230, 17, 50) == 400676


def test_time_buckets_count_from_the_epoch_in_utc():
    moment = datetime(2024, 3, 1, 10, 7, 30, 5, tzinfo=UTC)

    assert floor_time(moment, timedelta(minutes=1)) == datetime(2024, 3, 1, 10, 7, tzinfo=UTC)
    assert floor_time(moment, timedelta(days=1)) == datetime(2024, 3, 1, tzinfo=UTC)
    assert ceil_time(moment, timedelta(hours=1)) == datetime(2024, 3, 1, 11, tzinfo=UTC)
    assert ceil_time(datetime(2024, 3, 1, tzinfo=UTC), timedelta(days=1)) == datetime(
        2024, 3, 1, tzinfo=UTC
    )


def test_book_view_applies_absolute_levels_and_keeps_the_sequence():
    view = BookView(3, bids=[(100, 5), (99, 1)], asks=[(101, 2)])

    view.apply(
        7,
        [
            LevelUpdate(Side.BUY, 100, 0),
            LevelUpdate(Side.BUY, 98, 4),
            LevelUpdate(Side.SELL, 101, 6),
            LevelUpdate(Side.SELL, 103, 1),
            LevelUpdate(Side.SELL, 103, 2),
        ],
    )

    assert view.sequence == 7
    assert view.depth() == ([(99, 1), (98, 4)], [(101, 6), (103, 2)])
    assert view.depth(1) == ([(99, 1)], [(101, 6)])
    assert (view.best_bid(), view.best_ask()) == (99, 101)
    assert BookView().depth() == ([], [])
    assert (BookView().best_bid(), BookView().best_ask()) == (None, None)
