"""Snapshot and restore of a whole book, as msgspec structs or MessagePack bytes."""

from __future__ import annotations

import msgspec

from matching.book import Book
from matching.core import BUY
from matching.levels import Order
from matching.views import BookSnapshot

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(BookSnapshot)


def export_state(book: Book) -> BookSnapshot:
    """Capture the whole state of ``book``: its orders in queue order and its counters."""
    return BookSnapshot(
        config=book.config,
        sequence=book.sequence,
        next_trade_id=book.next_trade_id,
        traded_quantity=book.traded_quantity,
        halted=book.halted,
        bids=[order.view() for order in book.bids.orders()],
        asks=[order.view() for order in book.asks.orders()],
    )


def import_state(state: BookSnapshot) -> Book:
    """Rebuild a book that behaves exactly like the one ``state`` was taken from."""
    book = Book(state.config)
    book.sequence = state.sequence
    book.next_trade_id = state.next_trade_id
    book.traded_quantity = state.traded_quantity
    book.halted = state.halted
    for view in [*state.bids, *state.asks]:
        order = Order(
            view.order_id,
            view.owner,
            view.side is BUY,
            view.price,
            view.quantity,
            view.min_fill,
            view.time_in_force,
            view.expires_at,
            view.region,
            view.client_ref,
            view.self_trade,
        )
        book.load(order)
    return book


def snapshot(book: Book) -> bytes:
    """Encode the whole state of ``book`` as MessagePack."""
    return _ENCODER.encode(export_state(book))


def restore(data: bytes) -> Book:
    """Rebuild a book from ``snapshot``'s bytes."""
    return import_state(_DECODER.decode(data))
