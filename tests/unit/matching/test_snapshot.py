"""Snapshot and restore, determinism, and the field layout the hot path relies on."""

from __future__ import annotations

import msgspec

from matching import Book, BookConfig, Command, Event, PlaceOrder
from matching.snapshot import export_state, restore, snapshot
from matching.types import CommodityId
from tests.unit.matching.builders import BUY, SELL, Driver, random_commands

EVENTS = msgspec.msgpack.Encoder()


def run(book: Book, commands: list[Command]) -> list[Event]:
    out: list[Event] = []
    book.apply_batch(commands, out)
    return out


def fresh() -> Book:
    return Book(BookConfig(commodity=CommodityId(7)))


def test_same_commands_give_byte_identical_events() -> None:
    commands = random_commands(seed=1, count=2000)

    first = EVENTS.encode(run(fresh(), commands))
    second = EVENTS.encode(run(fresh(), commands))

    assert first == second


def test_restored_book_behaves_identically() -> None:
    commands = random_commands(seed=2, count=3000)
    original = fresh()
    run(original, commands[:1500])

    restored = restore(snapshot(original))

    assert export_state(restored) == export_state(original)
    assert EVENTS.encode(run(restored, commands[1500:])) == EVENTS.encode(
        run(original, commands[1500:])
    )
    assert export_state(restored) == export_state(original)


def test_snapshot_keeps_queue_order_and_counters() -> None:
    driver = Driver()
    driver.place(1, SELL, 100, 5)
    driver.place(2, SELL, 100, 6)
    driver.place(3, SELL, 99, 7)
    driver.place(4, BUY, 90, 1)
    driver.place(5, BUY, 99, 2)
    driver.halt()

    state = export_state(restore(snapshot(driver.book)))

    assert [order.order_id for order in state.asks] == [3, 1, 2]
    assert [order.order_id for order in state.bids] == [4]
    assert (state.sequence, state.next_trade_id, state.traded_quantity, state.halted) == (
        6,
        2,
        2,
        True,
    )


def test_place_order_field_order_is_what_the_hot_path_reads() -> None:
    assert PlaceOrder.__struct_fields__ == (
        "sequence",
        "timestamp",
        "commodity",
        "order_id",
        "owner",
        "side",
        "price",
        "quantity",
        "time_in_force",
        "min_fill",
        "expires_at",
        "region",
        "client_ref",
        "self_trade",
    )
