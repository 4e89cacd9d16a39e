"""What the book writers hand to market information after each committed batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from exchange.messages.contracts import Contract
from exchange.messages.orders import Fill, Order, PublicTrade, Side
from exchange.reference import CommoditySpec


@dataclass(frozen=True, slots=True)
class LevelUpdate:
    """The open quantity at one price level is now `quantity` lots (0: the level is gone)."""

    side: Side
    price_ticks: int
    quantity_lots: int


@dataclass(slots=True)
class CommittedBatch:
    """Everything one group commit of a book changed, in journal order.

    `sequence` is the journal sequence of the last command in the batch; the L2 view of the
    book after applying `levels` is exactly the book's state at that sequence.
    """

    sequence: int
    levels: list[LevelUpdate] = field(default_factory=list)
    trades: list[PublicTrade] = field(default_factory=list)
    orders: list[tuple[int, Order]] = field(default_factory=list)  # (participant id, order)
    fills: list[tuple[int, Fill]] = field(default_factory=list)  # (participant id, fill)


class MarketFeed(Protocol):
    """The receiving end: must return at once and never block the writer."""

    def book_loaded(
        self,
        commodity: CommoditySpec,
        sequence: int,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
    ) -> None:
        """A book was (re)built at `sequence`; bids/asks are (price ticks, lots), best first."""

    def committed(self, commodity: CommoditySpec, batch: CommittedBatch) -> None:
        """A batch of the book's commands is durable; publish what it changed."""

    def contract_changed(self, event: str, contract: Contract) -> None:
        """A contract was signed or changed state (committed); tell both parties."""
