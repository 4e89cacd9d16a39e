"""Minimum fill quantities: no single trade below an order's minimum (unless it completes it)."""

from __future__ import annotations

from matching import OrderCancelled, TradeExecuted
from matching.types import CancelReason, OrderId
from tests.unit.matching.builders import BUY, SELL, Driver, kinds, of_type


def test_resting_order_refusing_a_small_trade_is_skipped_and_keeps_its_place() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 50, min_fill=20)
    driver.place(2, SELL, 100, 10)

    small = of_type(driver.place(3, BUY, 100, 10), TradeExecuted)
    large = of_type(driver.place(4, BUY, 100, 30), TradeExecuted)

    assert [t.maker_order_id for t in small] == [2]
    assert [(t.maker_order_id, t.quantity) for t in large] == [(1, 30)]


def test_incoming_order_never_trades_below_its_minimum() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5)
    driver.place(2, SELL, 101, 20)

    trades = of_type(driver.place(3, BUY, 101, 20, min_fill=10), TradeExecuted)

    assert [(t.maker_order_id, t.quantity) for t in trades] == [(2, 20)]
    assert driver.book.order(OrderId(1)) is not None


def test_minimum_gives_way_when_the_trade_completes_the_order() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 30, min_fill=20)
    driver.place(2, BUY, 100, 25)  # leaves 5 of order 1, below its minimum

    trades = of_type(driver.place(3, BUY, 100, 10), TradeExecuted)

    assert [(t.maker_order_id, t.quantity, t.maker_remaining) for t in trades] == [(1, 5, 0)]


def test_skipped_level_does_not_stop_matching_deeper_levels() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 50, min_fill=40)
    driver.place(2, SELL, 101, 10)

    trades = of_type(driver.place(3, BUY, 101, 10), TradeExecuted)

    assert [t.maker_order_id for t in trades] == [2]
    assert driver.book.best_ask() == 100


def test_remainder_that_would_cross_a_refusing_order_is_cancelled_not_rested() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 50, min_fill=20)

    events = driver.place(2, BUY, 100, 10)

    assert kinds(events) == ["OrderAccepted", "OrderCancelled"]
    cancelled = events[-1]
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.quantity, cancelled.reason) == (10, CancelReason.WOULD_CROSS)
    assert (driver.book.best_bid(), driver.book.best_ask()) == (None, 100)
