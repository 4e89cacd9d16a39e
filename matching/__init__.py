"""The matching engine: a pure, synchronous, deterministic price-time order book per commodity."""

# isort: off
# When compiled with mypyc, importing a module of the shared library from another one bypasses
# its extension shim and gets a __file__ guessed from the library's location; importing them
# here in dependency order, each through its own shim, keeps their real paths.
import matching.levels
import matching.core  # noqa: F401 (see above)

# isort: on
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
