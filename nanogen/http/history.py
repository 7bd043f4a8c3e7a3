"""Routes beside the history page: the CSV export of a user's prompts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from nanogen.csvfile import csv_lines
from nanogen.http.identity import current_identity
from nanogen.library.filters import history_query
from nanogen.models import Prompt

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

log = logging.getLogger(__name__)
CSV_COLUMNS = ('id', 'created_at', 'status', 'prompt', 'size', 'aspect_ratio', 'num_images', 'watermark',
               'estimated_cost', 'cost', 'duration_ms', 'error', 'completed_at')
CSV_PAGE = 1000
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
        first = await services.library.prompts(identity.id, query, limit=CSV_PAGE)

        async def body() -> AsyncIterator[str]:
            yield csv_lines([list(CSV_COLUMNS)])
            page = first
            while True:
                yield csv_lines([csv_row(p) for p in page.items])
                if page.next_cursor is None:
                    return
                page = await services.library.prompts(identity.id, query, cursor=page.next_cursor, limit=CSV_PAGE)

        log.info('user %s exported their history as CSV', identity.id)
        filename = f'nanogen-history-{datetime.now(UTC):%Y%m%d}.csv'
        return StreamingResponse(body(), media_type='text/csv; charset=utf-8',
                                 headers={'Content-Disposition': f'attachment; filename="{filename}"',
                                          'Cache-Control': 'no-store'})

    return router
