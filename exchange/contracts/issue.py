"""Issue contracts: complete terms from a deal, hashed, chained and signed, in the caller's
transaction (the one that makes the deal: the book writer's for trades, so no trade is ever
stored without its contract). Every source of deals comes in here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from exchange.contracts.deal import Deal, DealSource, contract_id
from exchange.contracts.signing import Signer
from exchange.contracts.terms import (
    GENESIS_HASH,
    RULES_VERSION,
    Breach,
    ContractTerms,
    Delivery,
    Fee,
    Goods,
    Party,
    Payment,
    SourceReference,
    canonical,
    digest,
)
from exchange.contracts.views import contract_from_row
from exchange.db import Conn
from exchange.messages.contracts import Contract, ContractStatus
from exchange.payments.references import contract_reference
from exchange.reference import CommoditySpec
from exchange.units import format_scaled, round_half_up

_COLUMNS = (
    "commodity_id", "id", "number", "chain_position", "trade_id", "buyer_id", "seller_id",
    "amount_minor", "fee_minor", "currency", "status", "terms", "hash", "previous_hash",
    "signature", "key_id", "signed_at", "payment_due_at", "updated_at", "payment_reference",
    "payment_grace_until", "paid_minor", "penalty_minor", "funded_at", "source", "source_id",
)  # fmt: skip
TRANSPORT = "delivery by the center's regional distribution node serving the delivery region"
PAYMENT_METHOD = "transfer into escrow at the bank the center designates"


def fee_minor(amount_minor: int, rate_bps: int) -> int:
    """The center's fee, rounded half-up to a whole minor unit."""
    return round_half_up(amount_minor * rate_bps, 10_000)


def payment_deadlines(spec: CommoditySpec, effective: datetime) -> tuple[datetime, datetime]:
    """(due, end of grace) of a contract that takes effect at `effective`."""
    due = effective + timedelta(hours=spec.payment_due_hours)
    return due, due + timedelta(hours=spec.payment_grace_hours)


def contract_number(code: str, position: int) -> str:
    return f"{code}-{position:08d}"


_HEAD_AND_PARTIES = """
WITH head AS (
    SELECT length, last_hash FROM contract_chains WHERE commodity_id = $1 FOR UPDATE
)
SELECT (SELECT length FROM head) AS length, (SELECT last_hash FROM head) AS last_hash,
       p.id, p.legal_name, p.registration_number
  FROM participants p WHERE p.id = ANY($2::bigint[])"""

# One statement appends the contracts, their first history entries and the new chain head.
_APPEND = """
WITH new_contracts AS (
    INSERT INTO contracts (commodity_id, id, number, chain_position, trade_id, buyer_id,
                           seller_id, amount_minor, fee_minor, currency, status, terms, hash,
                           previous_hash, signature, key_id, signed_at, payment_due_at,
                           updated_at, payment_reference, payment_grace_until, source,
                           source_id)
    SELECT $1::bigint, * FROM unnest(
        $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
        $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::bytea[], $13::bytea[],
        $14::bytea[], $15::bytea[], $16::integer[], $17::timestamptz[], $18::timestamptz[],
        $19::timestamptz[], $22::text[], $23::timestamptz[], $24::text[], $25::bigint[])
), history AS (
    INSERT INTO contract_history (commodity_id, contract_id, from_status, to_status, actor_id,
                                  reason, at)
    SELECT $1::bigint, id, NULL, status, NULL, 'signed', signed_at
      FROM unnest($2::bigint[], $11::text[], $17::timestamptz[]) AS x(id, status, signed_at)
)
UPDATE contract_chains SET length = $20, last_hash = $21 WHERE commodity_id = $1"""


async def _head_and_parties(
    conn: Conn, commodity_id: int, party_ids: set[int]
) -> tuple[int, bytes, dict[int, Party]]:
    """Lock the commodity's chain head; return (length, last hash, parties as of now)."""
    rows = await conn.fetch(_HEAD_AND_PARTIES, commodity_id, list(party_ids))
    if rows and rows[0]["length"] is None:  # the commodity's first contract
        await conn.execute(
            "INSERT INTO contract_chains (commodity_id, last_hash) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            commodity_id,
            GENESIS_HASH,
        )
        rows = await conn.fetch(_HEAD_AND_PARTIES, commodity_id, list(party_ids))
    parties = {
        row["id"]: Party(
            participant_id=row["id"],
            legal_name=row["legal_name"],
            registration_number=row["registration_number"],
        )
        for row in rows
    }
    return rows[0]["length"], bytes(rows[0]["last_hash"]), parties


