"""Shared reads: callers asking for the same key at the same moment share one read (issue 18).

A user with ten tabs open gets ten live refreshes for one burst of events; each used to run the same query (the
budget left, the prompts that changed, the session check). With `Shared`, the first caller starts the read and the
others await the same result, which stays good for `max_age_s` from when its read began. A failed read is not kept: the
next caller tries again. Keys must name whose data it is (a user id, a session): results are only ever shared
between callers asking for the very same key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar('T')
MAX_KEYS = 10_000


class Shared(Generic[T]):
    def __init__(self, max_age_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, asyncio.Future[T]]] = {}
        self.reads = 0  # how many reads were started (tests and the capacity bench look)

    async def get(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry is not None:
            started, future = entry
            if not future.done() or (not future.cancelled() and future.exception() is None
                                     and self.clock() - started < self.max_age_s):
                return await asyncio.shield(future)
        if len(self._entries) >= MAX_KEYS:
            self._entries = {k: e for k, e in self._entries.items() if not e[1].done()}
        self.reads += 1
        future = asyncio.ensure_future(read())
        self._entries[key] = (self.clock(), future)
        future.add_done_callback(lambda f: self._forget_failure(key, f))
        return await asyncio.shield(future)

    def _forget_failure(self, key: Hashable, future: asyncio.Future[T]) -> None:
        if future.cancelled() or future.exception() is not None:
            entry = self._entries.get(key)
            if entry is not None and entry[1] is future:
                del self._entries[key]

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        """Drop every kept result whose key matches (the data behind it changed)."""
        for key in [k for k in self._entries if match(k)]:
            del self._entries[key]
