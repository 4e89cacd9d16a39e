"""One clock for every rule that depends on time (due dates, grace, windows, closings).

The center reads time only through a `Clock`; tests and replays hand in a `ManualClock` and
move it, instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def nanoseconds(moment: datetime) -> int:
    """An aware time as integer nanoseconds since the epoch (exact, no float in between)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def ns_to_datetime(ns: int) -> datetime:
    """Integer nanoseconds since the epoch as an aware UTC time (to the microsecond)."""
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns // 1000) % 1_000_000
    )


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime.now(UTC)
        if self._now.tzinfo is None:
            raise ValueError("a clock keeps timezone-aware UTC time")

    def now(self) -> datetime:
        return self._now

    def advance(self, by: timedelta) -> datetime:
        if by < timedelta(0):
            raise ValueError("time does not run backwards")
        self._now += by
        return self._now

    def set(self, to: datetime) -> None:
        if to < self._now:
            raise ValueError("time does not run backwards")
        self._now = to
