"""The per-user API rate limiter: bursts up to the rate, refills steadily, says when to come back."""

from __future__ import annotations

import pytest

from nanogen.accounts.ratelimit import RateLimiter
from nanogen.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_rate_then_429_with_retry_after_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)  # one a second on average
    for _ in range(60):
        limiter.hit(1)
    with pytest.raises(RateLimited) as err:
        limiter.hit(1)
    assert err.value.retry_after == pytest.approx(1.0) and err.value.http_status == 429
    assert 'limit is 60 a minute' in err.value.user_message
    limiter.hit(2)  # per user: someone else still has their allowance
    clock.now += 1.0
    limiter.hit(1)  # a second later one more is allowed
    with pytest.raises(RateLimited):
        limiter.hit(1)
    clock.now += 3600
    for _ in range(60):  # an idle hour refills to the burst size, not beyond
        limiter.hit(1)
    with pytest.raises(RateLimited):
        limiter.hit(1)


def test_retry_after_grows_with_a_slow_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    limiter.hit(7)
    limiter.hit(7)
    with pytest.raises(RateLimited) as err:
        limiter.hit(7)
    assert err.value.retry_after == pytest.approx(30.0)
