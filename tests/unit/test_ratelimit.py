from exchange.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal_then_refill():
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=3, clock=clock)

    allowed = [limiter.take(1) for _ in range(3)]
    refused = limiter.take(1)
    clock.now += 0.11
    after_refill = limiter.take(1)

    assert allowed == [0.0, 0.0, 0.0]
    assert refused > 0
    assert after_refill == 0.0


def test_keys_have_separate_buckets():
    limiter = RateLimiter(rate=1, burst=1, clock=Clock())

    assert limiter.take(1) == 0.0
    assert limiter.take(2) == 0.0
    assert limiter.take(1) > 0
