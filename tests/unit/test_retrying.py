"""Unit tests of the one retry policy: each named predicate (what is retried), the backoff shapes and the retryer."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import httpx
import psycopg
import pytest
import sqlalchemy as sa

from nanogen import retrying
from nanogen.errors import ProviderBadResponse, ProviderRateLimited, ProviderRejected, ProviderUnavailable, StorageError
from nanogen.generation.relay import connection_failed
from nanogen.images.s3 import _is_retryable as storage_retryable
from nanogen.provider.wire import error_for_code, never_sent, retryable_code, retryable_status

# Every envelope code the contract names (and one it does not): True = another try can succeed.
ENVELOPE_CODES = {400: False, 401: False, 402: False, 404: False, 422: False, 429: True, 455: True, 500: True,
                  501: False, 505: False, 999: False}


@pytest.mark.parametrize('code, retried', sorted(ENVELOPE_CODES.items()))
def test_each_envelope_code_is_retried_or_not(code: int, retried: bool) -> None:
    """Issue 13 (one retry policy): the provider client's envelope rule, code by code."""
    assert retryable_code(code) is retried
    error = error_for_code(code)
    assert retrying.provider_may_succeed_later(error) is retried
    assert isinstance(error, ProviderRejected) is not retried
    assert isinstance(error, ProviderRateLimited) is (code == 429)


@pytest.mark.parametrize('status, retried', [(200, False), (400, False), (401, False), (402, False), (404, False),
                                             (422, False), (428, False), (429, True), (499, False), (500, True),
                                             (502, True), (503, True), (504, True), (505, True)])
def test_each_http_status_is_retried_or_not(status: int, retried: bool) -> None:
    """Issue 13: HTTP 429 and every 5xx mean "later" whatever the envelope says (HTTP 505 too, unlike code 505)."""
    assert retryable_status(status) is retried


@pytest.mark.parametrize('error, sent', [
    (httpx.ConnectError('refused'), False), (httpx.ConnectTimeout('slow'), False), (httpx.PoolTimeout('full'), False),
    (httpx.ReadTimeout('slow'), True), (httpx.WriteError('eof'), True), (httpx.RemoteProtocolError('eof'), True),
])
def test_only_requests_that_never_left_count_as_unsent(error: httpx.TransportError, sent: bool) -> None:
    """Issue 13: a submit may be resent only when it never reached the service (else it may have been billed)."""
    assert never_sent(error) is not sent


def test_provider_errors_retried_by_their_flag() -> None:
    """Issue 13: the policy retries what the client marked retryable, and nothing else."""
    assert retrying.provider_may_succeed_later(ProviderUnavailable('x'))
    assert retrying.provider_may_succeed_later(ProviderBadResponse('x'))  # unreadable reads are retried
    final = ProviderBadResponse('x')
    final.retryable = False  # the client's mark for a lost submit answer
    assert not retrying.provider_may_succeed_later(final)
    assert not retrying.provider_may_succeed_later(ProviderRejected('x'))
    assert not retrying.provider_may_succeed_later(StorageError('x'))


