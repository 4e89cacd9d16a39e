"""Orders and levels are invisible to the cycle collector when compiled: books must free them."""

from __future__ import annotations

import gc
import tracemalloc

from matching import Book, BookConfig, Command, Event
from matching.types import CommodityId
from tests.unit.matching.builders import BUY, SELL, Driver


def resting_orders(count: int) -> list[Command]:
    """Commands that leave ``count`` orders resting, several per level on both sides."""
    driver = Driver()
    commands: list[Command] = []
    for order_id in range(1, count + 1):
        is_buy = order_id % 2 == 0
        price = (100 if is_buy else 200) + order_id % 7
        commands.append(driver.place_command(order_id, BUY if is_buy else SELL, price, 3))
    return commands


def fill_and_drop(commands: list[Command]) -> None:
    book = Book(BookConfig(commodity=CommodityId(7)))
    out: list[Event] = []
    book.apply_batch(commands, out)
    assert len(book.depth(20).bids) == 7
    del book


def test_dropping_a_populated_book_frees_its_orders() -> None:
    commands = resting_orders(3000)
    fill_and_drop(commands)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            fill_and_drop(commands)
        gc.collect()
        leaked = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert leaked < 100_000, f"{leaked} bytes still allocated after dropping the books"
