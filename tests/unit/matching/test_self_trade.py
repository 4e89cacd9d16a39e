"""Self-trade prevention: a participant never trades with itself."""

from __future__ import annotations

from matching import OrderCancelled, TradeExecuted
from matching.types import CancelReason, OrderId
from tests.unit.matching.builders import BUY, SELL, Driver, SelfTradePrevention, of_type


def test_default_cancels_the_resting_order_and_keeps_matching() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5, owner=7)
    driver.place(2, SELL, 100, 5, owner=8)

    events = driver.place(3, BUY, 100, 5, owner=7)

    assert [(c.order_id, c.reason) for c in of_type(events, OrderCancelled)] == [
        (1, CancelReason.SELF_TRADE)
    ]
    assert [t.maker_order_id for t in of_type(events, TradeExecuted)] == [2]
    assert driver.book.order(OrderId(1)) is None


def test_cancel_incoming_keeps_the_resting_order() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5, owner=8)
    driver.place(2, SELL, 100, 5, owner=7)
    driver.place(3, SELL, 100, 5, owner=8)

    events = driver.place(4, BUY, 100, 10, owner=7, self_trade=SelfTradePrevention.CANCEL_INCOMING)

    assert [t.maker_order_id for t in of_type(events, TradeExecuted)] == [1]
    assert [(c.order_id, c.quantity) for c in of_type(events, OrderCancelled)] == [(4, 5)]
    assert driver.book.order(OrderId(2)) is not None
    assert driver.book.order(OrderId(4)) is None


def test_cancel_both_cancels_resting_and_incoming() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5, owner=7)

    events = driver.place(2, BUY, 100, 5, owner=7, self_trade=SelfTradePrevention.CANCEL_BOTH)

    assert [c.order_id for c in of_type(events, OrderCancelled)] == [1, 2]
    assert driver.book.best_ask() is None
    assert driver.book.best_bid() is None


def test_own_orders_that_would_not_cross_are_left_alone() -> None:
    driver = Driver()
    driver.place(1, SELL, 101, 5, owner=7)

    events = driver.place(2, BUY, 100, 5, owner=7)

    assert of_type(events, OrderCancelled) == []