def _client_error(status: int, code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({'Error': {'Code': code}, 'ResponseMetadata': {'HTTPStatusCode': status}},
                                           'PutObject')


@pytest.mark.parametrize('error, retried', [
    (_client_error(503, 'SlowDown'), True), (_client_error(500, 'InternalError'), True),
    (_client_error(429, 'TooManyRequests'), True), (_client_error(400, 'RequestTimeout'), True),
    (_client_error(403, 'AccessDenied'), False), (_client_error(404, 'NoSuchKey'), False),
    (_client_error(400, 'InvalidArgument'), False),
    (botocore.exceptions.EndpointConnectionError(endpoint_url='http://s3'), True),
    (botocore.exceptions.ParamValidationError(report='bad'), False),
])
def test_storage_failures_retried_or_not(error: Exception, retried: bool) -> None:
    """Issue 13: the object store's rule (network, 5xx, 429, throttling codes)."""
    assert storage_retryable(error) is retried


def test_service_level_predicates() -> None:
    """Issue 13: what the generation service and the relay wait out."""
    assert retrying.storage_failed(StorageError('x')) and not retrying.storage_failed(ProviderUnavailable('x'))
    assert retrying.database_unavailable(sa.exc.OperationalError('s', {}, Exception('gone')))
    assert not retrying.database_unavailable(sa.exc.IntegrityError('s', {}, Exception('dup')))
    assert connection_failed(psycopg.OperationalError('gone')) and not connection_failed(ValueError('x'))


@pytest.mark.parametrize('jitter, rng, expected', [
    ('none', 0.3, [1.0, 2.0, 4.0, 5.0]),
    ('full', 0.5, [0.5, 1.0, 2.0, 2.5]),
    ('equal', 0.0, [0.5, 1.0, 2.0, 2.5]),
    ('equal', 1.0, [1.0, 2.0, 4.0, 5.0]),
    ('spread', 1.0, [1.5, 3.0, 6.0, 7.5]),
])
def test_backoff_shapes(jitter: retrying.Jitter, rng: float, expected: list[float]) -> None:
    """Issue 13: one exponential, capped backoff; the jitter names how delays are spread."""
    backoff = retrying.Backoff(1.0, 5.0, jitter=jitter)
    assert [backoff.delay(n, lambda: rng) for n in range(1, 5)] == expected


async def test_retryer_stops_raises_and_honours_retry_after() -> None:
    """Issue 13: retries what the predicate accepts up to the attempts, waits at least a capped Retry-After,
    raises the last error, and raises a refused error at once."""
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    calls: list[int] = []

    async def flaky() -> Any:
        calls.append(1)
        error = ProviderUnavailable(f'try {len(calls)}')
        error.retry_after = 100.0 if len(calls) == 2 else None
        raise error

    retryer = retrying.retrying(retry_if=retrying.provider_may_succeed_later, attempts=3, rng=lambda: 0.0,
                                backoff=retrying.Backoff(1.0, 8.0, jitter='full'), retry_after=retrying.retry_after_of,
                                sleep=sleep)
    with pytest.raises(ProviderUnavailable, match='try 3'):
        await retryer(flaky)
    assert len(calls) == 3 and slept == [0.0, 8.0]

    async def rejected() -> Any:
        calls.append(1)
        raise ProviderRejected('no')

    calls.clear()
    with pytest.raises(ProviderRejected):
        await retrying.retrying(retry_if=retrying.provider_may_succeed_later, attempts=5, sleep=sleep,
                                backoff=retrying.Backoff(1.0, 8.0))(rejected)
    assert len(calls) == 1


async def test_deadline_stops_before_a_wait_that_would_end_past_it() -> None:
    """Issue 13: with a deadline, the retryer gives up instead of sleeping past it, and give_up decides."""
    left = [10.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        left[0] -= delay

    async def down() -> Any:
        raise StorageError('down')

    retryer = retrying.retrying(retry_if=retrying.storage_failed, backoff=retrying.Backoff(1.0, 15.0),
                                deadline=lambda: left[0], sleep=sleep, give_up=lambda state: 'gave up')
    assert await retryer(down) == 'gave up'
    assert slept == [1.0, 2.0, 4.0]  # 3 s left, the next wait (8 s) would end past the deadline


async def test_a_retryer_is_freed_by_reference_counting_once_its_call_ends() -> None:
    """Issue 18: tenacity keeps its last round's actions (the retryer's own bound methods): one reference cycle per
    call, thousands at 1,000 generations in flight, left for the garbage collector. Ours drops them."""
    import gc
    import weakref

    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ProviderUnavailable('later')
        return 'done'

    async def no_wait(seconds: float) -> None:
        return None

    retryer = retrying.retrying(retry_if=retrying.provider_may_succeed_later, attempts=3, sleep=no_wait,
                                backoff=retrying.Backoff(1.0, 8.0))
    assert await retryer(flaky) == 'done' and len(calls) == 2
    ref = weakref.ref(retryer)
    gc.collect()
    gc.disable()
    try:
        del retryer
        assert ref() is None, 'the retryer outlived its call: it waits for the garbage collector'
    finally:
        gc.enable()
