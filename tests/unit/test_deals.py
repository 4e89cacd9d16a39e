"""Deals and their contracts' terms and ids, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.contracts.deal import NEGOTIATED_BIT, Deal, DealSource, contract_id
from exchange.contracts.terms import SourceReference, TradeReference, canonical, digest, parse
from exchange.ids import commodity_of, global_id
from exchange.messages.reference import TradingStatus
from exchange.reference import CommoditySpec

# the canonical terms of a book contract as the center signed them before contracts recorded
# their source (produced by the code of 2026-11-22): they must read and re-encode byte for byte
SIGNED_BEFORE_SOURCES = (
    b'{"number":"STEEL-00000001","rules_version":"2026-11","chain_position":1,"previous_hash":'
    b'"0000000000000000000000000000000000000000000000000000000000000000","signed_at":"2026-11-2'
    b'0T09:30:01.250000Z","seller":{"participant_id":2,"legal_name":"Rhein Stahl GmbH","registr'
    b'ation_number":"HRB 1"},"buyer":{"participant_id":3,"legal_name":"Baltic Build AB","regist'
    b'ration_number":"556000-0001"},"goods":{"commodity":"STEEL","name":"Hot-rolled steel coil'
    b'","unit":"t"},"quantity":"3.000000","unit_price":"412.00","amount":"1236.00","currency":'
    b'"EUR","fee":{"rate_bps":25,"amount":"3.09","payer":"seller"},"delivery":{"region":"EU-CT'
    b'","origin_region":null,"transport":"x","lead_days":14},"payment":{"method":"y","due_with'
    b'in_hours":48},"breach":{"late_payment_penalty_bps_per_day":5,"late_delivery_penalty_bps_'
    b'per_day":5,"claim_window_days":7},"review_required":false,"trade":{"trade_id":10995116277'
    b'77,"buy_order_id":1099511627778,"sell_order_id":1099511627779,"executed_at":"2026-11-20T'
    b'09:30:01.250000Z"}}'
)
COMMODITY = 3
SPEC = CommoditySpec(
    id=COMMODITY, code="STEEL", name="Steel", unit="t", currency="EUR", price_scale=2,
    tick_size_minor=100, lot_size_micro=1_000_000, min_quantity_lots=1, fee_rate_bps=25,
    review_threshold_minor=1_000_000, payment_due_hours=48, trading_status=TradingStatus.ACTIVE,
)  # fmt: skip
MADE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BOOK_TRADE = TradeReference(trade_id=0, buy_order_id=0, sell_order_id=0, executed_at=MADE)


def _deal(source: DealSource, source_id: int, **changes: object) -> Deal:
    values: dict[str, object] = {
        "source": source, "source_id": source_id, "spec": SPEC, "seller_id": 1, "buyer_id": 2,
        "quantity": 1, "price": 10, "delivery_region": None, "origin_region": None,
        "made_at": MADE,
        "trade": msgspec.structs.replace(BOOK_TRADE, trade_id=source_id)
        if source is DealSource.BOOK else None,
    }  # fmt: skip
    values.update(changes)
    return Deal(**values)  # type: ignore[arg-type]


def test_terms_signed_before_sources_keep_their_exact_bytes() -> None:
    terms = parse(SIGNED_BEFORE_SOURCES)

    assert terms.source is None
    assert canonical(terms) == SIGNED_BEFORE_SOURCES
    assert digest(canonical(terms)) == digest(SIGNED_BEFORE_SOURCES)


def test_new_terms_carry_their_source_at_the_end() -> None:
    terms = msgspec.structs.replace(
        parse(SIGNED_BEFORE_SOURCES), source=SourceReference(kind="listing", id=7)
    )

    data = canonical(terms)

    assert data.endswith(b',"source":{"kind":"listing","id":7}}')
    assert parse(data) == terms


@given(
    trade=st.integers(min_value=1, max_value=NEGOTIATED_BIT - 1),
    position=st.integers(min_value=1, max_value=NEGOTIATED_BIT - 1),
    source=st.sampled_from([DealSource.LISTING, DealSource.RFQ]),
)
def test_no_other_source_ever_gets_a_book_contracts_id(
    trade: int, position: int, source: DealSource
) -> None:
    book = contract_id(_deal(DealSource.BOOK, global_id(COMMODITY, trade)), position)
    other = contract_id(_deal(source, 1), position)

    assert book == global_id(COMMODITY, trade)  # a book contract's id is its trade's
    assert other != book
    assert commodity_of(other) == commodity_of(book) == COMMODITY


@pytest.mark.parametrize(
    ("source", "source_id", "changes", "message"),
    [
        (DealSource.BOOK, global_id(COMMODITY, 1), {"trade": None}, "names its trade"),
        (DealSource.LISTING, 1, {"trade": BOOK_TRADE}, "names its trade"),
        (DealSource.LISTING, 1, {"buyer_id": 1}, "two parties"),
        (DealSource.RFQ, 1, {"quantity": 0}, "positive"),
        (DealSource.RFQ, 1, {"made_at": datetime(2026, 11, 23)}, "timezone"),  # noqa: DTZ001
        (DealSource.BOOK, global_id(COMMODITY + 1, 1), {}, "trade of its commodity"),
        (DealSource.BOOK, global_id(COMMODITY, NEGOTIATED_BIT | 1), {}, "trade of its"),
    ],
)
def test_a_deal_that_cannot_be_a_contract_is_refused(
    source: DealSource, source_id: int, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _deal(source, source_id, **changes)
