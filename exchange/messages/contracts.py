"""Contracts on the wire."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import msgspec

from exchange.contracts.terms import ContractTerms
from exchange.messages.common import NO_NUL, Code, PageQuery, Struct


class ContractStatus(enum.StrEnum):
    PENDING_REVIEW = "pending_review"
    AWAITING_PAYMENT = "awaiting_payment"
    FUNDED = "funded"
    IN_DELIVERY = "in_delivery"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    REJECTED = "rejected"
    DEFAULTED = "defaulted"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class ContractDelivery(Struct, frozen=True, kw_only=True):
    """Where the contract's delivery stands (docs/delivery.md)."""

    due_at: datetime | None  # the end of the delivery window, once funded
    delivered_at: datetime | None
    delivered_quantity: str | None
    claim_window_until: datetime | None  # the buyer may claim until then
    shortage_settlement: str | None  # the buyer's choice on a short delivery
    backorder_due_at: datetime | None
    accepted_at: datetime | None
    late_delivery_penalty: str  # paid to the buyer out of the supplier's release


class Contract(Struct, frozen=True, kw_only=True):
    id: int
    number: str
    commodity: str
    status: ContractStatus
    buyer_id: int
    seller_id: int
    source: str  # where the deal came from: book, listing or rfq
    source_id: int  # the trade, the listing take or the RFQ award that made it
    amount: str
    fee: str
    currency: str
    signed_at: datetime
    payment_due_at: datetime | None
    payment_reference: str  # ISO 11649: quote it on the bank transfer that pays this contract
    payment_grace_until: datetime | None  # a late payment (with its penalty) is taken until then
    # paid into escrow against the contract in all (a refund on default or cancellation
    # does not lower it: the contract's status and the ledger entries show that)
    paid: str
    late_penalty_paid: str
    funded_at: datetime | None
    delivery: ContractDelivery
    updated_at: datetime
    terms: ContractTerms
    hash: str
    previous_hash: str
    signature: str


class ContractQuery(PageQuery, frozen=True, kw_only=True):
    status: ContractStatus | None = None
    commodity: Code | None = None


class Review(Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=NO_NUL)]


class Approval(Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=1000, pattern=NO_NUL)] = ""


class HistoryEntry(Struct, frozen=True, kw_only=True):
    from_status: ContractStatus | None
    to_status: ContractStatus
    actor_id: int | None
    reason: str | None
    at: datetime


class PartyStanding(Struct, frozen=True, kw_only=True):
    """A party of a contract as its counterparty sees it: who, and its credit score (0 to
    100 from its record, null without one; GET /v1/participants/{id}/credit explains it)."""

    role: str  # buyer | seller
    participant_id: int
    legal_name: str
    credit_score: int | None


class ContractDetail(Struct, frozen=True, kw_only=True):
    contract: Contract
    history: list[HistoryEntry]
    parties: list[PartyStanding]  # the seller, then the buyer, with their credit scores


class VerificationProblem(Struct, frozen=True, kw_only=True):
    contract_id: int | None
    number: str
    problem: str


class Verification(Struct, frozen=True, kw_only=True):
    """What a third party needs to check a contract offline, and the center's own check."""

    contract_id: int
    number: str
    valid: bool
    problems: list[VerificationProblem]
    algorithm: str
    hash_algorithm: str
    canonical_terms: str
    hash: str
    previous_hash: str
    signature: str
    public_key: str
    public_key_pem: str


class PublicKey(Struct, frozen=True, kw_only=True):
    algorithm: str
    public_key: str  # hex of the raw 32-byte key
    public_key_pem: str
    key_id: int
    earlier_keys: list[str]
