"""The machine's Redis (127.0.0.1:6379) for the tests that share state through it."""

from __future__ import annotations

import os

import pytest
import redis

REDIS_URL = 'redis://127.0.0.1:6379/0'


def require_redis() -> redis.Redis:
    """A client; in CI Redis must answer (the test fails), elsewhere the test skips, saying why."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get('CI', '').lower() in ('true', '1'):
            pytest.fail(f'CI=true: the Redis tests must run, but no Redis answers at {REDIS_URL} ({exc})', pytrace=False)
        pytest.skip(f'no Redis at {REDIS_URL}')
    return client
