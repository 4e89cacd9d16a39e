"""The split of escrow on release: every minor unit goes somewhere, none is made."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.payments.settle import split


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, int, int, Fraction]:
    amount = draw(st.integers(1, 10**15))
    fee = draw(st.integers(0, amount))
    held = draw(st.integers(0, amount))
    denominator = draw(st.integers(1, 10**6))
    share = Fraction(draw(st.integers(0, denominator)), denominator)
    return held, amount, fee, share


@given(cases())
def test_seller_fee_and_buyer_add_up_to_what_escrow_holds(case):
    held, amount, fee, share = case

    parts = split(held, amount, fee, share)

    assert parts.seller + parts.fee + parts.buyer == held
    assert min(parts.seller, parts.fee, parts.buyer) >= 0


@given(st.integers(1, 10**15).flatmap(lambda a: st.tuples(st.just(a), st.integers(0, a))))
def test_a_full_release_takes_exactly_the_contract_fee(amount_fee):
    amount, fee = amount_fee

    parts = split(amount, amount, fee, Fraction(1))

    assert (parts.seller, parts.fee, parts.buyer) == (amount - fee, fee, 0)


@pytest.mark.parametrize(
    ("held", "amount", "fee", "share", "expected"),
    [
        (123711, 123711, 309, Fraction(1, 2), (61856 - 155, 155, 61855)),  # .5 rounds up
        (7, 7, 0, Fraction(1, 3), (2, 0, 5)),
        (100, 100, 1, Fraction(1, 3), (33, 0, 67)),  # fee 0.33 rounds down
    ],
)
def test_rounding_is_half_up(held, amount, fee, share, expected):
    parts = split(held, amount, fee, share)

    assert (parts.seller, parts.fee, parts.buyer) == expected


def test_nonsense_is_refused():
    with pytest.raises(ValueError, match="share"):
        split(10, 5, 1, Fraction(1))
