"""Settlement on the wire: a buyer's payment record."""

from __future__ import annotations

from exchange.messages.common import Struct


class ContractCount(Struct, frozen=True, kw_only=True):
    count: int
    contract_ids: list[int]  # oldest first


class PaymentRecord(Struct, frozen=True, kw_only=True):
    """How a participant has paid as a buyer: counterparties choose partners by it."""

    participant_id: int
    paid_on_time: ContractCount  # funded by the due time
    paid_late: ContractCount  # funded after the due time, within grace (penalty paid)
    defaulted: ContractCount  # unpaid past the grace end
