"""Token buckets: a burst is allowed, a sustained flood gets 429.

Requests are limited per participant (however many keys it holds), and failed
authentications per client address (unknown or revoked keys cost a database lookup each).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

DEFAULT_MAX_BUCKETS = 100_000


class RateLimiter:
    """Token bucket per key (a participant id, a client address), refilled continuously.

    At most `max_buckets` buckets are kept: beyond that the one used longest ago goes. A
    forgotten bucket comes back full, which is what it would have been after `burst / rate`
    seconds of quiet anyway; the bound keeps memory fixed however many keys appear.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._max_buckets = max_buckets
        # insertion order is use order: every access moves a bucket to the end
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, key: Hashable, now: float) -> float:
        tokens, last = self._buckets.pop(key, (self._burst, now))
        return min(self._burst, tokens + (now - last) * self._rate)

    def _keep(self, key: Hashable, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_buckets:
            del self._buckets[next(iter(self._buckets))]

    def take(self, key: Hashable) -> float:
        """Spend one token; return 0 if allowed, else the seconds until one is available."""
        now = self._clock()
        tokens = self._tokens(key, now)
        if tokens >= 1:
            self._keep(key, tokens - 1, now)
            return 0.0
        self._keep(key, tokens, now)
        return (1 - tokens) / self._rate

    def wait(self, key: Hashable) -> float:
        """The seconds until `take` would allow this key (0: now), spending nothing."""
        now = self._clock()
        tokens = self._tokens(key, now)
        self._keep(key, tokens, now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self._rate


@dataclass(frozen=True, slots=True)
class Limits:
    """The limiters of one process: requests per participant, failed logins per address."""

    participants: RateLimiter
    failed_auth: RateLimiter


def retry_after(wait: float) -> str:
    """The `Retry-After` header value (whole seconds, at least 1) for a wait in seconds."""
    return str(max(1, round(wait + 0.5)))
