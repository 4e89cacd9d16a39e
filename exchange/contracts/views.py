"""Contracts as the API shows them."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import asyncpg

from exchange.contracts.terms import parse
from exchange.messages.contracts import Contract, ContractDelivery, ContractStatus
from exchange.units import QUANTITY_SCALE, currency_exponent, format_scaled

CONTRACT_COLUMNS = """commodity_id, id, number, chain_position, trade_id, buyer_id, seller_id,
    amount_minor, fee_minor, currency, status, terms, hash, previous_hash, signature, key_id,
    signed_at, payment_due_at, updated_at, payment_reference, payment_grace_until, paid_minor,
    penalty_minor, funded_at, delivery_due_at, delivered_at, delivered_quantity_micro,
    claim_window_until, shortage_settlement, backorder_due_at, accepted_at,
    late_delivery_penalty_minor, source, source_id"""


def _delivery(row: Mapping[str, Any] | asyncpg.Record, scale: int) -> ContractDelivery:
    """Where delivery stands (a contract just signed has none of these columns yet)."""
    delivered = row.get("delivered_quantity_micro")
    return ContractDelivery(
        due_at=row.get("delivery_due_at"),
        delivered_at=row.get("delivered_at"),
        delivered_quantity=None if delivered is None else format_scaled(delivered, QUANTITY_SCALE),
        claim_window_until=row.get("claim_window_until"),
        shortage_settlement=row.get("shortage_settlement"),
        backorder_due_at=row.get("backorder_due_at"),
        accepted_at=row.get("accepted_at"),
        late_delivery_penalty=format_scaled(row.get("late_delivery_penalty_minor") or 0, scale),
    )


def contract_from_row(row: Mapping[str, Any] | asyncpg.Record) -> Contract:
    terms = parse(row["terms"])
    scale = currency_exponent(row["currency"])
    return Contract(
        id=row["id"],
        number=row["number"],
        commodity=terms.goods.commodity,
        status=ContractStatus(row["status"]),
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
        source=row["source"],
        source_id=row["source_id"],
        amount=format_scaled(row["amount_minor"], scale),
        fee=format_scaled(row["fee_minor"], scale),
        currency=row["currency"],
        signed_at=row["signed_at"],
        payment_due_at=row["payment_due_at"],
        payment_reference=row["payment_reference"],
        payment_grace_until=row["payment_grace_until"],
        paid=format_scaled(row["paid_minor"], scale),
        late_penalty_paid=format_scaled(row["penalty_minor"], scale),
        funded_at=row["funded_at"],
        delivery=_delivery(row, scale),
        updated_at=row["updated_at"],
        terms=terms,
        hash=bytes(row["hash"]).hex(),
        previous_hash=bytes(row["previous_hash"]).hex(),
        signature=base64.b64encode(bytes(row["signature"])).decode(),
    )
