"""IBAN-like account numbers (ISO 13616 layout and mod-97 check digits) for the simulated bank:
country `XB` (no country's code), bank code `SIMB`, a ten-digit account serial."""

from __future__ import annotations

COUNTRY = "XB"
BANK_CODE = "SIMB"


def _digits(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text))


def account_number(serial: int) -> str:
    """The `serial`-th account's number, e.g. XB51SIMB0000000001."""
    bban = f"{BANK_CODE}{serial:010d}"
    check = 98 - _digits(bban + COUNTRY + "00") % 97
    return f"{COUNTRY}{check:02d}{bban}"


def is_valid(number: str) -> bool:
    """Whether `number` has the layout and its check digits hold."""
    if len(number) != 18 or not number.isascii() or not number.isalnum():
        return False
    return _digits(number[4:] + number[:4]) % 97 == 1
