"""One retry policy for nanogen: tenacity retryers built from a named predicate, one backoff shape and a stop.

Every retry loop in nanogen says WHAT may succeed later (a predicate over the exception, named below or next to the
wire it reads) and how patient to be (a number of attempts, or a deadline). The delays all come from `Backoff`:
exponential from `base`, capped at `cap`, with a named jitter, optionally raised to a server's Retry-After (capped
too, so no header stalls a job). Sleep, clock and randomness are parameters, so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
import tenacity
from tenacity import RetryCallState as RetryCallState  # re-exported: callers annotate retrying.RetryCallState

from nanogen.errors import ProviderError, StorageError

Sleep = Callable[[float], Awaitable[Any]]
Rng = Callable[[], float]
# none: the nominal delay; full: 0..delay (spreads many clients furthest); equal: delay/2..delay (still grows);
# spread: delay/2..1.5*delay around the nominal one.
Jitter = Literal['none', 'full', 'equal', 'spread']

# The database is away or busy. PendingRollbackError is how a connection dropped mid-transaction (e.g. a PostgreSQL
# restart) can surface when the session is closed, masking the OperationalError underneath.
DB_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.PendingRollbackError)


# ---------------------------------------------------------------- what may succeed later
def provider_may_succeed_later(exc: BaseException) -> bool:
    """A provider failure worth another try: 429, 455, 500, HTTP 5xx, network, unreadable reads (see errors.py).

    The client decides `retryable` per error from the wire rules in nanogen.provider.wire (retryable_code,
    retryable_status, never_sent); a lost submit answer is marked final there, so it is never resent."""
    return isinstance(exc, ProviderError) and exc.retryable


def storage_failed(exc: BaseException) -> bool:
    """The object store refused or could not be reached, after its own retries (the service waits it out)."""
    return isinstance(exc, StorageError)


def database_unavailable(exc: BaseException) -> bool:
    """The database is away or busy (a restart, a lock timeout): the same statement can succeed later."""
    return isinstance(exc, DB_UNAVAILABLE)


# ---------------------------------------------------------------- how long to wait
@dataclass(frozen=True)
class Backoff:
    base: float
    cap: float
    jitter: Jitter = 'none'

    def nominal(self, retry: int) -> float:
        """The delay before retry number `retry` (1 = the first retry) before jitter."""
        return float(min(self.cap, self.base * 2 ** (retry - 1)))

    def delay(self, retry: int, rng: Rng = random.random) -> float:
        delay = self.nominal(retry)
        if self.jitter == 'full':
            return rng() * delay
        if self.jitter == 'equal':
            return delay / 2 + rng() * delay / 2
        if self.jitter == 'spread':
            return delay * (0.5 + rng())
        return delay


class wait_backoff(tenacity.wait.wait_base):
    """Tenacity wait from a Backoff; with `retry_after`, at least the server's hint (capped at the backoff's cap)."""

    def __init__(self, backoff: Backoff, *, rng: Rng = random.random,
                 retry_after: Callable[[BaseException], float | None] | None = None) -> None:
        self.backoff, self.rng, self.retry_after = backoff, rng, retry_after

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = self.backoff.delay(retry_state.attempt_number, self.rng)
        error = failure(retry_state)
        hint = self.retry_after(error) if self.retry_after is not None and error is not None else None
        if hint is not None:
            delay = max(delay, min(hint, self.backoff.cap))
        return delay


def retry_after_of(exc: BaseException) -> float | None:
    """The Retry-After seconds the client attached to a provider error (None: the server gave none)."""
    value = getattr(exc, 'retry_after', None)
    return value if isinstance(value, int | float) else None


class stop_before_deadline(tenacity.stop.stop_base):
    """Stop when the next (nominal) wait would not end before the deadline; `seconds_left` reads the caller's clock."""

    def __init__(self, seconds_left: Callable[[], float], backoff: Backoff) -> None:
        self.seconds_left, self.backoff = seconds_left, backoff

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.seconds_left() <= self.backoff.nominal(retry_state.attempt_number)


# ---------------------------------------------------------------- the retryer
def failure(retry_state: RetryCallState) -> BaseException | None:
    """The exception of the attempt that just ended (None when it returned)."""
    outcome = retry_state.outcome
    return outcome.exception() if outcome is not None and outcome.failed else None


class _Retrying(tenacity.AsyncRetrying):
    """tenacity's AsyncRetrying, which drops its last round's actions when a call ends: they are the retryer's own
    bound methods, a reference cycle per call that waited for the garbage collector (issue 18: one per provider call
    and storage write, thousands at 1,000 generations in flight)."""

    async def __call__(self, fn: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return await super().__call__(fn, *args, **kwargs)
        finally:
            self.iter_state.reset()


def retrying(*, retry_if: Callable[[BaseException], bool], backoff: Backoff, attempts: int | None = None,
             deadline: Callable[[], float] | None = None, rng: Rng = random.random,
             retry_after: Callable[[BaseException], float | None] | None = None, sleep: Sleep = asyncio.sleep,
             before_sleep: Callable[[RetryCallState], Any] | None = None,
             give_up: Callable[[RetryCallState], Any] | None = None) -> tenacity.AsyncRetrying:
    """An AsyncRetrying: retry what `retry_if` accepts, at most `attempts` tries and/or until `deadline` (seconds
    left), waiting by `backoff`. An error `retry_if` refuses is raised at once; when patience runs out, `give_up`
    decides (raise a mapped error, or return a value), else the last error is raised as it was."""
    stops: list[tenacity.stop.stop_base] = []
    if attempts is not None:
        stops.append(tenacity.stop_after_attempt(max(1, attempts)))
    if deadline is not None:
        stops.append(stop_before_deadline(deadline, backoff))

    async def nap(seconds: float) -> None:
        await sleep(float(seconds))  # tenacity hands a float subclass; callers and tests see plain floats

    return _Retrying(
        retry=tenacity.retry_if_exception(retry_if),
        wait=wait_backoff(backoff, rng=rng, retry_after=retry_after),
        stop=tenacity.stop_any(*stops) if stops else tenacity.stop_never,
        sleep=nap, before_sleep=before_sleep, retry_error_callback=give_up, reraise=True)
