import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.units import UnitsError, currency_exponent, format_scaled, parse_scaled


@pytest.mark.parametrize(
    ("text", "scale", "value"),
    [("12.50", 2, 1250), ("12.5", 2, 1250), ("12", 2, 1200), ("0.001", 6, 1000), ("7", 0, 7)],
)
def test_parse_is_exact(text, scale, value):
    assert parse_scaled(text, scale) == value


@pytest.mark.parametrize("text", ["1.234", "-1", "1e3", "", "1.", ".5", "0x10", " 1"])
def test_parse_refuses_what_it_cannot_hold_exactly(text):
    with pytest.raises(UnitsError):
        parse_scaled(text, 2)


def test_trailing_zeros_beyond_the_scale_are_harmless():
    assert parse_scaled("1.2300", 2) == 123


@given(st.integers(min_value=0, max_value=10**17), st.integers(min_value=0, max_value=8))
def test_format_then_parse_round_trips(value, scale):
    assert parse_scaled(format_scaled(value, scale), scale) == value


def test_format_keeps_the_minor_digits():
    assert format_scaled(1250, 2) == "12.50"
    assert format_scaled(-5, 2) == "-0.05"
    assert format_scaled(42, 0) == "42"


def test_currency_exponents():
    assert currency_exponent("EUR") == 2
    assert currency_exponent("JPY") == 0
    with pytest.raises(UnitsError):
        currency_exponent("XXX")
