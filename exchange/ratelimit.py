"""Per-key token buckets: a burst is allowed, a sustained flood gets 429."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Token bucket per API key id, refilled continuously."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}

    def take(self, key_id: int) -> float:
        """Spend one token; return 0 if allowed, else the seconds until one is available."""
        now = self._clock()
        tokens, last = self._buckets.get(key_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= 1:
            self._buckets[key_id] = (tokens - 1, now)
            return 0.0
        self._buckets[key_id] = (tokens, now)
        return (1 - tokens) / self._rate
