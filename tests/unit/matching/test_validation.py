"""Rejections: every refusal is an event with a stable reason, and changes nothing."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from matching import OrderRejected, PlaceOrder
from matching.types import CommodityId, OrderId, ParticipantId, RejectReason, Sequence, Timestamp
from tests.unit.matching.builders import BUY, SELL, T0, Driver, TimeInForce


@pytest.mark.parametrize(
    ("price", "quantity", "extra", "reason"),
    [
        (0, 10, {}, RejectReason.BAD_TICK),
        (-5, 10, {}, RejectReason.BAD_TICK),
        (101, 10, {}, RejectReason.BAD_TICK),  # tick size 2
        (100, 0, {}, RejectReason.BAD_LOT),
        (100, 12, {}, RejectReason.BAD_LOT),  # lot size 5
        (100, 5, {}, RejectReason.BELOW_MINIMUM),  # minimum 10
        (100, 10, {"min_fill": 11}, RejectReason.BAD_MIN_FILL),
        (100, 10, {"min_fill": -1}, RejectReason.BAD_MIN_FILL),
        (100, 10, {"time_in_force": TimeInForce.GTD}, RejectReason.BAD_EXPIRY),
        (100, 10, {"expires_at": T0 + 10**12}, RejectReason.BAD_EXPIRY),
        (100, 10, {"time_in_force": TimeInForce.GTD, "expires_at": T0}, RejectReason.BAD_EXPIRY),
    ],
)
def test_invalid_orders_are_rejected_with_their_reason(
    price: int, quantity: int, extra: dict[str, Any], reason: RejectReason
) -> None:
    driver = Driver(tick_size=2, lot_size=5, min_quantity=10)

    events = driver.place(1, BUY, price, quantity, **extra)

    assert len(events) == 1
    assert isinstance(events[0], OrderRejected)
    assert events[0].reason is reason
    assert driver.book.order(OrderId(1)) is None


def test_order_for_another_commodity_is_rejected() -> None:
    driver = Driver()
    command = PlaceOrder(
        sequence=Sequence(1),
        timestamp=Timestamp(T0),
        commodity=CommodityId(999),
        order_id=OrderId(1),
        owner=ParticipantId(1),
        side=BUY,
        price=100,
        quantity=1,
    )

    (event,) = driver.run(command)

    assert isinstance(event, OrderRejected)
    assert event.reason is RejectReason.UNKNOWN_COMMODITY


def test_duplicate_open_order_id_is_rejected() -> None:
    driver = Driver()
    driver.place(1, BUY, 100, 5)

    (event,) = driver.place(1, SELL, 200, 5)

    assert isinstance(event, OrderRejected)
    assert event.reason is RejectReason.DUPLICATE_ORDER_ID


def test_halted_book_rejects_orders_and_amends_but_allows_cancels() -> None:
    driver = Driver()
    driver.place(1, BUY, 100, 5)

    assert [type(e).__name__ for e in driver.halt()] == ["BookHalted"]
    placed = driver.place(2, SELL, 100, 5)
    amended = driver.amend(1, quantity=2)
    cancelled = driver.cancel(1)

    assert [e.reason for e in placed if isinstance(e, OrderRejected)] == [RejectReason.HALTED]
    assert [e.reason for e in amended if isinstance(e, OrderRejected)] == [RejectReason.HALTED]
    assert [type(e).__name__ for e in cancelled] == ["OrderCancelled", "BookLevelChanged"]


def test_resumed_book_accepts_orders_again() -> None:
    driver = Driver()
    driver.halt()

    assert [type(e).__name__ for e in driver.resume()] == ["BookResumed"]
    events = driver.place(1, BUY, 100, 5)

    assert [type(e).__name__ for e in events] == ["OrderAccepted", "BookLevelChanged"]


def test_book_commands_record_the_sequence() -> None:
    driver = Driver()

    driver.halt()
    driver.resume()

    assert driver.book.sequence == 2


def test_plain_strings_instead_of_enum_members_are_a_programming_error() -> None:
    driver = Driver()
    command = driver.place_command(1, BUY, 100, 5)
    raw = msgspec.structs.replace(command, side="buy")

    with pytest.raises(TypeError, match="enum members"):
        driver.run(raw)
