"""The `rfqs` WebSocket channel (docs/negotiation.md, "Closing, auto-award and the rfqs
channel").

A buyer or supplier subscribes: first an `rfqs_snapshot` (the RFQs open to it as a supplier,
and its own not yet settled), then an `rfq` message when an RFQ opens to it or changes state,
and a `quote` message when its own quote changes or, in open mode, a quote on its RFQ does
(published after commit by `RfqNotices`). Whether a subscriber is a supplier is taken from the
socket's key when it subscribes.

The snapshot is read from PostgreSQL, which takes time: it is read again if any RFQ change was
published meanwhile (the channel's generation moved), so it holds every change up to its
`sequence`. Each `rfq` message carries the whole RFQ, so one the snapshot holds changes nothing.
"""

from __future__ import annotations

from exchange.clock import Clock
from exchange.db import Queryable
from exchange.errors import ForbiddenError
from exchange.market.data import MarketData
from exchange.market.hub import ChannelKey, Client, Hub, encode
from exchange.messages.market import Channel, ChannelName, Subscribed
from exchange.messages.participants import Role
from exchange.messages.rfq_channel import RfqsSnapshot
from exchange.messages.rfqs import Rfq
from exchange.negotiation import rfqs

SNAPSHOT_LIMIT = 500
# moved by every publication of RFQ changes; nobody subscribes to it
GENERATION: ChannelKey = (ChannelName.RFQS, None)
_SNAPSHOT = f"""SELECT {rfqs.COLUMNS} FROM rfqs r
 WHERE {rfqs.VISIBLE} AND r.status = 'open' AND (r.buyer_id = $1 OR r.closes_at > $3)
 ORDER BY r.id DESC LIMIT {SNAPSHOT_LIMIT}"""


def key_of(participant_id: int) -> ChannelKey:
    return (ChannelName.RFQS, participant_id)


class RfqChannel:
    """Subscriptions to `rfqs`, and who among the subscribers is a supplier."""

    def __init__(self, market: MarketData, clock: Clock) -> None:
        self._market = market
        self._clock = clock
        self._supplier: dict[int, bool] = {}

    @property
    def hub(self) -> Hub:
        return self._market.hub

    @property
    def market(self) -> MarketData:
        return self._market

    async def subscribe(self, client: Client, roles: frozenset[Role], pool: Queryable) -> None:
        """Subscribe a trader's socket: acknowledgement, then the snapshot."""
        if not roles & {Role.BUYER, Role.SUPPLIER}:
            raise ForbiddenError("the rfqs channel needs the buyer or supplier role",
                                 code="ROLE_REQUIRED")  # fmt: skip
        pid = client.participant_id
        viewer = rfqs.Viewer(pid, Role.SUPPLIER in roles)
        self._supplier[pid] = viewer.supplier
        hub = self.hub

        async def read() -> list[Rfq]:
            now = self._clock.now()
            rows = await pool.fetch(_SNAPSHOT, pid, viewer.supplier, now)
            return [await rfqs.view(pool, row, viewer, now) for row in rows]

        shown = await hub.read_quietly(GENERATION, read)
        # no await from here on: the snapshot is exact at this moment
        key = key_of(pid)
        client.send(encode(Subscribed(channels=[Channel(name=ChannelName.RFQS)])))
        hub.subscribe(client, key)
        client.send(encode(RfqsSnapshot(sequence=hub.sequence(key), rfqs=shown)))

    def audience(self, buyer_id: int, invited: frozenset[int] | None) -> set[int]:
        """The subscribers an RFQ concerns: its buyer, and the suppliers it is open to."""
        subscribed = {
            pid for name, pid in self.hub.channels
            if name == ChannelName.RFQS and isinstance(pid, int)
        }  # fmt: skip
        if invited is None:
            suppliers = {pid for pid in subscribed if self._supplier.get(pid)}
        else:
            suppliers = subscribed & invited
        return suppliers | ({buyer_id} & subscribed)
