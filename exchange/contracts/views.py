"""Contracts as the API shows them."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import asyncpg

from exchange.contracts.terms import parse
from exchange.messages.contracts import Contract, ContractStatus
from exchange.units import currency_exponent, format_scaled

CONTRACT_COLUMNS = """commodity_id, id, number, chain_position, trade_id, buyer_id, seller_id,
    amount_minor, fee_minor, currency, status, terms, hash, previous_hash, signature, key_id,
    signed_at, payment_due_at, updated_at, payment_reference, payment_grace_until, paid_minor,
    penalty_minor, funded_at"""


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
        updated_at=row["updated_at"],
        terms=terms,
        hash=bytes(row["hash"]).hex(),
        previous_hash=bytes(row["previous_hash"]).hex(),
        signature=base64.b64encode(bytes(row["signature"])).decode(),
    )
