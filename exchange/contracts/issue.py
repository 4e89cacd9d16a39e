"""Issue contracts: complete terms from a trade, hashed, chained and signed, in the caller's
transaction (the book writer's, so no trade is ever stored without its contract)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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
    TradeReference,
    canonical,
    digest,
)
from exchange.contracts.views import contract_from_row
from exchange.db import Conn
from exchange.messages.contracts import Contract, ContractStatus
from exchange.orders.projection import TradeRow, ns_to_datetime
from exchange.reference import CommoditySpec
from exchange.units import format_scaled

_COLUMNS = (
    "commodity_id", "id", "number", "chain_position", "trade_id", "buyer_id", "seller_id",
    "amount_minor", "fee_minor", "currency", "status", "terms", "hash", "previous_hash",
    "signature", "key_id", "signed_at", "payment_due_at", "updated_at",
)  # fmt: skip
TRANSPORT = "delivery by the center's regional distribution node serving the delivery region"
PAYMENT_METHOD = "transfer into escrow at the bank the center designates"


def fee_minor(amount_minor: int, rate_bps: int) -> int:
    """The center's fee, rounded half-up to a whole minor unit."""
    whole, rest = divmod(amount_minor * rate_bps, 10_000)
    return whole + (1 if 2 * rest >= 10_000 else 0)


def contract_number(code: str, position: int) -> str:
    return f"{code}-{position:08d}"


async def _parties(conn: Conn, ids: set[int]) -> dict[int, Party]:
    rows = await conn.fetch(
        "SELECT id, legal_name, registration_number FROM participants WHERE id = ANY($1)",
        list(ids),
    )
    return {
        row["id"]: Party(
            participant_id=row["id"],
            legal_name=row["legal_name"],
            registration_number=row["registration_number"],
        )
        for row in rows
    }


async def chain_head(conn: Conn, commodity_id: int) -> tuple[int, bytes]:
    """Lock the commodity's chain head and return (length, last hash)."""
    await conn.execute(
        "INSERT INTO contract_chains (commodity_id, last_hash) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        commodity_id,
        GENESIS_HASH,
    )
    row = await conn.fetchrow(
        "SELECT length, last_hash FROM contract_chains WHERE commodity_id=$1 FOR UPDATE",
        commodity_id,
    )
    assert row is not None
    return row["length"], bytes(row["last_hash"])


def build_terms(
    spec: CommoditySpec,
    trade: TradeRow,
    position: int,
    previous: bytes,
    parties: dict[int, Party],
) -> tuple[ContractTerms, int, int]:
    """(terms, amount in minor units, fee in minor units) of the contract for one trade."""
    amount = spec.amount_minor(trade.price, trade.quantity)
    fee = fee_minor(amount, spec.fee_rate_bps)
    executed = ns_to_datetime(trade.executed_ns)
    terms = ContractTerms(
        number=contract_number(spec.code, position),
        rules_version=RULES_VERSION,
        chain_position=position,
        previous_hash=previous.hex(),
        signed_at=executed,
        seller=parties[trade.seller_id],
        buyer=parties[trade.buyer_id],
        goods=Goods(commodity=spec.code, name=spec.name, unit=spec.unit),
        quantity=spec.quantity_text(trade.quantity),
        unit_price=spec.price_text(trade.price),
        amount=format_scaled(amount, spec.price_scale),
        currency=spec.currency,
        fee=Fee(
            rate_bps=spec.fee_rate_bps,
            amount=format_scaled(fee, spec.price_scale),
            payer="seller",
        ),
        delivery=Delivery(
            region=trade.buyer_region,
            origin_region=trade.seller_region,
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
        trade=TradeReference(
            trade_id=trade.id,
            buy_order_id=trade.buy_order_id,
            sell_order_id=trade.sell_order_id,
            executed_at=executed,
        ),
    )
    return terms, amount, fee


async def issue_contracts(
    conn: Conn, spec: CommoditySpec, trades: list[TradeRow], signer: Signer
) -> list[Contract]:
    """Append one signed contract per trade to the commodity's chain; return them."""
    if not trades:
        return []
    length, previous = await chain_head(conn, spec.id)
    parties = await _parties(conn, {t.buyer_id for t in trades} | {t.seller_id for t in trades})
    records: list[tuple[Any, ...]] = []
    history: list[tuple[Any, ...]] = []
    issued: list[Contract] = []
    for trade in trades:
        length += 1
        terms, amount, fee = build_terms(spec, trade, length, previous, parties)
        data = canonical(terms)
        current = digest(data)
        status = (
            ContractStatus.PENDING_REVIEW
            if terms.review_required
            else ContractStatus.AWAITING_PAYMENT
        )
        due = None
        if status is ContractStatus.AWAITING_PAYMENT:
            due = terms.signed_at + timedelta(hours=spec.payment_due_hours)
        records.append(
            (
                spec.id, trade.id, terms.number, length, trade.id, trade.buyer_id,
                trade.seller_id, amount, fee, spec.currency, str(status), data, current,
                previous, signer.sign(data), signer.key_id, terms.signed_at, due,
                terms.signed_at,
            )
        )  # fmt: skip
        history.append((spec.id, trade.id, None, str(status), None, "signed", terms.signed_at))
        issued.append(contract_from_row(dict(zip(_COLUMNS, records[-1], strict=True))))
        previous = current
    await conn.copy_records_to_table("contracts", records=records, columns=_COLUMNS)
    await conn.copy_records_to_table(
        "contract_history",
        records=history,
        columns=(
            "commodity_id", "contract_id", "from_status", "to_status", "actor_id", "reason", "at",
        ),
    )  # fmt: skip
    await conn.execute(
        "UPDATE contract_chains SET length=$2, last_hash=$3 WHERE commodity_id=$1",
        spec.id,
        length,
        previous,
    )
    return issued
