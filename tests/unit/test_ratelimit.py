"""The per-user API rate limiter (limits, fixed one-minute windows): up to the rate, then 429 saying when to come back."""

from __future__ import annotations

import logging

import pytest
from limits.storage import MemoryStorage

from nanogen.accounts.ratelimit import RateLimiter
from nanogen.errors import RateLimited


def test_up_to_the_rate_then_429_with_retry_after_per_user() -> None:
    limiter = RateLimiter(60)
    for _ in range(60):
        limiter.hit(1)
    with pytest.raises(RateLimited) as err:
        limiter.hit(1)
    assert 1.0 <= err.value.retry_after <= 60.0 and err.value.http_status == 429
    assert 'limit is 60 a minute' in err.value.user_message
    limiter.hit(2)  # per user: someone else still has their allowance
    limiter.storage.reset()  # the window ends
    limiter.hit(1)


def test_two_limiters_on_one_storage_share_the_count_and_namespaces_do_not() -> None:
    storage = MemoryStorage()
    a, b = RateLimiter(3, storage=storage), RateLimiter(3, storage=storage)
    other = RateLimiter(3, storage=storage, namespace='another-install')
    a.hit(7)
    b.hit(7)
    a.hit(7)
    with pytest.raises(RateLimited):
        b.hit(7)
    other.hit(7)


class BrokenStorage(MemoryStorage):
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise ConnectionError('counter unreachable')


def test_a_failing_storage_lets_requests_through_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(1, storage=BrokenStorage())
    with caplog.at_level(logging.WARNING, logger='nanogen.accounts.ratelimit'):
        limiter.hit(1)
        limiter.hit(1)
    assert 'request let through' in caplog.text
