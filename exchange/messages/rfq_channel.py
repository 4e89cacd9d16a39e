"""The `rfqs` WebSocket channel's messages (docs/negotiation.md, "Closing, auto-award and the
rfqs channel")."""

from __future__ import annotations

from exchange.messages.market import ServerMessage
from exchange.messages.rfq_modes import Standing
from exchange.messages.rfqs import Quote, Rfq


class RfqsSnapshot(ServerMessage, frozen=True, kw_only=True, tag="rfqs_snapshot"):
    """The RFQs open to the subscriber as a supplier and its own that are not settled yet
    (newest first, at most 500), as of `sequence`."""

    sequence: int
    rfqs: list[Rfq]


class RfqMessage(ServerMessage, frozen=True, kw_only=True, tag="rfq"):
    """An RFQ opened to the subscriber (`created`), changed state (`closed`, `cancelled`,
    `awarded`, `partially_awarded`, `expired`) or, a reverse auction, had its closing moved by a
    late bid (`extended`)."""

    sequence: int
    event: str
    rfq: Rfq


class QuoteMessage(ServerMessage, frozen=True, kw_only=True, tag="quote"):
    """A quote changed (`event`: its new status): the subscriber's own, or one on its RFQ."""

    sequence: int
    event: str
    quote: Quote


class StandingMessage(ServerMessage, frozen=True, kw_only=True, tag="standing"):
    """A reverse auction's bids changed: the subscriber's own standing (rank, best landed cost,
    live bids; never who bids), as GET /v1/rfqs/{id}/standing shows it."""

    sequence: int
    standing: Standing
