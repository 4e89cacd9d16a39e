"""The committed L2 view: per book, the open quantity at each price as of the last batch."""

from __future__ import annotations

from collections.abc import Iterable

from sortedcontainers import SortedDict  # type: ignore[import-untyped]

from exchange.market.feed import LevelUpdate
from exchange.messages.orders import Side


class BookView:
    """Aggregated depth of one book at journal `sequence` (prices in ticks, quantities in lots)."""

    __slots__ = ("asks", "bids", "sequence")

    def __init__(
        self,
        sequence: int = 0,
        bids: Iterable[tuple[int, int]] = (),
        asks: Iterable[tuple[int, int]] = (),
    ) -> None:
        self.sequence = sequence
        self.bids: SortedDict = SortedDict((p, q) for p, q in bids if q > 0)
        self.asks: SortedDict = SortedDict((p, q) for p, q in asks if q > 0)

    def apply(self, sequence: int, levels: Iterable[LevelUpdate]) -> None:
        """Set each level's absolute quantity (0 removes it); the view is now at `sequence`."""
        for level in levels:
            side = self.bids if level.side is Side.BUY else self.asks
            if level.quantity_lots > 0:
                side[level.price_ticks] = level.quantity_lots
            else:
                side.pop(level.price_ticks, None)
        self.sequence = sequence

    def depth(
        self, levels: int | None = None
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids best first, asks best first), at most `levels` per side."""
        n_bids = len(self.bids) if levels is None else min(levels, len(self.bids))
        n_asks = len(self.asks) if levels is None else min(levels, len(self.asks))
        bids = [self.bids.peekitem(-1 - i) for i in range(n_bids)]
        asks = [self.asks.peekitem(i) for i in range(n_asks)]
        return bids, asks

    def best_bid(self) -> int | None:
        return self.bids.peekitem(-1)[0] if self.bids else None

    def best_ask(self) -> int | None:
        return self.asks.peekitem(0)[0] if self.asks else None
