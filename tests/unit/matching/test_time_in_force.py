"""IOC, FOK and GTD."""

from __future__ import annotations

from matching import OrderCancelled, OrderRejected, TradeExecuted
from matching.types import CancelReason, RejectReason
from tests.unit.matching.builders import BUY, SELL, T0, Driver, TimeInForce, kinds, of_type

IOC = TimeInForce.IOC
FOK = TimeInForce.FOK
GTD = TimeInForce.GTD


def test_ioc_fills_what_it_can_and_cancels_the_rest() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 4)

    events = driver.place(2, BUY, 100, 10, time_in_force=IOC)

    assert kinds(events) == ["OrderAccepted", "TradeExecuted", "BookLevelChanged", "OrderCancelled"]
    cancelled = events[-1]
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.quantity, cancelled.reason) == (6, CancelReason.IOC_REMAINDER)
    assert driver.book.best_bid() is None


def test_ioc_that_fills_completely_is_not_cancelled() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 10)

    events = driver.place(2, BUY, 100, 10, time_in_force=IOC)

    assert of_type(events, OrderCancelled) == []


def test_fok_that_cannot_fill_completely_does_nothing() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 4)
    driver.place(2, SELL, 102, 4)

    events = driver.place(3, BUY, 101, 5, time_in_force=FOK)

    assert len(events) == 1
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason is RejectReason.FOK_NOT_FILLABLE
    level = driver.book.depth(1).asks[0]
    assert (level.price, level.quantity) == (100, 4)


def test_fok_fills_across_levels_when_it_can() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 4)
    driver.place(2, SELL, 101, 4)

    events = driver.place(3, BUY, 101, 8, time_in_force=FOK)

    assert sum(t.quantity for t in of_type(events, TradeExecuted)) == 8
    assert driver.book.best_ask() is None


def test_fok_counts_only_what_minimum_fills_allow() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 10, min_fill=10)

    events = driver.place(2, BUY, 100, 5, time_in_force=FOK)

    assert isinstance(events[0], OrderRejected)


def test_fok_does_not_count_own_orders() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5, owner=9)
    driver.place(2, SELL, 100, 5, owner=8)

    rejected = driver.place(3, BUY, 100, 10, owner=9, time_in_force=FOK)
    filled = driver.place(4, BUY, 100, 5, owner=9, time_in_force=FOK)

    assert isinstance(rejected[0], OrderRejected)
    assert [t.maker_order_id for t in of_type(filled, TradeExecuted)] == [2]
    assert [c.order_id for c in of_type(filled, OrderCancelled)] == [1]


def test_gtd_order_expires_when_its_time_has_come() -> None:
    driver = Driver()
    driver.place(1, BUY, 100, 5, time_in_force=GTD, expires_at=T0 + 10**9)
    driver.place(2, BUY, 100, 3, time_in_force=GTD, expires_at=T0 + 2 * 10**9)
    driver.place(3, BUY, 100, 2)

    early = driver.expire(T0 + 10**9 - 1)
    due = driver.expire(T0 + 10**9)

    assert early == []
    assert kinds(due) == ["OrderCancelled", "BookLevelChanged"]
    cancelled = due[0]
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.order_id, cancelled.quantity, cancelled.reason) == (
        1,
        5,
        CancelReason.EXPIRED,
    )
    assert driver.book.depth(1).bids[0].quantity == 5


def test_expiry_emits_one_level_update_per_level() -> None:
    driver = Driver()
    for order_id in (1, 2, 3):
        driver.place(order_id, SELL, 100, 1, time_in_force=GTD, expires_at=T0 + 10**9)

    events = driver.expire(T0 + 10**10)

    assert kinds(events) == ["OrderCancelled"] * 3 + ["BookLevelChanged"]
    assert driver.book.best_ask() is None


def test_filled_or_cancelled_gtd_orders_are_not_expired_again() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5, time_in_force=GTD, expires_at=T0 + 10**9)
    driver.place(2, SELL, 101, 5, time_in_force=GTD, expires_at=T0 + 10**9)
    driver.place(3, BUY, 100, 5)
    driver.cancel(2)

    assert driver.expire(T0 + 10**10) == []
