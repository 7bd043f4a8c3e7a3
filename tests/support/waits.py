"""Waiting for a condition in tests that talk to real things: poll until true, fail loudly on the deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = 'condition') -> None:
    """Await `predicate()` every 50 ms until it is true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f'{what} not reached in {timeout:.0f} s')
        await asyncio.sleep(0.05)
