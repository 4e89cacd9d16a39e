"""A contract's terms, serialised canonically: the exact bytes that are hashed and signed."""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec

RULES_VERSION = "2026-11"
GENESIS_HASH = bytes(32)  # the "previous hash" of a chain's first contract


class Party(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    participant_id: int
    legal_name: str
    registration_number: str


class Goods(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    commodity: str
    name: str
    unit: str


class Fee(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    rate_bps: int
    amount: str
    payer: str  # the seller: the fee is withheld from the escrow release


class Delivery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    region: str | None  # the buyer's delivery region
    origin_region: str | None  # the seller's origin region
    transport: str  # delivery by the center's regional distribution node
    lead_days: int  # delivery is due within this many days after funding


class Payment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    method: str  # into escrow at the bank the center designates
    due_within_hours: int  # from the moment the contract takes effect


class Breach(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    late_payment_penalty_bps_per_day: int
    late_delivery_penalty_bps_per_day: int
    claim_window_days: int


class TradeReference(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    trade_id: int
    buy_order_id: int
    sell_order_id: int
    executed_at: datetime


class SourceReference(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: str  # book, listing or rfq
    id: int  # the trade, the listing take or the RFQ award that made the deal


class ContractTerms(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """Every term of a contract. The field order is part of the canonical form: never reorder.

    Fields added later take a default and are left out of the canonical form while they hold
    it (`omit_defaults`), so the bytes of contracts signed before them never change."""

    number: str
    rules_version: str
    chain_position: int
    previous_hash: str  # hex
    signed_at: datetime
    seller: Party
    buyer: Party
    goods: Goods
    quantity: str
    unit_price: str
    amount: str
    currency: str
    fee: Fee
    delivery: Delivery
    payment: Payment
    breach: Breach
    review_required: bool
    trade: TradeReference | None
    source: SourceReference | None = None  # absent from contracts signed before 2026-11-23


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ContractTerms)


def canonical(terms: ContractTerms) -> bytes:
    """The canonical serialisation: compact JSON, fields in declaration order, UTC times."""
    return _ENCODER.encode(terms)


def parse(data: bytes) -> ContractTerms:
    return _DECODER.decode(data)


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
