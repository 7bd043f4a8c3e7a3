"""Read every page of a cursor-paginated list, for tests that check paging neither skips nor repeats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


async def all_pages(fetch: Callable[..., Awaitable[Any]], limit: int) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(1000):
        page = await fetch(cursor=cursor, limit=limit)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise AssertionError('pagination never ended')
