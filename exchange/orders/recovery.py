"""Rebuild a book from its latest snapshot plus the journal after it."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from exchange.db import Conn
from exchange.ids import local_of
from exchange.orders import store
from exchange.reference import CommoditySpec
from matching import Book, BookConfig, Command, Event
from matching.snapshot import restore
from matching.types import CommodityId

_DECODER = msgspec.msgpack.Decoder(Command)


@dataclass(slots=True)
class LoadedBook:
    book: Book
    sequence: int  # the last journal entry applied
    snapshot_sequence: int
    next_local: int  # the next order number within the book


def new_book(commodity_id: int) -> Book:
    # Sizes are validated by the service against the commodity's current settings, so the
    # engine takes any whole number of ticks and lots and replay never depends on them.
    return Book(BookConfig(commodity=CommodityId(commodity_id)))


def replay(book: Book, commands: list[bytes]) -> int:
    """Apply journal entries to `book`; return the last sequence applied."""
    scratch: list[Event] = []
    sequence = 0
    for data in commands:
        command = _DECODER.decode(data)
        book.apply(command, scratch)
        scratch.clear()
        sequence = command.sequence
    return sequence


async def load_book(conn: Conn, spec: CommoditySpec) -> LoadedBook:
    """The book as of its last committed command."""
    snap = await store.latest_snapshot(conn, spec.id)
    if snap is None:
        book, snapshot_sequence = new_book(spec.id), 0
    else:
        snapshot_sequence, state = snap
        book = restore(state)
    sequence = snapshot_sequence
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for chunk in store.journal_after(conn, spec.id, sequence):
            sequence = replay(book, chunk)
        top = await store.max_order_id(conn, spec.id)
    next_local = 1 if top is None else local_of(top) + 1
    return LoadedBook(book, sequence, snapshot_sequence, next_local)
