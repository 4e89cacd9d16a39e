"""Settlement on the wire: a buyer's payment record, operators' release and refund."""

from __future__ import annotations

from typing import Annotated

import msgspec

from exchange.messages.common import NO_NUL, DecimalText, Struct

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=NO_NUL)]


class ContractCount(Struct, frozen=True, kw_only=True):
    count: int
    contract_ids: list[int]  # oldest first


class PaymentRecord(Struct, frozen=True, kw_only=True):
    """How a participant has paid as a buyer: counterparties choose partners by it."""

    participant_id: int
    paid_on_time: ContractCount  # funded by the due time
    paid_late: ContractCount  # funded after the due time, within grace (penalty paid)
    defaulted: ContractCount  # unpaid past the grace end


class Release(Struct, frozen=True, kw_only=True):
    """Release escrow to the supplier; with `delivered_quantity` (less than the contract's),
    a partial release for a short delivery: the rest goes back to the buyer."""

    reason: Reason
    delivered_quantity: DecimalText | None = None


class Refund(Struct, frozen=True, kw_only=True):
    """Escrow back to the buyer: all of it (no `amount`; the contract must be disputed), or
    `amount` of it (the rest stays in escrow)."""

    reason: Reason
    amount: DecimalText | None = None
