"""Per-book configuration."""

from __future__ import annotations

import msgspec

from matching.types import CommodityId


class BookConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The commodity a book trades and the sizes it accepts.

    Prices are integer ticks and quantities integer lots already; ``tick_size`` and
    ``lot_size`` say which multiples of them the book accepts (1: any), ``min_quantity`` the
    smallest order, in lots, that a new order may have.
    """

    commodity: CommodityId
    tick_size: int = 1
    lot_size: int = 1
    min_quantity: int = 1

    def __post_init__(self) -> None:
        if self.tick_size < 1 or self.lot_size < 1 or self.min_quantity < 1:
            raise ValueError("tick_size, lot_size and min_quantity must be at least 1")
