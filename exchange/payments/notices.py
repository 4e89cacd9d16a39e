"""Every change of a participant's money reaches it on its `user` WebSocket channel. A flow
collects its notices while its transaction runs and publishes them once it has committed."""

from __future__ import annotations

from dataclasses import dataclass, field

from exchange.market.data import MarketData
from exchange.market.hub import encode
from exchange.messages.contracts import Contract
from exchange.messages.market import ChannelName, MoneyNotice
from exchange.units import currency_exponent, format_scaled


@dataclass(slots=True)
class Notices:
    """Notices of one transaction, published after it commits (never before: durable first)."""

    pending: list[tuple[int, dict[str, object]]] = field(default_factory=list)

    def add(
        self,
        participant_id: int,
        event: str,
        currency: str,
        *,
        amount_minor: int | None = None,
        available_minor: int | None = None,
        **detail: object,
    ) -> None:
        scale = currency_exponent(currency)
        fields: dict[str, object] = {"event": event, "currency": currency, **detail}
        if amount_minor is not None:
            fields["amount"] = format_scaled(amount_minor, scale)
        if available_minor is not None:
            fields["available"] = format_scaled(available_minor, scale)
        self.pending.append((participant_id, fields))

    def publish(self, market: MarketData) -> None:
        hub = market.hub
        for participant_id, fields in self.pending:
            key = (ChannelName.USER, participant_id)
            if hub.has_subscribers(key):
                notice = MoneyNotice(sequence=hub.next_sequence(key), **fields)  # type: ignore[arg-type]
                hub.publish(key, encode(notice))
        self.pending.clear()


def announce(market: MarketData, notices: Notices, contract: Contract) -> Contract:
    """After the commit that changed `contract`: its money notices, then the contract notice to
    both parties."""
    notices.publish(market)
    market.contract_changed(str(contract.status), contract)
    return contract
