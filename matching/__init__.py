"""The matching engine: a pure, synchronous, deterministic price-time order book per commodity."""

from matching.book import Book
from matching.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    ExpireOrders,
    HaltBook,
    PlaceOrder,
    ResumeBook,
)
from matching.config import BookConfig
from matching.events import (
    BookHalted,
    BookLevelChanged,
    BookResumed,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    TradeExecuted,
)
from matching.views import BookSnapshot, Depth, OpenOrder, PriceLevel

__all__ = [
    "AmendOrder",
    "Book",
    "BookConfig",
    "BookHalted",
    "BookLevelChanged",
    "BookResumed",
    "BookSnapshot",
    "CancelOrder",
    "Command",
    "Depth",
    "Event",
    "ExpireOrders",
    "HaltBook",
    "OpenOrder",
    "OrderAccepted",
    "OrderAmended",
    "OrderCancelled",
    "OrderRejected",
    "PlaceOrder",
    "PriceLevel",
    "ResumeBook",
    "TradeExecuted",
]
