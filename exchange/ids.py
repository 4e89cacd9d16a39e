"""Ids that carry their commodity: `commodity_id << 40 | number within the commodity`.

Orders, trades and contracts are numbered per commodity (per book, per chain) without any
coordination between commodities, and every table that belongs to a book finds its rows (and,
distributed, its shard) from the id alone."""

from __future__ import annotations

ID_BITS = 40  # ids are commodity_id << 40 | number within the book: unique without coordination


def global_id(commodity_id: int, local: int) -> int:
    return (commodity_id << ID_BITS) | local


def commodity_of(an_id: int) -> int:
    return an_id >> ID_BITS


def local_of(an_id: int) -> int:
    """The number within its commodity."""
    return an_id & ((1 << ID_BITS) - 1)
