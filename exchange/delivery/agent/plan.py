"""The simulated driver's plan for one task (pure: no I/O, no clock).

A plan is drawn from SHA-256 of the seed and the task id, so one seed gives every task the same
plan in any order and at any timing. Without a seed every task goes the happy way with the
base delays. Delays are in simulated seconds; the agent divides them by `--speed`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from decimal import Decimal

# simulated seconds: what a regional node takes, roughly
BASE_DELAYS = {"accept": 5.0, "pickup": 1800.0, "transit": 3600.0, "deliver": 1200.0}
LOCATIONS = ("left the depot", "on the ring road", "at the regional hub", "in the delivery zone")
FAILURES = ("truck broke down", "road closed", "goods damaged on loading")


@dataclass(frozen=True)
class Rates:
    """How often a seeded plan ends short or failed (each 0 to 1, together at most 1)."""

    shortage: float = 0.1
    failure: float = 0.05

    def __post_init__(self) -> None:
        if not (0 <= self.shortage <= 1 and 0 <= self.failure <= 1):
            raise ValueError("rates are between 0 and 1")
        if self.shortage + self.failure > 1:
            raise ValueError("shortage and failure rates add up to more than 1")


@dataclass(frozen=True)
class Step:
    """Wait `delay` simulated seconds, then post `event` (its fields without `type`)."""

    delay: float
    event: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    task_id: int
    steps: tuple[Step, ...]
    outcome: str  # "delivered", "shortage" (then delivered short) or "failed"
    delivered_quantity: str  # what the driver will hand over (for "failed", nothing: "0")


def _draw(seed: int, task_id: int) -> random.Random:
    digest = hashlib.sha256(f"node-agent:{seed}:{task_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _short_of(quantity: str, fraction: int) -> str | None:
    """`fraction` percent of `quantity`, cut to the decimals it really has ("4.000000" counts
    in whole units, "7.25" in hundredths); None when that is zero or the whole (a quantity too
    small to fall short of)."""
    whole = Decimal(quantity)
    exponent = whole.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    step = Decimal(1).scaleb(-places)
    part = (whole * fraction / 100).quantize(step, rounding="ROUND_DOWN")
    return str(part) if 0 < part < whole else None


def plan_for(task_id: int, quantity: str, seed: int | None, rates: Rates | None = None) -> Plan:
    """The plan for task `task_id` carrying `quantity` (a decimal string)."""
    rates = rates or Rates()
    if seed is None:
        return _happy(task_id, quantity, dict(BASE_DELAYS), [LOCATIONS[0]])
    draw = _draw(seed, task_id)
    delays = {name: base * draw.uniform(0.5, 1.5) for name, base in BASE_DELAYS.items()}
    notes = [LOCATIONS[i] for i in sorted(draw.sample(range(len(LOCATIONS)), draw.randint(1, 3)))]
    roll = draw.random()
    if roll < rates.failure:
        return _failed(task_id, delays, notes, draw.choice(FAILURES), draw.randint(0, 2))
    short = None
    if roll < rates.failure + rates.shortage:
        short = _short_of(quantity, draw.randint(50, 95))
    if short is None:
        return _happy(task_id, quantity, delays, notes)
    steps = list(_happy(task_id, short, delays, notes).steps)
    steps.insert(2, Step(0.0, "shortage", {"available_quantity": short}))
    return Plan(task_id, tuple(steps), "shortage", short)


def _happy(task_id: int, quantity: str, delays: dict[str, float], notes: list[str]) -> Plan:
    transit = delays["transit"] / len(notes)
    steps = [Step(delays["accept"], "accepted"), Step(delays["pickup"], "picked_up")]
    steps += [Step(transit, "in_transit", {"location": note}) for note in notes]
    steps.append(Step(delays["deliver"], "delivered", {"delivered_quantity": quantity}))
    return Plan(task_id, tuple(steps), "delivered", quantity)


def _failed(
    task_id: int, delays: dict[str, float], notes: list[str], reason: str, after: int
) -> Plan:
    """Fails after `after` of: accepting (0), picking up (1), the first transit note (2)."""
    happy = _happy(task_id, "0", delays, notes).steps
    kept = happy[: after + 1]
    failing = Step(delays["deliver"], "failed", {"reason": reason})
    return Plan(task_id, (*kept, failing), "failed", "0")
