"""Shared reads (issue 18): tabs asking the same thing at once share one read; failures are not kept; a change drops
what was kept; and each tab still checks who it is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from nanogen.coalesce import Shared
from nanogen.events import PromptEvent


async def test_callers_of_one_key_share_one_read_and_other_keys_do_not() -> None:
    shared: Shared[str] = Shared(max_age_s=5)
    started: list[str] = []
    gate = asyncio.Event()

    async def read(key: str) -> str:
        started.append(key)
        await gate.wait()
        return f'value of {key}'
    calls = [asyncio.ensure_future(shared.get(k, lambda k=k: read(k))) for k in ('a', 'a', 'a', 'b')]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*calls) == ['value of a'] * 3 + ['value of b']
    assert started == ['a', 'b'] and shared.reads == 2
    assert await shared.get('a', lambda: read('a')) == 'value of a'  # still fresh: no new read
    assert started == ['a', 'b']


async def test_a_result_expires_a_failure_is_not_kept_and_forget_drops_it() -> None:
    now = [100.0]
    shared: Shared[int] = Shared(max_age_s=1, clock=lambda: now[0])
    count = [0]

    async def read() -> int:
        count[0] += 1
        return count[0]

    async def broken() -> int:
        raise RuntimeError('database away')
    assert await shared.get('k', read) == 1
    now[0] += 0.5
    assert await shared.get('k', read) == 1
    now[0] += 0.6  # older than max_age: read again
    assert await shared.get('k', read) == 2
    shared.forget(lambda key: key == 'k')
    assert await shared.get('k', read) == 3
    with pytest.raises(RuntimeError):
        await shared.get('f', broken)
    assert await shared.get('f', read) == 4  # the failure was not kept


async def test_a_cancelled_waiter_does_not_cancel_the_read_the_others_wait_for() -> None:
    shared: Shared[str] = Shared(max_age_s=5)
    gate = asyncio.Event()

    async def read() -> str:
        await gate.wait()
        return 'done'
    first = asyncio.ensure_future(shared.get('k', read))
    second = asyncio.ensure_future(shared.get('k', read))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == 'done' and shared.reads == 1


async def test_shared_read_checks_every_tab_and_reads_once_per_burst() -> None:
    from pages import _live

    class Tab:  # the two methods shared_read uses of a PageContext
        def __init__(self) -> None:
            self.checks = 0
            self.user = type('U', (), {'id': 7})()

        async def require_user(self) -> None:
            self.checks += 1
    tabs = [Tab() for _ in range(3)]
    reads = [0]

    async def read() -> str:
        reads[0] += 1
        await asyncio.sleep(0)
        return 'budget'
    at = datetime(2026, 12, 3, tzinfo=UTC)
    batch = [PromptEvent(user_id=7, prompt_id=1, status='COMPLETED', at=at)]
    got = await asyncio.gather(*(_live.shared_read(t, ('budget', _live.burst(batch)), read)  # type: ignore[arg-type]
                                 for t in tabs))
    assert got == ['budget'] * 3 and reads[0] == 1 and [t.checks for t in tabs] == [1, 1, 1]
    later = [PromptEvent(user_id=7, prompt_id=1, status='COMPLETED', at=at.replace(second=1))]
    await _live.shared_read(tabs[0], ('budget', _live.burst(later)), read)  # type: ignore[arg-type]
    assert reads[0] == 2  # another burst: a fresh read
