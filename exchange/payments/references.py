"""Payment references: ISO 11649 creditor references ("RF" + two check digits + up to 21
letters and digits), so a mistyped reference is caught by its check digits, not misapplied.

The center's references say what they pay: `C<contract id>` a contract, `D<participant id>` a
deposit to the participant's available funds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BODY = re.compile(r"[0-9A-Z]{1,21}")
_REFERENCE = re.compile(r"RF[0-9]{2}[0-9A-Z]{1,21}")
_OURS = re.compile(r"([CD])([1-9][0-9]{0,19})")


def _numeric(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text))


def creditor_reference(body: str) -> str:
    """The ISO 11649 reference for `body` (letters and digits, at most 21)."""
    body = body.upper()
    if not _BODY.fullmatch(body):
        raise ValueError(f"{body!r} cannot be a creditor reference")
    check = 98 - _numeric(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def normalise(text: str) -> str:
    """As printed references are read: spaces dropped, upper case."""
    return "".join(text.split()).upper()


def is_valid(text: str) -> bool:
    """Whether `text` is an ISO 11649 reference whose check digits hold."""
    ref = normalise(text)
    return bool(_REFERENCE.fullmatch(ref)) and _numeric(ref[4:] + ref[:4]) % 97 == 1


def contract_reference(contract_id: int) -> str:
    return creditor_reference(f"C{contract_id}")


def deposit_reference(participant_id: int) -> str:
    return creditor_reference(f"D{participant_id}")


@dataclass(frozen=True, slots=True)
class Payee:
    """What a valid reference of ours pays: a contract or a participant's deposit."""

    kind: str  # "contract" or "deposit"
    id: int


def payee_of(text: str) -> Payee | None:
    """The contract or participant that a reference names; None if it is not a valid one of
    ours (a mistyped reference fails its check digits and names nothing)."""
    if not is_valid(text):
        return None
    match = _OURS.fullmatch(normalise(text)[4:])
    if match is None:
        return None
    return Payee("contract" if match[1] == "C" else "deposit", int(match[2]))
