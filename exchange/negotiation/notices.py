"""What a transaction changed on RFQs and quotes, told on the `rfqs` channel once it has
committed (never before: durable first). docs/negotiation.md, "Closing, auto-award and the
rfqs channel".

`rfq_changed` tells the RFQ's buyer and the subscribed suppliers it is open to; `quote_changed`
tells the quote's supplier and, when `buyer_sees_quote` allows, the RFQ's buyer, and in a
reverse auction every bidder its new standing (and everyone the RFQ, when a late bid moved its
closing); `to` sends any other message to one participant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from exchange.db import Queryable
from exchange.market.hub import encode
from exchange.messages.contracts import Contract
from exchange.messages.market import ServerMessage
from exchange.messages.rfq_channel import QuoteMessage, RfqMessage, StandingMessage
from exchange.messages.rfq_modes import Standing
from exchange.messages.rfqs import Quote, Rfq, RfqMode
from exchange.negotiation import quotes, rfqs, standings
from exchange.negotiation.channel import GENERATION, RfqChannel, key_of
from exchange.reference import CommoditySpec

Build = Callable[[int], ServerMessage]  # sequence -> message
_DECIDED = ("awarded", "declined", "lapsed")


def buyer_sees_quote(mode: RfqMode, event: str) -> bool:
    """Whether an RFQ's buyer is told of a change to a quote on it now: always in open mode and
    reverse auctions; in sealed mode only once the quote is decided (awarded, declined, lapsed),
    when the RFQ has closed: before closing the buyer sees nothing."""
    return mode is not RfqMode.SEALED or event in _DECIDED


@dataclass(frozen=True, slots=True)
class _RfqChange:
    event: str
    buyer_id: int
    invited: frozenset[int] | None  # None: open to every supplier
    for_buyer: Rfq
    for_suppliers: Rfq


@dataclass(slots=True)
class RfqNotices:
    """Notices of one transaction, published after it commits."""

    changes: list[_RfqChange] = field(default_factory=list)
    direct: list[tuple[int, Build]] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)

    async def rfq_changed(
        self, conn: Queryable, row: asyncpg.Record, event: str, now: datetime
    ) -> None:
        """The RFQ `row` (as committed) was created or changed state (`event`)."""
        invited = None
        if row["invited_only"]:
            found = await conn.fetch(
                "SELECT supplier_id FROM rfq_invitations WHERE rfq_id = $1", row["id"]
            )
            invited = frozenset(r["supplier_id"] for r in found)
        buyer = rfqs.Viewer(row["buyer_id"], supplier=False)
        for_buyer = await rfqs.view(conn, row, buyer, now)
        for_suppliers = await rfqs.view(conn, row, rfqs.Viewer(0, supplier=True), now)
        self.changes.append(_RfqChange(event, row["buyer_id"], invited, for_buyer, for_suppliers))

    async def quote_changed(
        self, conn: Queryable, row: asyncpg.Record, rfq: asyncpg.Record | None,
        spec: CommoditySpec, now: datetime,
    ) -> None:  # fmt: skip
        """The quote `row` (as committed) on `rfq` (None: read it) was submitted or changed."""
        if rfq is None:
            rfq = await conn.fetchrow(
                "SELECT buyer_id, mode FROM rfqs WHERE id = $1", row["rfq_id"]
            )
            assert rfq is not None  # quotes and RFQs are never deleted
        quote = await quotes.view(conn, row, spec, now)
        event = str(quote.status)
        self.to(row["supplier_id"], _quote_message(event, quote))
        if buyer_sees_quote(RfqMode(rfq["mode"]), event):
            self.to(rfq["buyer_id"], _quote_message(event, quote))
        if rfq["mode"] == RfqMode.REVERSE_AUCTION and event not in _DECIDED:
            await self.auction_moved(conn, row["rfq_id"], spec, now)

    async def auction_moved(
        self, conn: Queryable, rfq_id: int, spec: CommoditySpec, now: datetime
    ) -> None:
        """A bid came or changed: each bidder gets its standing; if the bid moved the closing
        (soft close: only that touches the RFQ's row in a bid's transaction, so `updated_at` is
        now), everyone the RFQ concerns gets it, `extended`."""
        rfq = await conn.fetchrow(f"SELECT {rfqs.COLUMNS} FROM rfqs r WHERE r.id = $1", rfq_id)
        assert rfq is not None  # RFQs are never deleted
        if rfq["extensions"] and rfq["updated_at"] == now:
            await self.rfq_changed(conn, rfq, "extended", now)
        for supplier_id, standing in (await standings.standings_of(conn, rfq, spec, now)).items():
            self.to(supplier_id, _standing_message(standing))

    async def rfq_awarded(
        self, conn: Queryable, rfq: asyncpg.Record, spec: CommoditySpec, now: datetime,
        contracts: list[Contract],
    ) -> None:  # fmt: skip
        """`rfq` (after the award) was awarded: it, each awarded and declined quote (all were
        decided by this award: an RFQ is awarded once) and the new contracts."""
        await self.rfq_changed(conn, rfq, rfq["status"], now)
        decided = await conn.fetch(
            "SELECT * FROM quotes WHERE rfq_id = $1 AND status IN ('awarded', 'declined')"
            " ORDER BY id",
            rfq["id"],
        )
        for row in decided:
            await self.quote_changed(conn, row, rfq, spec, now)
        self.contracts.extend(contracts)

    def to(self, participant_id: int, build: Build) -> None:
        """Send `build(sequence)` to the participant's `rfqs` channel after commit."""
        self.direct.append((participant_id, build))

    def publish(self, channel: RfqChannel) -> None:
        hub = channel.hub
        if self.changes:
            hub.next_sequence(GENERATION)  # a snapshot being read must read again
        for change in self.changes:
            for pid in sorted(channel.audience(change.buyer_id, change.invited)):
                shown = change.for_buyer if pid == change.buyer_id else change.for_suppliers
                key = key_of(pid)
                message = RfqMessage(sequence=hub.next_sequence(key), event=change.event,
                                     rfq=shown)  # fmt: skip
                hub.publish(key, encode(message))
        for pid, build in self.direct:
            key = key_of(pid)
            if hub.has_subscribers(key):
                hub.publish(key, encode(build(hub.next_sequence(key))))
        for contract in self.contracts:
            channel.market.contract_changed("created", contract)
        self.changes.clear()
        self.direct.clear()
        self.contracts.clear()


def _quote_message(event: str, quote: Quote) -> Build:
    return lambda sequence: QuoteMessage(sequence=sequence, event=event, quote=quote)


def _standing_message(standing: Standing) -> Build:
    return lambda sequence: StandingMessage(sequence=sequence, standing=standing)