def build_terms(
    deal: Deal, position: int, previous: bytes, parties: dict[int, Party]
) -> tuple[ContractTerms, int, int]:
    """(terms, amount in minor units, fee in minor units) of the contract for one deal."""
    spec = deal.spec
    amount = spec.amount_minor(deal.price, deal.quantity)
    fee = fee_minor(amount, spec.fee_rate_bps)
    terms = ContractTerms(
        number=contract_number(spec.code, position),
        rules_version=RULES_VERSION,
        chain_position=position,
        previous_hash=previous.hex(),
        signed_at=deal.made_at,
        seller=parties[deal.seller_id],
        buyer=parties[deal.buyer_id],
        goods=Goods(commodity=spec.code, name=spec.name, unit=spec.unit),
        quantity=spec.quantity_text(deal.quantity),
        unit_price=spec.price_text(deal.price),
        amount=format_scaled(amount, spec.price_scale),
        currency=spec.currency,
        fee=Fee(
            rate_bps=spec.fee_rate_bps,
            amount=format_scaled(fee, spec.price_scale),
            payer="seller",
        ),
        delivery=Delivery(
            region=deal.delivery_region,
            origin_region=deal.origin_region,
            transport=TRANSPORT,
            lead_days=spec.delivery_days,
        ),
        payment=Payment(method=PAYMENT_METHOD, due_within_hours=spec.payment_due_hours),
        breach=Breach(
            late_payment_penalty_bps_per_day=spec.late_payment_penalty_bps,
            late_delivery_penalty_bps_per_day=spec.late_delivery_penalty_bps,
            claim_window_days=spec.claim_window_days,
        ),
        review_required=amount >= spec.review_threshold_minor,
        trade=deal.trade,
        source=SourceReference(kind=str(deal.source), id=deal.source_id),
    )
    return terms, amount, fee


async def issue_contracts(conn: Conn, deals: list[Deal], signer: Signer) -> list[Contract]:
    """Append one signed contract per deal (all of one commodity) to the commodity's chain, in
    the caller's transaction; return them."""
    if not deals:
        return []
    spec = deals[0].spec
    if any(deal.spec.id != spec.id for deal in deals):
        raise ValueError("the deals of one call belong to one commodity")
    length, previous, parties = await _head_and_parties(
        conn, spec.id, {d.buyer_id for d in deals} | {d.seller_id for d in deals}
    )
    records: list[tuple[Any, ...]] = []
    issued: list[Contract] = []
    for deal in deals:
        length += 1
        terms, amount, fee = build_terms(deal, length, previous, parties)
        cid = contract_id(deal, length)
        trade_id = deal.source_id if deal.source is DealSource.BOOK else None
        data = canonical(terms)
        current = digest(data)
        status = (
            ContractStatus.PENDING_REVIEW
            if terms.review_required
            else ContractStatus.AWAITING_PAYMENT
        )
        due = grace = None
        if status is ContractStatus.AWAITING_PAYMENT:
            due, grace = payment_deadlines(spec, terms.signed_at)
        records.append(
            (
                spec.id, cid, terms.number, length, trade_id, deal.buyer_id, deal.seller_id,
                amount, fee, spec.currency, str(status), data, current, previous,
                signer.sign(data), signer.key_id, terms.signed_at, due, terms.signed_at,
                contract_reference(cid), grace, 0, 0, None, str(deal.source), deal.source_id,
            )
        )  # fmt: skip
        issued.append(contract_from_row(dict(zip(_COLUMNS, records[-1], strict=True))))
        previous = current
    columns = [list(column) for column in zip(*records, strict=True)]
    await conn.execute(
        _APPEND, spec.id, *columns[1:19], length, previous, *columns[19:21], *columns[24:26]
    )
    return issued
