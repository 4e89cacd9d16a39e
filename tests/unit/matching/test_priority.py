"""Price-time priority, trade price, partial fills and level updates."""

from __future__ import annotations

from matching import BookLevelChanged, OrderAccepted, TradeExecuted
from matching.types import OrderId
from tests.unit.matching.builders import BUY, SELL, Driver, kinds, of_type


def test_resting_order_is_accepted_and_publishes_its_level() -> None:
    driver = Driver()

    events = driver.place(1, BUY, 100, 5)

    assert kinds(events) == ["OrderAccepted", "BookLevelChanged"]
    accepted = events[0]
    assert isinstance(accepted, OrderAccepted)
    assert (accepted.order_id, accepted.price, accepted.quantity) == (1, 100, 5)
    assert events[1] == BookLevelChanged(
        sequence=accepted.sequence, timestamp=accepted.timestamp, side=BUY, price=100, quantity=5
    )
    assert driver.book.best_bid() == 100
    assert driver.book.best_ask() is None


def test_better_price_trades_first_and_at_the_resting_price() -> None:
    driver = Driver()
    driver.place(1, SELL, 102, 5)
    driver.place(2, SELL, 101, 5)

    events = driver.place(3, BUY, 105, 5)

    trades = of_type(events, TradeExecuted)
    assert [(t.maker_order_id, t.price, t.quantity) for t in trades] == [(2, 101, 5)]
    assert driver.book.best_ask() == 102


def test_earlier_order_at_the_same_price_trades_first() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5)
    driver.place(2, SELL, 100, 5)

    trades = of_type(driver.place(3, BUY, 100, 7), TradeExecuted)

    assert [(t.maker_order_id, t.quantity, t.maker_remaining) for t in trades] == [
        (1, 5, 0),
        (2, 2, 3),
    ]
    assert trades[-1].taker_remaining == 0


def test_sweep_emits_one_absolute_update_per_level() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5)
    driver.place(2, SELL, 100, 5)
    driver.place(3, SELL, 101, 5)

    events = driver.place(4, BUY, 101, 12)

    levels = [(e.side, e.price, e.quantity) for e in of_type(events, BookLevelChanged)]
    assert levels == [(SELL, 100, 0), (SELL, 101, 3)]
    assert kinds(events) == [
        "OrderAccepted",
        "TradeExecuted",
        "TradeExecuted",
        "BookLevelChanged",
        "TradeExecuted",
        "BookLevelChanged",
    ]


def test_unfilled_remainder_rests_at_its_limit() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5)

    events = driver.place(2, BUY, 101, 8)

    assert of_type(events, BookLevelChanged)[-1] == BookLevelChanged(
        sequence=events[0].sequence, timestamp=events[0].timestamp, side=BUY, price=101, quantity=3
    )
    assert driver.book.best_bid() == 101
    assert driver.book.best_ask() is None
    resting = driver.book.order(OrderId(2))
    assert resting is not None
    assert resting.quantity == 3


def test_non_crossing_orders_do_not_trade() -> None:
    driver = Driver()
    driver.place(1, SELL, 101, 5)

    events = driver.place(2, BUY, 100, 5)

    assert of_type(events, TradeExecuted) == []
    assert (driver.book.best_bid(), driver.book.best_ask()) == (100, 101)


def test_trade_carries_owners_regions_and_increasing_trade_ids() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5, owner=11, region=3)
    driver.place(2, SELL, 100, 5, owner=12, region=4)

    trades = of_type(driver.place(3, BUY, 100, 10, owner=13, region=9), TradeExecuted)

    first, second = trades
    assert (first.maker_owner, first.taker_owner, first.taker_side) == (11, 13, BUY)
    assert (first.buyer_region, first.seller_region) == (9, 3)
    assert second.seller_region == 4
    assert second.trade_id == first.trade_id + 1
    assert driver.book.traded_quantity == 10


def test_sell_taker_regions_come_from_the_other_sides() -> None:
    driver = Driver()
    driver.place(1, BUY, 100, 5, region=2)

    (trade,) = of_type(driver.place(2, SELL, 99, 5, region=8), TradeExecuted)

    assert (trade.taker_side, trade.price, trade.buyer_region, trade.seller_region) == (
        SELL,
        100,
        2,
        8,
    )
