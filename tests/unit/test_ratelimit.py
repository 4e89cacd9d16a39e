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


def test_wait_tells_without_spending():
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, clock=clock)

    assert limiter.wait("10.0.0.1") == 0.0
    assert limiter.take("10.0.0.1") == 0.0
    waiting = limiter.wait("10.0.0.1")
    clock.now += 0.5

    assert waiting == 1.0
    assert limiter.wait("10.0.0.1") == 0.5


def test_memory_stays_bounded_and_the_least_recently_used_bucket_goes():
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, clock=clock, max_buckets=100)
    limiter.take("busy")

    for n in range(10_000):
        limiter.take(f"address-{n}")
        if n % 50 == 0:
            limiter.take("busy")  # used again and again: never the one to go

    assert len(limiter) == 100
    assert limiter.wait("busy") > 0  # its bucket was kept, still empty
