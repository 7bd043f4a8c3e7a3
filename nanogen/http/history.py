"""Routes beside the history page: the CSV export of a user's prompts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from nanogen.config import SIZES
from nanogen.csvfile import csv_lines
from nanogen.errors import InvalidInput
from nanogen.http.identity import current_identity
from nanogen.library.queries import PROMPT_SORTS, PromptQuery, list_prompts
from nanogen.models import Prompt

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

log = logging.getLogger(__name__)
CSV_COLUMNS = ('id', 'created_at', 'status', 'prompt', 'size', 'aspect_ratio', 'num_images', 'watermark',
               'estimated_cost', 'cost', 'duration_ms', 'error', 'completed_at')
CSV_PAGE = 1000
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f'Write the date as YYYY-MM-DD, like 2026-01-31 (got "{value[:20]}").',
                           field=field) from None
    if not FIRST_DAY <= day <= LAST_DAY:  # the range arithmetic and the databases need room on both sides
        raise InvalidInput(f'Use a date between {FIRST_DAY} and {LAST_DAY}.', field=field)
    return day


def history_query(*, status: str | None = None, size: int | str | None = None, search: str | None = None,
                  date_from: str | date | None = None, date_to: str | date | None = None,
                  sort: str = 'newest') -> PromptQuery:
    """The history filters as a PromptQuery; dates are whole UTC days, both ends included."""
    start = date_from if isinstance(date_from, date) else _day(date_from, 'date_from')
    end = date_to if isinstance(date_to, date) else _day(date_to, 'date_to')
    if start and end and start > end:
        raise InvalidInput('The start date must not be after the end date.', field='date_from')
    size_int: int | None = None
    if size not in (None, ''):
        try:
            size_int = int(size)  # type: ignore[arg-type]
            if size_int not in SIZES:
                raise ValueError(size)
        except (TypeError, ValueError):
            raise InvalidInput('Choose a size of 512, 768, 1024 or 1536 pixels.', field='size') from None
    if sort not in PROMPT_SORTS:
        raise InvalidInput(f'Sort by one of: {", ".join(PROMPT_SORTS)}.', field='sort')
    return PromptQuery(status=(status or None) and status.upper(), size=size_int, search=search or None,
                       date_from=datetime(start.year, start.month, start.day, tzinfo=UTC) if start else None,
                       date_to=(datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)) if end else None,
                       sort=sort)  # type: ignore[arg-type]


def csv_row(p: Prompt) -> list[object]:
    return [p.id, p.created_at.isoformat(), p.status, p.prompt, p.image_size, p.aspect_ratio, p.num_images,
            p.watermark, p.estimated_cost, p.cost, p.duration_ms, p.error_message,
            p.completed_at.isoformat() if p.completed_at else None]


def build_history_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get('/history.csv')
    async def history_csv(request: Request, status: str | None = None, size: str | None = None,
                          search: str | None = None, date_from: str | None = None, date_to: str | None = None,
                          sort: str = 'newest') -> Response:
        identity = current_identity(request)
        query = history_query(status=status, size=size, search=search, date_from=date_from, date_to=date_to,
                              sort=sort)
        # The first page is read before answering, so bad filters get a 422 instead of a broken download.
        first = await list_prompts(services.db, identity.id, query, limit=CSV_PAGE)

        async def body() -> AsyncIterator[str]:
            yield csv_lines([list(CSV_COLUMNS)])
            page = first
            while True:
                yield csv_lines([csv_row(p) for p in page.items])
                if page.next_cursor is None:
                    return
                page = await list_prompts(services.db, identity.id, query, cursor=page.next_cursor, limit=CSV_PAGE)

        log.info('user %s exported their history as CSV', identity.id)
        filename = f'nanogen-history-{datetime.now(UTC):%Y%m%d}.csv'
        return StreamingResponse(body(), media_type='text/csv; charset=utf-8',
                                 headers={'Content-Disposition': f'attachment; filename="{filename}"',
                                          'Cache-Control': 'no-store'})

    return router
