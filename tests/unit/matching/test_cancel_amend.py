"""Cancel and amend."""

from __future__ import annotations

from matching import BookLevelChanged, OrderAmended, OrderCancelled, OrderRejected, TradeExecuted
from matching.types import CancelReason, OrderId, RejectReason
from tests.unit.matching.builders import BUY, SELL, Driver, kinds, of_type


def test_cancel_removes_the_order_and_updates_its_level() -> None:
    driver = Driver()
    driver.place(1, BUY, 100, 5)
    driver.place(2, BUY, 100, 3)

    events = driver.cancel(1)

    assert kinds(events) == ["OrderCancelled", "BookLevelChanged"]
    cancelled, level = events
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.quantity, cancelled.reason) == (5, CancelReason.BY_OWNER)
    assert isinstance(level, BookLevelChanged)
    assert level.quantity == 3


def test_cancelling_the_last_order_empties_the_level() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5)
    driver.place(2, SELL, 101, 5)

    events = driver.cancel(1)

    assert of_type(events, BookLevelChanged)[0].quantity == 0
    assert driver.book.best_ask() == 101


def test_cancel_from_the_middle_of_a_queue_keeps_the_others_in_order() -> None:
    driver = Driver()
    for order_id in (1, 2, 3):
        driver.place(order_id, SELL, 100, 1)

    driver.cancel(2)
    trades = of_type(driver.place(4, BUY, 100, 2), TradeExecuted)

    assert [t.maker_order_id for t in trades] == [1, 3]


def test_cancel_of_unknown_filled_or_foreign_order_is_rejected() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5)
    driver.place(2, BUY, 100, 5)
    driver.place(3, SELL, 105, 5)

    for events in (driver.cancel(99), driver.cancel(1), driver.cancel(3, owner=4)):
        (event,) = events
        assert isinstance(event, OrderRejected)
        assert event.reason is RejectReason.UNKNOWN_ORDER
    assert driver.book.order(OrderId(3)) is not None


def test_reducing_quantity_keeps_time_priority() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 10)
    driver.place(2, SELL, 100, 10)

    events = driver.amend(1, quantity=4)
    trades = of_type(driver.place(3, BUY, 100, 4), TradeExecuted)

    assert kinds(events) == ["OrderAmended", "BookLevelChanged"]
    amended = events[0]
    assert isinstance(amended, OrderAmended)
    assert amended.priority_kept
    assert of_type(events, BookLevelChanged)[0].quantity == 14
    assert [t.maker_order_id for t in trades] == [1]


def test_increasing_quantity_loses_time_priority() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 10)
    driver.place(2, SELL, 100, 10)

    events = driver.amend(1, quantity=15)
    trades = of_type(driver.place(3, BUY, 100, 4), TradeExecuted)

    amended = of_type(events, OrderAmended)[0]
    assert not amended.priority_kept
    assert [level.quantity for level in of_type(events, BookLevelChanged)] == [25]
    assert [t.maker_order_id for t in trades] == [2]


def test_price_change_loses_priority_and_moves_the_order() -> None:
    driver = Driver()
    driver.place(1, BUY, 100, 10)
    driver.place(2, BUY, 99, 10)

    events = driver.amend(1, price=99)
    trades = of_type(driver.place(3, SELL, 99, 5), TradeExecuted)

    levels = [(level.price, level.quantity) for level in of_type(events, BookLevelChanged)]
    assert levels == [(100, 0), (99, 20)]
    assert [t.maker_order_id for t in trades] == [2]


def test_amend_to_a_crossing_price_trades_as_taker() -> None:
    driver = Driver()
    driver.place(1, SELL, 101, 4)
    driver.place(2, BUY, 100, 10)

    events = driver.amend(2, price=101)

    trades = of_type(events, TradeExecuted)
    assert [(t.maker_order_id, t.taker_order_id, t.price) for t in trades] == [(1, 2, 101)]
    resting = driver.book.order(OrderId(2))
    assert resting is not None
    assert (resting.price, resting.quantity) == (101, 6)


def test_amend_of_unknown_filled_or_foreign_order_is_rejected() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5)
    driver.place(2, BUY, 100, 5)
    driver.place(3, SELL, 105, 5)

    for events in (driver.amend(99, quantity=1), driver.amend(1, quantity=1)):
        assert [e.reason for e in events if isinstance(e, OrderRejected)] == [
            RejectReason.UNKNOWN_ORDER
        ]
    (foreign,) = driver.amend(3, quantity=1, owner=4)
    assert isinstance(foreign, OrderRejected)


def test_amend_to_an_invalid_price_or_quantity_is_rejected() -> None:
    driver = Driver(tick_size=5)
    driver.place(1, SELL, 100, 5)

    (bad_price,) = driver.amend(1, price=102)
    (bad_quantity,) = driver.amend(1, quantity=0)

    assert isinstance(bad_price, OrderRejected)
    assert bad_price.reason is RejectReason.BAD_TICK
    assert isinstance(bad_quantity, OrderRejected)
    assert bad_quantity.reason is RejectReason.BAD_LOT
