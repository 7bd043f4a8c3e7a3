"""GET /api/v1/me (who you are) and GET /api/v1/me/usage (your spend and counts by day or month)."""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from nanogen.errors import InvalidInput
from nanogen.http.api.common import MAX_USAGE_DAYS, ok, utc
from nanogen.http.api.models import Envelope, MeOut, UsageBucket, UsageOut, me_out, money
from nanogen.ops.stats import StatsService

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


def build_me_router(services: 'Services', Who: Any) -> APIRouter:
    router = APIRouter(tags=['me'])
    stats = StatsService(services.db)  # the one usage count (the Analytics page reads it too)

    @router.get('/me', response_model=Envelope[MeOut], summary='Who you are')
    async def me(who: Who) -> JSONResponse:
        return ok(me_out(who))

    @router.get('/me/usage', response_model=Envelope[UsageOut], summary='Your spend and counts')
    async def my_usage(who: Who, period: Annotated[Literal['day', 'month'], Query()] = 'day',
                       date_from: Annotated[datetime | None, Query(description='Inclusive; default: 30 days (day) '
                                                                   'or a year (month) before date_to.')] = None,
                       date_to: Annotated[datetime | None, Query(description='Exclusive; default: now.')] = None,
                       ) -> JSONResponse:
        start, end = usage_window(period, date_from, date_to)
        buckets = await stats.usage(who.id, period=period, date_from=start, date_to=end)
        out = [UsageBucket(period_start=b.period_start, prompts=b.prompts, completed=b.completed, failed=b.failed,
                           images=b.images, spend=money(b.spend)) for b in buckets]
        totals = UsageBucket(period_start=start, prompts=sum(b.prompts for b in buckets),
                             completed=sum(b.completed for b in buckets), failed=sum(b.failed for b in buckets),
                             images=sum(b.images for b in buckets), spend=money(sum((b.spend for b in buckets),
                                                                                    start=Decimal(0))))
        return ok(UsageOut(period=period, date_from=start, date_to=end, buckets=out, totals=totals))

    return router


def usage_window(period: str, date_from: datetime | None, date_to: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) in UTC; by default the last 30 days (by day) or year (by month); too long a range is refused."""
    end = utc(date_to, 'date_to') or datetime.now(UTC)
    start = utc(date_from, 'date_from') or end - timedelta(days=30 if period == 'day' else 365)
    if start >= end:
        raise InvalidInput('date_from must be before date_to.', field='date_from')
    if end - start > timedelta(days=MAX_USAGE_DAYS[period]):
        raise InvalidInput(f'The range is too long: at most {MAX_USAGE_DAYS[period]} days by {period}.',
                           field='date_from')
    return start, end
