"""The simulator's fault plan (`exchange bank-sim --faults SEED`): which notifications are lost,
duplicated, delayed or reordered, which transfers answer too late, which payouts come back.

Every decision is a pure function of the seed and what it is about (a notification's type and
end-to-end id, a transfer's end-to-end id), drawn from SHA-256, so the same seed and the same
operations give the same faults whatever the timing, and a test can ask the plan in advance.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, fields, replace

import msgspec

from settlement.bank.messages import Notification, NotificationType


@dataclass(frozen=True)
class FaultRates:
    """Probabilities (0..1) of each fault, and how long the slow ones take (seconds)."""

    lose: float = 0.05  # a notification is never sent (it is in the statement)
    duplicate: float = 0.1  # ... is sent twice
    delay: float = 0.1  # ... is sent `delay_seconds` late, after later ones
    reorder: float = 0.1  # ... is held back and sent after the next one
    timeout: float = (
        0.05  # a new transfer is executed, its answer comes `answer_delay_seconds` late
    )
    returns: float = (
        0.05  # an executed payout from the center comes back after `return_after_seconds`
    )
    delay_seconds: float = 2.0
    answer_delay_seconds: float = 30.0
    return_after_seconds: float = 1.0

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name.endswith("_seconds"):
                if not 0 <= value <= 3600:
                    raise ValueError(f"{spec.name} must be between 0 and 3600 seconds")
            elif not 0 <= value <= 1:
                raise ValueError(f"the {spec.name} rate must be between 0 and 1")


def parse_rates(spec: str | None) -> FaultRates:
    """`"lose=0.2,duplicate=0.5,delay_seconds=1"` over the defaults; ValueError when unclear."""
    rates = FaultRates()
    if not spec:
        return rates
    names = {f.name for f in fields(FaultRates)}
    changes: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in names:
            raise ValueError(f"{part!r}: expected NAME=VALUE with NAME one of {sorted(names)}")
        try:
            changes[name] = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: {value!r} is not a number") from None
    return replace(rates, **changes)


class FaultKind(enum.StrEnum):
    LOST = "lost"
    DUPLICATED = "duplicated"
    DELAYED = "delayed"
    REORDERED = "reordered"
    TIMEOUT = "timeout"
    RETURNED = "returned"


class FaultRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One fault the simulator produced (`GET /v1/faults`)."""

    fault: FaultKind
    end_to_end_id: str
    event_id: str | None = None
    type: NotificationType | None = None


@dataclass(frozen=True)
class NotificationFaults:
    lose: bool = False
    duplicate: bool = False
    delay: float = 0.0  # seconds
    reorder: bool = False

    def records(self, notification: Notification) -> list[FaultRecord]:
        """What this plan does to `notification`, as fault records."""
        kinds = [
            (self.lose, FaultKind.LOST),
            (self.duplicate, FaultKind.DUPLICATED),
            (self.delay > 0, FaultKind.DELAYED),
            (self.reorder, FaultKind.REORDERED),
        ]
        return [
            FaultRecord(
                fault=kind,
                end_to_end_id=notification.end_to_end_id,
                event_id=notification.event_id,
                type=notification.type,
            )
            for happens, kind in kinds
            if happens
        ]


NO_FAULTS = NotificationFaults()


class FaultPlan:
    """The faults of one seed at the given rates."""

    def __init__(self, seed: int, rates: FaultRates | None = None) -> None:
        self.seed = seed
        self.rates = rates or FaultRates()

    def _draw(self, *key: str) -> float:
        """A number in [0, 1) fixed by the seed and `key`."""
        text = "|".join((str(self.seed), *key)).encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64

    def for_notification(self, notification: Notification) -> NotificationFaults:
        """What happens to this notification (see `for_event`)."""
        return self.for_event(notification.type, notification.end_to_end_id)

    def for_event(self, kind: NotificationType, end_to_end_id: str) -> NotificationFaults:
        """What happens to the notification of this type about this transfer. A lost one is
        sent in no form; a rejected payout (nothing booked, so in no statement) is never lost."""
        key = (kind.value, end_to_end_id)
        rates = self.rates
        if kind is not NotificationType.PAYOUT_REJECTED and self._draw("lose", *key) < rates.lose:
            return NotificationFaults(lose=True)
        delayed = self._draw("delay", *key) < rates.delay
        return NotificationFaults(
            duplicate=self._draw("duplicate", *key) < rates.duplicate,
            delay=rates.delay_seconds if delayed else 0.0,
            reorder=not delayed and self._draw("reorder", *key) < rates.reorder,
        )

    def times_out(self, end_to_end_id: str) -> bool:
        """Whether the first answer to this transfer comes too late (after it was executed)."""
        return self._draw("timeout", end_to_end_id) < self.rates.timeout

    def returns(self, end_to_end_id: str) -> bool:
        """Whether this payout from the center comes back once executed."""
        return self._draw("return", end_to_end_id) < self.rates.returns
