"""Exact market arithmetic: integers in, integers out, rounding stated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exchange.messages.market import Interval
from exchange.units import round_half_up

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INTERVALS = {
    Interval.MINUTE: timedelta(minutes=1),
    Interval.HOUR: timedelta(hours=1),
    Interval.DAY: timedelta(days=1),
}


def vwap_minor(notional_tick_lots: int, volume_lots: int, tick_size_minor: int) -> int:
    """sum(price x quantity) / sum(quantity) in minor currency units, rounded half-up.

    `notional_tick_lots` is sum(price_ticks * quantity_lots); the lot size cancels out.
    """
    return round_half_up(notional_tick_lots * tick_size_minor, volume_lots)


def floor_time(moment: datetime, step: timedelta) -> datetime:
    """The start of the `step`-long bucket (counted from the Unix epoch, UTC) holding `moment`."""
    return EPOCH + (moment - EPOCH) // step * step


def ceil_time(moment: datetime, step: timedelta) -> datetime:
    floored = floor_time(moment, step)
    return floored if floored == moment else floored + step
