"""Queries: best prices, depth, orders by id and by owner."""

from __future__ import annotations

from matching import OpenOrder, PriceLevel
from matching.types import OrderId, ParticipantId, RegionId, SelfTradePrevention
from tests.unit.matching.builders import BUY, SELL, Driver, TimeInForce


def test_depth_lists_levels_best_first_up_to_the_limit() -> None:
    driver = Driver()
    for order_id, side, price, quantity in [
        (1, BUY, 98, 1),
        (2, BUY, 99, 2),
        (3, BUY, 99, 3),
        (4, BUY, 97, 4),
        (5, SELL, 101, 5),
        (6, SELL, 102, 6),
    ]:
        driver.place(order_id, side, price, quantity)

    depth = driver.book.depth(2)

    assert depth.bids == [
        PriceLevel(price=99, quantity=5, orders=2),
        PriceLevel(price=98, quantity=1, orders=1),
    ]
    assert depth.asks == [
        PriceLevel(price=101, quantity=5, orders=1),
        PriceLevel(price=102, quantity=6, orders=1),
    ]
    assert (driver.book.best_bid(), driver.book.best_ask()) == (99, 101)


def test_order_by_id_shows_its_open_quantity() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 10, owner=3, region=5, client_ref="abc", min_fill=2)
    driver.place(2, BUY, 100, 4)

    assert driver.book.order(OrderId(1)) == OpenOrder(
        order_id=OrderId(1),
        owner=ParticipantId(3),
        side=SELL,
        price=100,
        quantity=6,
        time_in_force=TimeInForce.GTC,
        min_fill=2,
        expires_at=None,
        region=RegionId(5),
        client_ref="abc",
        self_trade=SelfTradePrevention.CANCEL_RESTING,
    )
    assert driver.book.order(OrderId(2)) is None


def test_open_orders_of_a_participant() -> None:
    driver = Driver()
    driver.place(3, SELL, 105, 1, owner=1)
    driver.place(2, BUY, 95, 1, owner=2)
    driver.place(1, BUY, 96, 1, owner=1)

    mine = driver.book.open_orders(ParticipantId(1))

    assert [order.order_id for order in mine] == [1, 3]
